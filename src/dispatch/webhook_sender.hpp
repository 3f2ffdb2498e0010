#pragma once
// Delivers alert webhooks (sql/api/webhooks_delivery.sql) outside the dispatcher's passes,
// so that a slow or dead receiver never delays dispatching: in --loop mode on a thread of
// its own with its own database connection; in --once mode after the pass, within a time
// budget. Each round claims up to a batch of due deliveries, POSTs them all in parallel
// (libcurl multi) each with the webhook_timeout_seconds setting as its limit, and records
// every attempt; failures are retried with backoff by later rounds, from any dispatcher.
//
// Each request carries
//   Content-Type: application/json, the JSON payload as the body
//   X-Kiln-Event: build.failed | node.offline | provider.unhealthy | queue.wait_exceeded | webhook.test
//   X-Kiln-Delivery: the delivery id (the same for every retry)   X-Kiln-Attempt: 1, 2, …
//   X-Kiln-Timestamp: Unix seconds of this attempt
//   X-Kiln-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" keyed by the secret>
// Redirects are not followed; any 2xx is success.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "db/database.hpp"

namespace kiln::dispatch {

// Lowercase hex HMAC-SHA256 of data keyed by key.
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// The X-Kiln-Signature value of a body sent at timestamp: "sha256=" + hmac(secret, "<ts>.<body>").
std::string webhook_signature(std::string_view secret, std::string_view timestamp, std::string_view body);

struct WebhookRound {
  int attempted = 0;
  int delivered = 0;
  int failed = 0;  // attempts that failed (retried later, or given up)
};

class WebhookSender {
 public:
  WebhookSender(std::string conninfo, std::string worker, int batch = 20);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // One round: claim, send in parallel, record.
  WebhookRound run_round();
  // Rounds until none is due or the deadline passes (--once).
  WebhookRound drain(std::chrono::steady_clock::time_point deadline);
  // Rounds on a background thread until stop() (--loop); between empty rounds it waits up
  // to a second, or until wake().
  void start();
  void wake();
  void stop();

 private:
  void loop();

  db::Database db_;
  std::string worker_;
  int batch_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool woken_ = false;
  std::atomic<bool> stop_{false};
};

}  // namespace kiln::dispatch
