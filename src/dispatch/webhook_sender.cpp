#include "dispatch/webhook_sender.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <memory>
#include <mutex>
#include <vector>

#include "db/dispatch_api.hpp"
#include "db/ops_api.hpp"
#include "dispatch/metrics_registry.hpp"
#include "log.hpp"

namespace kiln::dispatch {

namespace {

constexpr int kClaimSlackSeconds = 30;  // a claim outlives the attempt's own time limit by this

std::once_flag g_curl_init;

// Discards the receiver's answer (only the status matters), reading at most 64 KiB of it.
size_t discard(char*, size_t size, size_t count, void* seen) {
  auto& total = *static_cast<size_t*>(seen);
  total += size * count;
  return total > 65536 ? 0 : size * count;
}

struct Transfer {
  db::Delivery delivery;
  CURL* easy = nullptr;
  curl_slist* headers = nullptr;
  size_t received = 0;
  std::chrono::steady_clock::time_point started;
  ~Transfer() {
    if (headers) curl_slist_free_all(headers);
    if (easy) curl_easy_cleanup(easy);
  }
};

std::unique_ptr<Transfer> prepare(db::Delivery delivery, const std::string& timestamp) {
  auto t = std::make_unique<Transfer>();
  t->delivery = std::move(delivery);
  const auto& d = t->delivery;
  t->easy = curl_easy_init();
  const std::string header_lines[] = {
      "Content-Type: application/json", "User-Agent: kiln-webhooks/1", "Expect:",
      "X-Kiln-Event: " + d.event, "X-Kiln-Delivery: " + std::to_string(d.id),
      "X-Kiln-Attempt: " + std::to_string(d.attempt), "X-Kiln-Timestamp: " + timestamp,
      "X-Kiln-Signature: " + webhook_signature(d.secret, timestamp, d.body)};
  for (const auto& h : header_lines) t->headers = curl_slist_append(t->headers, h.c_str());
  const long timeout_ms = static_cast<long>(d.timeout_seconds * 1000);
  curl_easy_setopt(t->easy, CURLOPT_URL, d.url.c_str());
  curl_easy_setopt(t->easy, CURLOPT_POST, 1L);
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, d.body.c_str());
  curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE, static_cast<long>(d.body.size()));
  curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->headers);
  curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, std::min(timeout_ms, 3000L));
  curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t->easy, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, &t->received);
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, t.get());
  return t;
}

}  // namespace

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), mac, &length);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += kHex[mac[i] >> 4];
    out += kHex[mac[i] & 15];
  }
  return out;
}

std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body) {
  std::string signed_text;
  signed_text.reserve(timestamp.size() + 1 + body.size());
  signed_text.append(timestamp).append(".").append(body);
  return "sha256=" + hmac_sha256_hex(secret, signed_text);
}

WebhookSender::WebhookSender(std::string conninfo, std::string worker, int batch)
    : db_(std::move(conninfo), db::prepare_dispatch_statements), worker_(std::move(worker)), batch_(batch) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

WebhookSender::~WebhookSender() { stop(); }

WebhookRound WebhookSender::run_round() {
  WebhookRound round;
  const auto claimed = db_.with_tx([&](pqxx::work& tx) {
    const int lease = static_cast<int>(db::setting(tx, "webhook_timeout_seconds")) + kClaimSlackSeconds;
    return db::claim_webhook_deliveries(tx, worker_, batch_, lease);
  });
  DispatchMetrics::instance().set_connection("webhooks", db_.connected());
  if (claimed.empty()) return round;

  const std::string timestamp = std::to_string(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  CURLM* multi = curl_multi_init();
  std::vector<std::unique_ptr<Transfer>> transfers;
  for (const auto& d : claimed) {
    transfers.push_back(prepare(d, timestamp));
    transfers.back()->started = std::chrono::steady_clock::now();
    curl_multi_add_handle(multi, transfers.back()->easy);
  }
  int running = 0;
  do {
    curl_multi_perform(multi, &running);
    if (running > 0) curl_multi_poll(multi, nullptr, 0, 200, nullptr);
    int left = 0;
    while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
      if (msg->msg != CURLMSG_DONE) continue;
      Transfer* t = nullptr;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
      long code = 0;
      curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &code);
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t->started).count();
      std::optional<int> status;
      std::optional<std::string> error;
      if (msg->data.result == CURLE_OK) {
        status = static_cast<int>(code);
      } else {
        error = curl_easy_strerror(msg->data.result);
      }
      ++round.attempted;
      std::string outcome;
      try {
        outcome = db_.with_tx([&](pqxx::work& tx) {
          return db::record_webhook_delivery(tx, t->delivery.id, t->delivery.attempt, worker_, status, error,
                                             static_cast<int>(seconds * 1000));
        });
      } catch (const std::exception& e) {
        outcome = "stale";  // the claim expires and the delivery is retried
        log("warn", "webhook: recording an attempt failed", {{"delivery", std::to_string(t->delivery.id)},
                                                            {"error", e.what()}});
      }
      const bool ok = status && *status >= 200 && *status < 300;
      ok ? ++round.delivered : ++round.failed;
      DispatchMetrics::instance().observe_delivery(
          outcome == "delivered" ? "delivered" : outcome == "pending" ? "retrying" : outcome, seconds);
      if (!ok) {
        log("warn", "webhook delivery failed",
            {{"delivery", std::to_string(t->delivery.id)}, {"event", t->delivery.event},
             {"attempt", std::to_string(t->delivery.attempt)},
             {"status", status ? std::to_string(*status) : "none"}, {"error", error.value_or("")},
             {"now", outcome}});
      }
      curl_multi_remove_handle(multi, msg->easy_handle);
    }
  } while (running > 0);
  transfers.clear();
  curl_multi_cleanup(multi);
  return round;
}

WebhookRound WebhookSender::drain(std::chrono::steady_clock::time_point deadline) {
  WebhookRound total;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto round = run_round();
    total.attempted += round.attempted;
    total.delivered += round.delivered;
    total.failed += round.failed;
    if (round.attempted == 0) break;
  }
  return total;
}

void WebhookSender::start() {
  thread_ = std::thread([this] { loop(); });
}

void WebhookSender::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  cv_.notify_one();
}

void WebhookSender::stop() {
  stop_ = true;
  wake();
  if (thread_.joinable()) thread_.join();
}

void WebhookSender::loop() {
  while (!stop_) {
    WebhookRound round;
    try {
      round = run_round();
    } catch (const std::exception& e) {
      DispatchMetrics::instance().set_connection("webhooks", db_.connected());
      log("warn", "webhook round failed; retrying", {{"error", e.what()}});
    }
    if (round.attempted > 0) continue;
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, std::chrono::seconds(1), [this] { return woken_ || stop_.load(); });
    woken_ = false;
  }
}

}  // namespace kiln::dispatch
