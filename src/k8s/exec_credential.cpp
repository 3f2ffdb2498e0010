#include "k8s/exec_credential.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <nlohmann/json.hpp>

#include "k8s/base64.hpp"

extern char** environ;

namespace kiln::k8s {

namespace {

constexpr std::size_t kMaxStdout = 1 << 20;
constexpr std::size_t kMaxStderr = 64 << 10;

bool allowed(const std::vector<std::string>& list, const std::string& command) {
  return std::find(list.begin(), list.end(), command) != list.end();
}

// The last non-empty line of a plugin's stderr, shortened: what a person needs to fix it.
std::string last_line(const std::string& text) {
  std::size_t end = text.find_last_not_of(" \n\r\t");
  if (end == std::string::npos) return {};
  std::size_t begin = text.rfind('\n', end);
  begin = begin == std::string::npos ? 0 : begin + 1;
  std::string line = text.substr(begin, end - begin + 1);
  if (line.size() > 300) line = line.substr(0, 300) + "…";
  return line;
}

struct Output {
  std::string out;
  std::string err;
  int status = -1;
  bool timed_out = false;
};

Output spawn(const ExecConfig& exec, const std::string& info, std::chrono::seconds timeout) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    const std::string entry(*e);
    const std::string name = entry.substr(0, entry.find('='));
    bool overridden = name == "KUBERNETES_EXEC_INFO";
    for (const auto& [k, v] : exec.env) overridden = overridden || k == name;
    if (!overridden) env_strings.push_back(entry);
  }
  for (const auto& [k, v] : exec.env) env_strings.push_back(k + "=" + v);
  env_strings.push_back("KUBERNETES_EXEC_INFO=" + info);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> arg_strings{exec.command};
  arg_strings.insert(arg_strings.end(), exec.args.begin(), exec.args.end());
  std::vector<char*> argv;
  for (auto& s : arg_strings) argv.push_back(s.data());
  argv.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) throw ExecError("cannot create a pipe for the exec plugin");
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    throw ExecError("cannot create a pipe for the exec plugin");
  }
  const pid_t pid = fork();
  if (pid < 0) throw ExecError("cannot start the exec plugin (fork failed)");
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, 0);
    dup2(out_pipe[1], 1);
    dup2(err_pipe[1], 2);
    setpgid(0, 0);
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  Output result;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_fds = 2;
  char buf[8192];
  while (open_fds > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      break;
    }
    if (poll(fds, 2, static_cast<int>(left.count())) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      std::string& target = i == 0 ? result.out : result.err;
      const std::size_t cap = i == 0 ? kMaxStdout : kMaxStderr;
      if (target.size() < cap) target.append(buf, static_cast<std::size_t>(std::min<ssize_t>(n, static_cast<ssize_t>(cap - target.size()))));
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) close(f.fd);
  }
  if (result.timed_out) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return result;
}

}  // namespace

std::vector<std::string> default_exec_allow_list() {
  return {"aws", "aws-iam-authenticator", "gke-gcloud-auth-plugin", "kubelogin", "oci"};
}

std::optional<std::chrono::system_clock::time_point> parse_rfc3339(const std::string& text) {
  std::tm tm{};
  const char* rest = strptime(text.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest) return std::nullopt;
  if (*rest == '.') {
    ++rest;
    while (*rest >= '0' && *rest <= '9') ++rest;
  }
  long offset = 0;
  if (*rest == 'Z' || *rest == 'z') {
    ++rest;
  } else if (*rest == '+' || *rest == '-') {
    const int sign = *rest == '-' ? -1 : 1;
    int hh = 0;
    int mm = 0;
    if (std::sscanf(rest + 1, "%2d:%2d", &hh, &mm) != 2) return std::nullopt;
    offset = sign * (hh * 3600L + mm * 60L);
    rest += 6;
  } else {
    return std::nullopt;
  }
  if (*rest != '\0') return std::nullopt;
  const time_t t = timegm(&tm) - offset;
  return std::chrono::system_clock::from_time_t(t);
}

ExecCredential parse_exec_output(const std::string& stdout_text, const std::string& api_version) {
  const auto j = nlohmann::json::parse(stdout_text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw ExecError("the exec plugin did not print an ExecCredential (JSON)");
  if (j.value("kind", "") != "ExecCredential") throw ExecError("the exec plugin printed JSON that is not an ExecCredential");
  if (j.value("apiVersion", "") != api_version) {
    throw ExecError("the exec plugin answered apiVersion " + j.value("apiVersion", "(none)") +
                    ", but the kubeconfig asks for " + api_version);
  }
  if (!j.contains("status") || !j["status"].is_object()) throw ExecError("the exec plugin's ExecCredential has no status");
  const auto& s = j["status"];
  ExecCredential c;
  c.token = s.value("token", "");
  c.client_cert_pem = s.value("clientCertificateData", "");
  c.client_key_pem = s.value("clientKeyData", "");
  if (c.client_cert_pem.empty() != c.client_key_pem.empty()) {
    throw ExecError("the exec plugin returned a client certificate or key without the other");
  }
  if (c.token.empty() && c.client_cert_pem.empty()) {
    throw ExecError("the exec plugin returned neither a token nor a client certificate");
  }
  if (s.contains("expirationTimestamp") && s["expirationTimestamp"].is_string()) {
    c.expires = parse_rfc3339(s["expirationTimestamp"].get<std::string>());
    if (!c.expires) throw ExecError("the exec plugin's expirationTimestamp is not an RFC 3339 time");
  }
  return c;
}

std::string exec_info_json(const Credentials& c) {
  nlohmann::json spec = {{"interactive", false}};
  if (c.exec && c.exec->provide_cluster_info) {
    nlohmann::json cluster = {{"server", c.server}, {"insecure-skip-tls-verify", c.insecure_skip_tls_verify}};
    if (!c.ca_pem.empty()) cluster["certificate-authority-data"] = base64_encode(c.ca_pem);
    if (!c.tls_server_name.empty()) cluster["tls-server-name"] = c.tls_server_name;
    if (!c.proxy_url.empty()) cluster["proxy-url"] = c.proxy_url;
    spec["cluster"] = cluster;
  }
  return nlohmann::json{{"apiVersion", c.exec ? c.exec->api_version : "client.authentication.k8s.io/v1"},
                        {"kind", "ExecCredential"},
                        {"spec", spec}}
      .dump();
}

ExecCredential ExecCredentialCache::run(const Credentials& c) {
  const ExecConfig& exec = *c.exec;
  if (!allowed(policy_.allowed, exec.command)) {
    throw ExecError("exec plugin \"" + exec.command +
                    "\" is not allowed on this dispatcher; add it to kiln-dispatch --exec-allow");
  }
  ++runs_;
  const Output out = spawn(exec, exec_info_json(c), policy_.timeout);
  if (out.timed_out) {
    throw ExecError("exec plugin \"" + exec.command + "\" did not finish within " +
                    std::to_string(policy_.timeout.count()) + " s (it may be waiting for an interactive login)");
  }
  if (out.status == 127 && out.out.empty()) {
    std::string hint = exec.install_hint.empty() ? "" : "; " + last_line(exec.install_hint);
    throw ExecError("exec plugin \"" + exec.command + "\" was not found on the dispatcher host" + hint);
  }
  if (out.status != 0) {
    const std::string why = last_line(out.err);
    throw ExecError("exec plugin \"" + exec.command + "\" failed with exit status " + std::to_string(out.status) +
                    (why.empty() ? "" : ": " + why));
  }
  return parse_exec_output(out.out, exec.api_version);
}

ExecCredential ExecCredentialCache::get(const std::string& key, const Credentials& credentials,
                                        std::optional<std::uint64_t> stale) {
  if (!credentials.exec) throw ExecError("the credentials have no exec plugin");
  std::lock_guard lock(mutex_);
  if (auto it = cache_.find(key); it != cache_.end()) {
    const ExecCredential& cached = it->second;
    const bool fresh = !cached.expires || std::chrono::system_clock::now() + policy_.skew < *cached.expires;
    // After a 401 with generation g: run again only if the cached one is still g (another
    // caller may have rotated it already).
    const bool rejected = stale && *stale == cached.generation;
    if (fresh && !rejected) return cached;
  }
  ExecCredential fresh = run(credentials);
  fresh.generation = ++generation_;
  cache_[key] = fresh;
  return fresh;
}

int ExecCredentialCache::runs() const {
  std::lock_guard lock(mutex_);
  return runs_;
}

}  // namespace kiln::k8s
