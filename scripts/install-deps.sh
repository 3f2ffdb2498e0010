#!/usr/bin/env bash
# Installs the Debian 12 packages Kiln needs to build, run and test. Idempotent and
# quiet when everything is present.
set -euo pipefail
packages=(
  g++ cmake make pkg-config git curl ca-certificates
  libfcgi-dev libpqxx-dev libpq-dev nlohmann-json3-dev libssl-dev libcurl4-openssl-dev libctemplate-dev
  libyaml-cpp-dev openssl
  libgtest-dev libbenchmark-dev
  nginx chromium postgresql-15 postgresql-contrib postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl
  python3 python3-pytest python3-requests python3-psycopg2 python3-yaml
  clang libclang-rt-14-dev
  python3-jsonschema
  lintian
)
# kubectl, whose built-in kustomize renders deploy/kubernetes in the tests: Debian's, unless one
# is installed already from elsewhere (the two packages would both own /usr/bin/kubectl).
command -v kubectl >/dev/null || packages+=(kubernetes-client)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
