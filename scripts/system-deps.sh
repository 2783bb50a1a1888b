#!/usr/bin/env bash
# The Debian packages the test suite needs, checked (and installed when missing)
# by `npm test` (its pretest step) before anything runs. One place: to add a
# package, add a line to PACKAGES: "<debian package>|<shell check that passes when present>".
set -euo pipefail

PACKAGES=(
  'chromium|test -x /usr/bin/chromium'                                         # test/browser (playwright-core drives it)
  "python3-websockets|/usr/bin/python3 -c 'import websockets' 2>/dev/null"     # test/interop (the Python client)
  "python3-msgpack|/usr/bin/python3 -c 'import msgpack' 2>/dev/null"           # test/interop
  'redis-server|test -x /usr/bin/redis-server'                                 # the Redis broker tests (each starts its own)
  'haproxy|test -x /usr/sbin/haproxy'                                          # the proxy tests (PROXY protocol, X-Forwarded-For)
  'nginx-light|test -x /usr/sbin/nginx'                                        # test/integration/nginx.test.ts (docs/deploy.md's nginx configuration)
  'openssl|command -v openssl'                                                 # TLS tests make their certificates at test time
)

missing=()
for entry in "${PACKAGES[@]}"; do
  name=${entry%%|*}
  check=${entry#*|}
  bash -c "$check" >/dev/null 2>&1 || missing+=("$name")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "npm test: the test suite needs these Debian packages: ${missing[*]}; install them (as root: apt-get install ${missing[*]}) or run npm test as root on Debian to have it install them" >&2
  exit 1
fi
echo "npm test: installing Debian packages the tests need: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
