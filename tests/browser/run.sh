#!/usr/bin/env bash
# Runs one browser test file (ctest: browser.<name>). Installs playwright-core from
# package-lock.json on first use (npm ci; never a browser download: the tests drive
# Debian's /usr/bin/chromium). Exits 77 (ctest: skipped) when Node.js is not installed.
set -euo pipefail
DIR=$(cd "$(dirname "$0")" && pwd)
if ! command -v node >/dev/null; then
  echo "browser tests need Node.js (node and npm); skipping $1"
  exit 77
fi
[ -x /usr/bin/chromium ] || { echo "/usr/bin/chromium is missing: run scripts/install-deps.sh" >&2; exit 1; }
# Two test files may start at once: one npm ci at a time.
flock "$DIR/.npm-install.lock" bash -c \
  "cd '$DIR' && { [ -d node_modules/playwright-core ] || npm ci --no-audit --no-fund --loglevel=error; }"
cd "$DIR"
exec node --test --test-reporter=spec "$1"
