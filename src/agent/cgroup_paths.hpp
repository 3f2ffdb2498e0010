#pragma once
// Where this process's own cgroups live in the filesystem: the cgroup v2 (unified)
// directory and the cgroup v1 memory controller directory. Worked out from
// /proc/self/cgroup (the path inside each hierarchy) and /proc/self/mountinfo (where each
// hierarchy, or a subtree of it in a container, is mounted).
#include <string>
#include <string_view>

namespace kiln::agent {

struct OwnCgroups {
  std::string unified_dir;    // e.g. /sys/fs/cgroup/system.slice/kiln-agent.service; empty if none
  std::string memory_v1_dir;  // e.g. /sys/fs/cgroup/memory/process_api/<id>; empty if none
};

OwnCgroups find_own_cgroups(std::string_view proc_self_cgroup, std::string_view mountinfo);
OwnCgroups read_own_cgroups();

}  // namespace kiln::agent
