#!/usr/bin/env bash
# package.debs: builds the Debian packages from the build tree (KILN_BUILD_DIR), runs lintian
# (any E: fails), installs them on this machine with dpkg -i, checks what they installed, then
# purges them and puts back what the installation changed (the kiln user, nginx's logs).
# Services are never started: policy-rc.d forbids it (made for the run if missing) and the
# maintainer scripts start nothing without systemd. The database it migrates is a throwaway
# cluster on a free port. Needs root.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=$(realpath -m "${KILN_BUILD_DIR:-$SRC/build}")
TREE=$BUILD/package-tree
PACKAGES=(kiln-agent kiln-dispatch kiln-api kiln kiln-common)
WORK=$(mktemp -d /tmp/kiln-package-test.XXXXXX)
chmod 755 "$WORK"
failures=0

say() { echo "package.debs: $*"; }
fail() { echo "package.debs: FAIL: $*" >&2; failures=$((failures + 1)); }
check() {  # check DESCRIPTION COMMAND...: runs COMMAND, counts a failure if it fails
  local what=$1; shift
  if "$@" >"$WORK/check.out" 2>&1; then say "ok: $what"; else fail "$what"; sed 's/^/    /' "$WORK/check.out" >&2; fi
}

[ "$(id -u)" = 0 ] || { echo "package.debs: needs root (dpkg -i)" >&2; exit 1; }
for p in "${PACKAGES[@]}"; do
  if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q installed; then
    echo "package.debs: $p is already installed on this machine; purge it first" >&2
    exit 1
  fi
done

# What the run may change, to put it back at the end.
had_user=0; getent passwd kiln >/dev/null && had_user=1
had_group=0; getent group kiln >/dev/null && had_group=1
had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
new_logs=()
for log in /var/log/nginx/kiln-access.log /var/log/nginx/kiln-error.log; do [ -e "$log" ] || new_logs+=("$log"); done
PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

dpkg_retry() {  # dpkg waits for no lock: retry while another dpkg/apt holds it
  local i
  for i in $(seq 60); do
    if dpkg "$@" >"$WORK/dpkg.log" 2>&1; then return 0; fi
    grep -q "lock" "$WORK/dpkg.log" || { cat "$WORK/dpkg.log" >&2; return 1; }
    sleep 2
  done
  cat "$WORK/dpkg.log" >&2; return 1
}

cleanup() {
  set +e
  [ -f "$WORK/nginx/nginx.pid" ] && kill "$(cat "$WORK/nginx/nginx.pid")" 2>/dev/null
  [ -n "${api_pid:-}" ] && kill "$api_pid" 2>/dev/null
  "$SRC/scripts/pg.sh" stop "$WORK/pg" >/dev/null 2>&1
  local installed=()
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed\|config-files\|half" && installed+=("$p")
  done
  [ ${#installed[@]} -gt 0 ] && dpkg_retry --purge "${installed[@]}"
  if [ $had_user = 0 ] && getent passwd kiln >/dev/null; then userdel kiln; fi
  if [ $had_group = 0 ] && getent group kiln >/dev/null; then groupdel kiln; fi
  [ $had_policy = 0 ] && rm -f /usr/sbin/policy-rc.d
  for log in "${new_logs[@]}"; do rm -f "$log"; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# --- build ---------------------------------------------------------------------------------
started=$(date +%s)
say "building the packages in $TREE"
cmake -S "$SRC" -B "$TREE" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_DATA_DIR=/usr/share/kiln \
  -DBUILD_TESTING=OFF >"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log" >&2; exit 1; }
cmake --build "$TREE" -j2 >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; exit 1; }
rm -f "$TREE"/*.deb
(cd "$TREE" && cpack -G DEB >"$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log" >&2; exit 1; }
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$TREE/CMakeCache.txt")
debs=()
for p in "${PACKAGES[@]}"; do
  deb=$(ls "$TREE"/"${p}"_"${version}"_*.deb 2>/dev/null | head -1)
  [ -n "$deb" ] || { echo "package.debs: cpack made no $p package" >&2; ls "$TREE"/*.deb >&2; exit 1; }
  debs+=("$deb")
done
say "built ${#debs[@]} packages in $(($(date +%s) - started)) s"

# --- lintian -------------------------------------------------------------------------------
lintian --tag-display-limit 0 "${debs[@]}" >"$WORK/lintian.log" 2>&1 || true
sed 's/^/    lintian: /' "$WORK/lintian.log"
check "lintian reports no errors" bash -c "! grep -q '^E:' '$WORK/lintian.log'"

check "kiln-api depends on nginx and the shared libraries (shlibs)" bash -c \
  "dpkg-deb -f '${debs[2]}' Depends | grep -q 'nginx' && dpkg-deb -f '${debs[2]}' Depends | grep -q 'libpqxx'"
check "kiln-common is architecture-independent" bash -c "[ \"\$(dpkg-deb -f '${debs[4]}' Architecture)\" = all ]"

# --- install -------------------------------------------------------------------------------
if [ $had_policy = 0 ]; then
  printf '#!/bin/sh\n# made by tests/package/debs_test.sh: start no service\nexit 101\n' >/usr/sbin/policy-rc.d
  chmod 755 /usr/sbin/policy-rc.d
fi
dpkg_retry -i "${debs[@]}" || { echo "package.debs: dpkg -i failed" >&2; exit 1; }
say "installed: $(dpkg-query -W -f='${Package} ${Version}, ' "${PACKAGES[@]}")"

for f in /usr/bin/kiln /usr/bin/kiln-api /usr/bin/kiln-dispatch /usr/bin/kiln-agent \
         /usr/share/kiln/sql/migrations/0001_init.sql /usr/share/kiln/sql/api/_grants.sql \
         /usr/share/kiln/templates/layout.tpl /usr/share/kiln/static/kiln.css \
         /usr/share/kiln/pipelines/build-node /usr/share/kiln/pipelines/tekton \
         /lib/systemd/system/kiln-api.service /lib/systemd/system/kiln-dispatch.service \
         /lib/systemd/system/kiln-dispatch.timer /lib/systemd/system/kiln-dispatch-loop.service \
         /lib/systemd/system/kiln-agent.service /etc/nginx/sites-available/kiln \
         /etc/kiln/kiln-api.env /etc/kiln/kiln-dispatch.env /etc/kiln/kiln-agent.env \
         /usr/share/doc/kiln-api/copyright /usr/share/man/man1/kiln-dispatch.1.gz; do
  check "installed $f" test -e "$f"
done
for b in kiln kiln-api kiln-dispatch kiln-agent; do
  check "$b --help exits 0 and prints its usage" bash -c "/usr/bin/$b --help | grep -q usage"
  check "$b looks for its data in /usr/share/kiln, never in the build machine's tree" bash -c \
    "! grep -qF '$SRC' /usr/bin/$b"
done

check "system user kiln exists, without a login shell" bash -c \
  "[ \$(id -u kiln) -lt 1000 ] && getent passwd kiln | grep -q nologin"
check "/etc/kiln/*.env are conffiles" bash -c \
  "dpkg-query -W -f='\${Conffiles}\n' kiln-api kiln-dispatch kiln-agent | grep -c '/etc/kiln/kiln-.*\.env' | grep -qx 3 &&
   dpkg-query -W -f='\${Conffiles}' kiln-api | grep -q /etc/nginx/sites-available/kiln"
check "/etc/kiln/*.env are 0640 root:kiln" bash -c \
  "for f in /etc/kiln/kiln-api.env /etc/kiln/kiln-dispatch.env /etc/kiln/kiln-agent.env; do
     [ \"\$(stat -c '%a %U %G' \$f)\" = '640 root kiln' ] || { stat -c '%n %a %U %G' \$f; exit 1; }; done"
check "the master key is made once, 0640 root:kiln, one k1 key of 64 hex digits" bash -c \
  "[ \"\$(stat -c '%a %U %G' /etc/kiln/master.key)\" = '640 root kiln' ] &&
   grep -Eqx 'k1:[0-9a-f]{64}' /etc/kiln/master.key"

if command -v systemd-analyze >/dev/null; then
  for unit in kiln-api.service kiln-dispatch.service kiln-dispatch.timer kiln-dispatch-loop.service kiln-agent.service; do
    check "systemd-analyze verify $unit" bash -c \
      "out=\$(systemd-analyze verify /lib/systemd/system/$unit 2>&1); echo \"\$out\";
       ! echo \"\$out\" | grep -v 'Cannot add dependency job\|Failed to load\|No such file or directory\|is not a directory\|were not loaded\|systemd-journald\|Unit sysinit.target\|Falling back' | grep -q ."
  done
fi

# The nginx site inside a test configuration, as Debian's nginx.conf includes it.
mkdir -p "$WORK/nginx/tmp"
cat >"$WORK/nginx/nginx.conf" <<EOF
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events {}
http {
  include /etc/nginx/mime.types;
  client_body_temp_path $WORK/nginx/tmp/client_body;
  proxy_temp_path $WORK/nginx/tmp/proxy;
  fastcgi_temp_path $WORK/nginx/tmp/fastcgi;
  uwsgi_temp_path $WORK/nginx/tmp/uwsgi;
  scgi_temp_path $WORK/nginx/tmp/scgi;
  include /etc/nginx/sites-available/kiln;
}
EOF
check "nginx -t accepts the site" nginx -t -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log"

# The installed commands against a throwaway database, with no path given: they must find
# /usr/share/kiln by themselves.
"$SRC/scripts/pg.sh" init "$WORK/pg" >/dev/null
"$SRC/scripts/pg.sh" start "$WORK/pg" "$PG_PORT" >/dev/null
psql "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres" -qc "create database kiln" >/dev/null
check "installed kiln migrate applies /usr/share/kiln/sql and seeds the Tekton templates" bash -c \
  "KILN_DATABASE_URL='host=127.0.0.1 port=$PG_PORT user=postgres dbname=kiln' /usr/bin/kiln migrate &&
   [ \"\$(psql 'host=127.0.0.1 port=$PG_PORT user=postgres dbname=kiln' -Atc 'select count(*) > 0 from kiln.pipeline_templates')\" = t ]"
check "installed kiln bootstrap writes a token" bash -c \
  "KILN_DATABASE_URL='host=127.0.0.1 port=$PG_PORT user=postgres dbname=kiln' /usr/bin/kiln bootstrap \
     --tenant default --user admin --token-file '$WORK/admin-token' && test -s '$WORK/admin-token'"
check "installed kiln-dispatch --once runs a pass as user kiln with the unit's settings" \
  runuser -u kiln -- env KILN_DATABASE_URL="host=127.0.0.1 port=$PG_PORT user=kiln_dispatch dbname=kiln" \
    KILN_MASTER_KEY_FILE=/etc/kiln/master.key /usr/bin/kiln-dispatch --once

# The installed kiln-api behind the installed site (its port and socket changed for the
# test), with no path given: pages need /usr/share/kiln/templates, /static/ is served from
# /usr/share/kiln/static.
mkdir -p "$WORK/run" && chown kiln:kiln "$WORK/run"
HTTP_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
runuser -u kiln -- env KILN_DATABASE_URL="host=127.0.0.1 port=$PG_PORT user=kiln_web dbname=kiln" \
  /usr/bin/kiln-api --listen "$WORK/run/api.sock" --threads 2 >"$WORK/kiln-api.log" 2>&1 &
api_pid=$!
sed -e "s|listen 80;|listen 127.0.0.1:$HTTP_PORT;|" -e '/listen \[::\]:80;/d' \
    -e "s|unix:/run/kiln-api/kiln-api.sock|unix:$WORK/run/api.sock|" -e "s|/var/log/nginx/|$WORK/nginx/|" \
    /etc/nginx/sites-available/kiln >"$WORK/nginx/site"
sed -e "s|include /etc/nginx/sites-available/kiln;|include $WORK/nginx/site;|" "$WORK/nginx/nginx.conf" \
  >"$WORK/nginx/run.conf"
for _ in $(seq 100); do [ -S "$WORK/run/api.sock" ] && break; sleep 0.1; done
nginx -p "$WORK/nginx" -c "$WORK/nginx/run.conf" -e "$WORK/nginx/error.log"
URL=http://127.0.0.1:$HTTP_PORT
check "installed kiln-api answers /healthz through the site" bash -c \
  "curl -fsS --retry 20 --retry-connrefused --retry-delay 0 $URL/healthz | grep -q '\"database\":\"ok\"'"
check "the sign-in page renders from /usr/share/kiln/templates" bash -c \
  "curl -fsS $URL/admin/login | grep -qi '<form'"
check "nginx serves /static/kiln.css from /usr/share/kiln/static" bash -c \
  "curl -fsS $URL/static/kiln.css | cmp -s - '$SRC/static/kiln.css'"
[ -f "$WORK/nginx/nginx.pid" ] && kill "$(cat "$WORK/nginx/nginx.pid")"
kill "$api_pid"; wait "$api_pid" 2>/dev/null || true
"$SRC/scripts/pg.sh" stop "$WORK/pg" >/dev/null

# --- purge ---------------------------------------------------------------------------------
dpkg_retry --purge "${PACKAGES[@]}" || fail "dpkg --purge"
for f in /usr/bin/kiln-api /usr/share/kiln /etc/kiln /lib/systemd/system/kiln-api.service \
         /etc/nginx/sites-available/kiln /etc/systemd/system/multi-user.target.wants/kiln-api.service; do
  check "purge removed $f" test ! -e "$f"
done
check "purge removed the statoverrides" bash -c "! dpkg-statoverride --list | grep -q /etc/kiln/"

say "done in $(($(date +%s) - started)) s, $failures failure(s)"
[ $failures = 0 ]
