#!/usr/bin/env bash
# Every error code the API can answer with is listed in docs/errors.md: the codes raised
# in SQL (kiln_api.raise_error(status, 'code', …)) and in C++ (Error(Errc::…, "code", …)).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
codes=$( {
  grep -rhoE "raise_error\([0-9]+, '[a-z_]+'" "$ROOT/sql/api" | sed -E "s/.*'([a-z_]+)'/\1/"
  grep -rhoE "Error\(Errc::k[A-Za-z]+, \"[a-z_]+\"" "$ROOT/src" "$ROOT/handlers" | sed -E 's/.*"([a-z_]+)"/\1/'
} | sort -u)
missing=0
for code in $codes; do
  if ! grep -q "^| \`$code\` |" "$ROOT/docs/errors.md"; then
    echo "error code $code is not documented in docs/errors.md"
    missing=$((missing + 1))
  fi
done
total=$(echo "$codes" | wc -w)
echo "$((total - missing)) passed, $missing failed"
[ "$missing" -eq 0 ]
