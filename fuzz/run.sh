#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) and runs each for a bounded time.
#   fuzz/run.sh [target...]          all targets when none is named
# Environment:
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_BUILD     build directory (default build/fuzz)
#   FUZZ_JOBS      parallel compile jobs (default 2)
#   FUZZ_BUILD_ONLY=1  only build; FUZZ_NO_BUILD=1  only run (ctest's fuzz.build does the build)
# Each run starts from the committed seeds in fuzz/corpus/<target>/ (never written to) and
# keeps what it discovers in $FUZZ_BUILD/corpus/<target>/. A crash, a sanitizer report, a
# failed property, a leak or a timeout fails the run; the input is saved as
# $FUZZ_BUILD/artifacts/<target>/crash-… and printed with the command that replays it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${FUZZ_BUILD:-$root/build/fuzz}
seconds=${FUZZ_SECONDS:-60}
all=(request kubeconfig template_values template_text log_chunks)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")

command -v clang++ >/dev/null || { echo "fuzz: clang++ is missing (scripts/install-deps.sh installs clang)" >&2; exit 1; }
if [ "${FUZZ_BUILD_ONLY:-0}" = 1 ] || [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
  cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"${FUZZ_JOBS:-2}" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null
fi
[ "${FUZZ_BUILD_ONLY:-0}" = 1 ] && exit 0

status=0
for t in "${targets[@]}"; do
  seeds=$here/corpus/$t
  work=$build/corpus/$t
  artifacts=$build/artifacts/$t
  mkdir -p "$work" "$artifacts"
  log=$build/fuzz_$t.log
  echo "fuzz: $t for ${seconds}s (seeds: $(ls "$seeds" | wc -l))"
  # halt_on_error: the first UBSan report is a failure, like an ASan one.
  if UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
     "$build/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=16384 \
       -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$seeds" >"$log" 2>&1; then
    grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|^#[0-9]+.*DONE' "$log" | tr '\n' ' ' | sed 's/^/fuzz:   /'
    echo
  else
    status=1
    echo "fuzz: $t FAILED; the end of $log:" >&2
    tail -n 60 "$log" >&2
    for crash in "$artifacts"/*; do
      [ -e "$crash" ] || continue
      echo "fuzz: replay with: $build/fuzz_$t $crash" >&2
    done
  fi
done
exit $status
