#pragma once
// Work every dispatcher pass does besides moving builds, first in each pass, each step in
// its own transaction: enqueueing due schedules (sql/api/schedules_enqueue.sql), queueing
// alert webhook deliveries (collect_alerts), and every maintenance interval (and on the
// first pass of a process) keeping the monthly partitions of infrastructure_usage and
// purging old webhook deliveries. A failing step is logged and counted, never fatal: the
// pass goes on to claim builds, and the next pass retries. Webhooks are *sent* by
// WebhookSender (webhook_sender.hpp), never inside a pass.
#include <chrono>
#include <string>

#include "db/database.hpp"

namespace kiln::dispatch {

struct HousekeepingOptions {
  std::string worker = "kiln-dispatch";                   // recorded on schedule runs
  std::chrono::seconds maintenance_interval{600};         // partitions and delivery purge
  int schedule_batch = 100;                               // schedules per pass
};

struct HousekeepingResult {
  int schedules_enqueued = 0;  // builds submitted by schedules
  int schedule_errors = 0;     // ticks whose template no longer submits
  int alerts_queued = 0;       // webhook deliveries queued
  int partitions_created = 0;
  int partitions_detached = 0;
  int webhooks_delivered = 0;  // --once only: deliveries made after the pass
  int webhooks_failed = 0;
};

// Set once by main before the first pass.
void configure_housekeeping(HousekeepingOptions options);

HousekeepingResult run_housekeeping(db::Database& db);

}  // namespace kiln::dispatch
