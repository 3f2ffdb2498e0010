#include "agent/scratch_dir.hpp"

#include <stdlib.h>

#include <cerrno>
#include <string>
#include <system_error>

#include "log.hpp"

namespace kiln::agent {

namespace fs = std::filesystem;

ScratchDir::ScratchDir(const fs::path& parent) {
  std::string pattern = (parent / "build-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr)
    throw std::system_error(errno, std::generic_category(), "mkdtemp " + pattern);
  path_ = pattern;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
  if (!ec) return;
  // Builds leave read-only directories behind (Go's module cache does): open them up, retry.
  for (auto it = fs::recursive_directory_iterator(path_, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_directory(ec)) fs::permissions(it->path(), fs::perms::owner_all, fs::perm_options::add, ec);
  }
  ec.clear();
  fs::remove_all(path_, ec);
  if (ec) kiln::log("warn", "cannot remove a scratch directory", {{"dir", path_.string()}, {"error", ec.message()}});
}

}  // namespace kiln::agent
