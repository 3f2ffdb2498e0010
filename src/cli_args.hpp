#pragma once
// Minimal "--name value" argument reading for the binaries, with environment fallbacks.
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

class Args {
 public:
  Args(int argc, char** argv, int first) : args_(argv + first, argv + argc) {}

  // The value of --name, else the environment variable env (if given), else fallback.
  std::string get(std::string_view name, const char* env, std::string fallback) {
    for (std::size_t i = 0; i < args_.size(); ++i) {
      if (args_[i] == "--" + std::string(name)) {
        if (i + 1 >= args_.size()) throw std::invalid_argument("--" + std::string(name) + " needs a value");
        used_.push_back(i);
        used_.push_back(i + 1);
        return args_[i + 1];
      }
    }
    if (env) {
      if (const char* value = std::getenv(env); value && *value) return value;
    }
    return fallback;
  }
  bool flag(std::string_view name) {
    for (std::size_t i = 0; i < args_.size(); ++i) {
      if (args_[i] == "--" + std::string(name)) {
        used_.push_back(i);
        return true;
      }
    }
    return false;
  }
  // Throws for any argument no get()/flag() consumed.
  void finish() const {
    for (std::size_t i = 0; i < args_.size(); ++i) {
      bool used = false;
      for (auto u : used_) used = used || u == i;
      if (!used) throw std::invalid_argument("unknown argument " + args_[i]);
    }
  }

 private:
  std::vector<std::string> args_;
  std::vector<std::size_t> used_;
};

}  // namespace kiln
