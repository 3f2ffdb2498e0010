#pragma once
// Kubernetes API errors: the Status object every non-2xx answer of the API server carries
// ({"kind":"Status","reason":"AlreadyExists","message":…,"details":{"causes":[…]}}),
// parsed defensively because proxies in front (Rancher, cloud load balancers) answer with
// other bodies.
#include <stdexcept>
#include <string>
#include <vector>

namespace kiln::k8s {

struct StatusCause {
  std::string reason;
  std::string message;
  std::string field;
};

struct KubeError : std::runtime_error {
  long status = 0;            // HTTP status; 0 when no answer came (connection, TLS, timeout)
  std::string reason;         // Status reason (NotFound, AlreadyExists, …) or the transport failure
  std::string details_name;   // details.name: empty on a 404 means the resource type is unknown
  std::vector<StatusCause> causes;
  long retry_after_seconds = 0;

  KubeError(long http_status, std::string why, const std::string& message)
      : std::runtime_error(message), status(http_status), reason(std::move(why)) {}

  // Worth retrying later: no answer, 429, 5xx (the webhook or API server was down).
  bool transient() const { return status == 0 || status == 429 || status >= 500; }
};

// The error for an answer with this status and body. what names the call, e.g.
// "create PipelineRun kiln-…"; the message reads "<what>: <Status message> (<reason>, HTTP n)".
KubeError status_error(long http_status, const std::string& body, const std::string& what);

}  // namespace kiln::k8s
