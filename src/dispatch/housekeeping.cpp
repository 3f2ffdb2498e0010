#include "dispatch/housekeeping.hpp"

namespace kiln::dispatch {

HousekeepingResult run_housekeeping(db::Database&) { return {}; }

}  // namespace kiln::dispatch
