#!/bin/sh
# Writes base/nginx.conf, the nginx configuration of the kiln-api pod, from the repository's
# nginx/kiln.conf.in: logs to the container's stdout/stderr, pid and temp files in /tmp (the
# root filesystem is read-only), HTTP on 8080, kiln-api's socket in the shared /run/kiln.
# Run it after changing nginx/kiln.conf.in; tests/package/kustomize_test.py fails until then.
#   deploy/kubernetes/nginx-conf.sh [OUTPUT]   (default: base/nginx.conf beside this script)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/base/nginx.conf}
{
echo "# Made by deploy/kubernetes/nginx-conf.sh from nginx/kiln.conf.in; edit that file, not this one."
sed -e '/^#   @[A-Z]*@ /d' -e 's|@PREFIX@/tmp/|/tmp/|g' \
    -e 's|@LOGS@/nginx-error.log|/dev/stderr|g' -e 's|@LOGS@/nginx-access.log|/dev/stdout|g' \
    -e 's|@PREFIX@|/tmp|g' -e 's|@LISTEN@|8080|g' -e 's|@SOCKET@|/run/kiln/kiln-api.sock|g' \
    -e 's|@STATIC@|/usr/share/kiln/static|g' \
    "$here/../../nginx/kiln.conf.in"
} >"$out"
