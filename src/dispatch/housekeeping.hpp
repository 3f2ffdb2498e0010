#pragma once
// Work every dispatcher pass does besides moving builds: enqueueing due schedules,
// maintaining usage partitions, delivering alert webhooks. Runs first in each pass.
#include "db/database.hpp"

namespace kiln::dispatch {

struct HousekeepingResult {
  int schedules_enqueued = 0;
  int webhooks_delivered = 0;
  int webhooks_failed = 0;
};

HousekeepingResult run_housekeeping(db::Database& db);

}  // namespace kiln::dispatch
