#pragma once
// One bounded dispatcher pass: reap expired leases, time out runs past their budget, then
// claim queued builds in batches and hand each to its back-end. Each build is planned and
// handed off in its own transaction after the claim committed, so a dispatcher killed at
// any point loses no build: an unfinished hand-off is a lease that expires and is reaped.
#include <chrono>
#include <string>

#include "db/database.hpp"
#include "dispatch/housekeeping.hpp"
#include "dispatch/render.hpp"

namespace kiln::dispatch {

class KubernetesBackend;

struct PassOptions {
  std::string worker;       // this dispatcher's name in leases and events
  int batch = 50;           // builds per claim
  int max_builds = 1000;    // bound on one pass
  int lease_seconds = 60;   // the claim's lease until hand-off
  std::chrono::seconds pause_after_claim{0};  // fault injection for crash tests only
  KubernetesBackend* kubernetes = nullptr;    // null: builds planned onto Kubernetes fail
};

struct PassResult {
  int reaped = 0;
  int timed_out = 0;
  int claimed = 0;
  int offered = 0;
  int failed = 0;  // builds that can never run (planning or rendering refused them)
  HousekeepingResult housekeeping;
};

PassResult run_pass(db::Database& db, const PassOptions& options, const BuildNodeRenderer& renderer);

}  // namespace kiln::dispatch
