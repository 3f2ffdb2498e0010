#!/usr/bin/env bash
# SQL text lives in sql/ and src/db/ only: handlers call one typed db:: function each.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
if grep -nEi '"[^"]*\b(select|insert|update|delete)\b[^"]*\b(from|into|set|where)\b' "$ROOT"/handlers/*.cpp; then
  echo "SQL found in handlers/ (above): move it into a kiln_api function and a src/db wrapper" >&2
  exit 1
fi
echo "1 passed, 0 failed"
