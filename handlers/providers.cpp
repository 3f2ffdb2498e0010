// /api/v1/admin/providers: Kubernetes clusters from a kubeconfig. The kubeconfig is parsed
// and encrypted here (AES-256-GCM under the master key of KILN_MASTER_KEY_FILE) and never
// reaches SQL, a response, a log line or an error message: only its server, credential kind
// and context are kept in clear. Only kiln-dispatch decrypts, so POST …/test asks a
// dispatcher to run the checks and waits for its answer.
#include <openssl/crypto.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "db/k8s_api.hpp"
#include "http/app.hpp"
#include "http/draining.hpp"
#include "json_fields.hpp"
#include "k8s/crypto.hpp"
#include "k8s/kubeconfig.hpp"
#include "path_params.hpp"
#include "routes.hpp"

namespace kiln::handlers {

namespace {

constexpr auto kCheckWait = std::chrono::seconds(25);

void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

std::string hex(const std::string& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

k8s::KeyRing master_keys() {
  const char* file = std::getenv("KILN_MASTER_KEY_FILE");
  if (!file || !*file) {
    throw Error(Errc::kUnavailable, "encryption_unavailable",
                "credential encryption is not configured on this server: set KILN_MASTER_KEY_FILE for kiln-api");
  }
  try {
    return k8s::KeyRing::load(file);
  } catch (const k8s::CryptoError& e) {
    throw Error(Errc::kUnavailable, "encryption_unavailable", "the master key cannot be used; see the server log",
                "", e.what());
  }
}

// Takes kubeconfig (and context) out of body and returns them parsed and sealed for the
// provider id. Without a kubeconfig in body: nullopt.
std::optional<db::SealedCredentials> seal_kubeconfig(nlohmann::json& body, const std::string& provider_id) {
  if (body.contains("context") && !body.contains("kubeconfig")) {
    throw Error(Errc::kBadRequest, "invalid_value", "context is only read together with a kubeconfig", "context");
  }
  if (!body.contains("kubeconfig")) return std::nullopt;
  std::string text = string_field(body, "kubeconfig");
  body.erase("kubeconfig");
  k8s::KubeconfigOptions options;
  if (body.contains("context")) {
    options.context = string_field(body, "context");
    body.erase("context");
  }
  if (text.size() > 512 * 1024) throw Error(Errc::kBadRequest, "invalid_value", "kubeconfig is larger than 512 KiB", "kubeconfig");
  k8s::Credentials credentials;
  try {
    credentials = k8s::parse_kubeconfig(text, options);
  } catch (const k8s::KubeconfigError& e) {
    wipe(text);
    throw Error(Errc::kBadRequest, "invalid_kubeconfig", std::string("kubeconfig: ") + e.what(), "kubeconfig");
  }
  wipe(text);
  if (!body.contains("namespace") && !credentials.namespace_name.empty()) body["namespace"] = credentials.namespace_name;
  std::string plain = k8s::credentials_to_json(credentials);
  const k8s::KeyRing keys = master_keys();
  db::SealedCredentials sealed;
  try {
    const k8s::Sealed s = keys.seal(plain, k8s::credentials_aad(provider_id));
    sealed.ciphertext_hex = hex(s.blob);
    sealed.key_id = s.key_id;
  } catch (const k8s::CryptoError& e) {
    wipe(plain);
    throw Error(Errc::kInternal, "internal", "encrypting the credentials failed", "", e.what());
  }
  sealed.fingerprint = k8s::fingerprint(plain);
  wipe(plain);
  sealed.summary_json = nlohmann::json{{"api_server", credentials.server},
                                       {"kind", k8s::auth_kind_name(credentials.auth)},
                                       {"context", credentials.context}}
                            .dump();
  return sealed;
}

http::Response create(const http::Call& c) {
  nlohmann::json body = object_body(c.request);
  const std::string id = k8s::random_uuid();
  if (!body.contains("kubeconfig")) {
    throw Error(Errc::kBadRequest, "missing_field", "kubeconfig is required (the cluster's kubeconfig as text)",
                "kubeconfig");
  }
  const auto sealed = seal_kubeconfig(body, id);
  return http::Response::json(201, db::create_provider(c.tx, id, body.dump(), *sealed));
}

http::Response update(const http::Call& c) {
  const std::string& id = uuid_param(c.params[0], "id");
  nlohmann::json body = object_body(c.request);
  const auto sealed = seal_kubeconfig(body, id);
  return http::Response::json(200, db::update_provider(c.tx, id, body.dump(), sealed));
}

// Waits for a notification up to the slice, in one-second steps so that draining ends it.
void wait_a_little(db::Database& db, std::chrono::steady_clock::time_point until) {
  while (!http::draining() && std::chrono::steady_clock::now() < until) {
    if (!db.wait_for_notifications(std::chrono::seconds(1)).empty()) return;
  }
}

// POST …/test: asks a dispatcher to check the provider and waits up to kCheckWait for the
// answer: 200 with each check, or 202 while no dispatcher has answered.
http::Response test(const http::Session& s) {
  const std::string id = uuid_param(s.params[0], "id");
  db::Listening done(s.db, "kiln_provider_check_done");
  const auto requested = nlohmann::json::parse(s.with_tx([&](pqxx::work& tx) { return db::request_provider_check(tx, id); }));
  const std::string request_id = requested["request_id"];
  const auto deadline = std::chrono::steady_clock::now() + kCheckWait;
  for (;;) {
    auto result = nlohmann::json::parse(
        s.with_tx([&](pqxx::work& tx) { return db::provider_check_result(tx, id, request_id); }));
    if (result["status"] == "done") return http::Response::json(200, result.dump());
    if (std::chrono::steady_clock::now() >= deadline || http::draining()) {
      result["message"] = "no dispatcher has answered yet (kiln-dispatch runs the checks: it alone holds the master "
                          "key); GET the provider later for its health";
      return http::Response::json(202, result.dump());
    }
    wait_a_little(s.db, std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(2)));
  }
}

}  // namespace

void register_provider_routes(http::Router& router) {
  router.add({"POST", "/api/v1/admin/providers", "infrastructure:configure", create, {}});
  router.add({"GET", "/api/v1/admin/providers", "infrastructure:monitor", [](const http::Call& c) {
                return http::Response::json(200, db::list_providers(c.tx));
              }, {}});
  router.add({"GET", "/api/v1/admin/providers/{id}", "infrastructure:monitor", [](const http::Call& c) {
                return http::Response::json(200, db::get_provider(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"PATCH", "/api/v1/admin/providers/{id}", "infrastructure:manage", update, {}});
  router.add({"DELETE", "/api/v1/admin/providers/{id}", "infrastructure:manage", [](const http::Call& c) {
                return http::Response::json(200, db::delete_provider(c.tx, uuid_param(c.params[0], "id")));
              }, {}});
  router.add({"POST", "/api/v1/admin/providers/{id}/test", "infrastructure:configure", {}, test});
}

}  // namespace kiln::handlers
