#pragma once
// A fresh directory for one build (mkdtemp under the work dir), removed with everything
// in it when the object goes away.
#include <filesystem>

namespace kiln::agent {

class ScratchDir {
 public:
  explicit ScratchDir(const std::filesystem::path& parent);  // throws std::system_error
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace kiln::agent
