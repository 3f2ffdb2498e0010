#include "agent/cgroup_paths.hpp"

#include <fstream>
#include <sstream>
#include <vector>

namespace kiln::agent {

namespace {

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) return parts;
    start = end + 1;
  }
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_octal(std::string_view field) {
  const auto is_octal = [&](std::size_t k) { return k < field.size() && field[k] >= '0' && field[k] <= '7'; };
  std::string out;
  for (std::size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && is_octal(i + 1) && is_octal(i + 2) && is_octal(i + 3)) {
      out.push_back(static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0')));
      i += 3;
    } else {
      out.push_back(field[i]);
    }
  }
  return out;
}

// The directory for cgroup_path of a hierarchy mounted at mount_point whose root is mount_root.
std::string join_mount(const std::string& mount_point, const std::string& mount_root, std::string_view cgroup_path) {
  if (mount_root != "/") {
    if (cgroup_path.substr(0, mount_root.size()) != mount_root) return {};  // outside what is mounted
    cgroup_path.remove_prefix(mount_root.size());
  }
  if (cgroup_path == "/") cgroup_path = {};
  return mount_point + std::string(cgroup_path);
}

struct Mount {
  std::string root;
  std::string point;
};

}  // namespace

OwnCgroups find_own_cgroups(std::string_view proc_self_cgroup, std::string_view mountinfo) {
  std::string unified_path, memory_path;  // paths inside each hierarchy
  bool have_unified = false, have_memory = false;
  for (std::string_view line : split(proc_self_cgroup, '\n')) {
    // hierarchy-id:controller-list:path
    const auto first = line.find(':');
    const auto second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) continue;
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string_view path = line.substr(second + 1);
    if (line.substr(0, first) == "0" && controllers.empty()) {
      unified_path = path;
      have_unified = true;
    }
    for (std::string_view c : split(controllers, ',')) {
      if (c == "memory") {
        memory_path = path;
        have_memory = true;
      }
    }
  }

  Mount unified_mount, memory_mount;
  for (std::string_view line : split(mountinfo, '\n')) {
    const auto fields = split(line, ' ');
    std::size_t dash = 0;
    while (dash < fields.size() && fields[dash] != "-") ++dash;
    if (dash < 5 || dash + 3 >= fields.size()) continue;
    const std::string_view fstype = fields[dash + 1];
    const Mount mount{unescape_octal(fields[3]), unescape_octal(fields[4])};
    if (fstype == "cgroup2" && unified_mount.point.empty()) unified_mount = mount;
    if (fstype == "cgroup" && memory_mount.point.empty()) {
      for (std::string_view option : split(fields[dash + 3], ',')) {
        if (option == "memory") memory_mount = mount;
      }
    }
  }

  OwnCgroups own;
  if (have_unified && !unified_mount.point.empty())
    own.unified_dir = join_mount(unified_mount.point, unified_mount.root, unified_path);
  if (have_memory && !memory_mount.point.empty())
    own.memory_v1_dir = join_mount(memory_mount.point, memory_mount.root, memory_path);
  return own;
}

OwnCgroups read_own_cgroups() {
  const auto slurp = [](const char* path) {
    std::ifstream in(path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  return find_own_cgroups(slurp("/proc/self/cgroup"), slurp("/proc/self/mountinfo"));
}

}  // namespace kiln::agent
