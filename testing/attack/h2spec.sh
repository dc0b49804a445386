#!/usr/bin/env bash
# h2spec conformance run against a typhon server with default options
# (testing/attack/h2specserver: HTTP/1.1 + h2c on one loopback port).
#
# Installs h2spec v2.2.1 with `go install` if it is missing, runs every
# test (generic, hpack, http2) with a 2 s per-test timeout and a 50 s cap on
# the whole run, and fails unless the failing set is exactly ALLOWED below:
# a test that starts passing must leave the list too. Prints one
# machine-readable line for report.sh:
#   H2SPEC total=145 passed=140 skipped=1 failed=4 failing=... unexpected= fixed=
set -euo pipefail
cd "$(dirname "$0")/../.."

H2SPEC_MODULE=github.com/summerwind/h2spec/cmd/h2spec@v2.2.1+incompatible

# Known failures: Go choices, none reachable from a typhon Service.
declare -A ALLOWED=(
  # The port is shared by HTTP/1.1 and h2c: a connection whose first bytes
  # are not the HTTP/2 preface is parsed as HTTP/1.1 (and answered 400)
  # rather than closed. Only turning HTTP/1.1 off would change it.
  ["http2/3.5/2"]="invalid preface answered as HTTP/1.1 on the shared h1/h2c port, not closed"
  # net/http hangs up on a SETTINGS frame that repeats a setting (hardening
  # in h2_bundle.go processSettings: 'suspiciously large settings frames or
  # those with duplicate entries'); RFC 9113 wants them applied in order.
  ["http2/6.5.3/1"]="SETTINGS with a duplicated INITIAL_WINDOW_SIZE: Go closes the connection (PROTOCOL_ERROR) instead of applying both"
  # net/http answers these requests 400 from its own handler (the Service
  # is never called) where RFC 9113 wants a stream error PROTOCOL_ERROR; a
  # handler cannot send RST_STREAM(PROTOCOL_ERROR).
  ["http2/8.1.2.2/1"]="connection-specific header: Go answers 400 (Service not called), not RST_STREAM PROTOCOL_ERROR"
  ["http2/8.1.2.2/2"]="te other than trailers: Go answers 400 (Service not called), not RST_STREAM PROTOCOL_ERROR"
)

gobin=$(go env GOBIN)
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
H2SPEC=${H2SPEC:-$gobin/h2spec}
if [ ! -x "$H2SPEC" ]; then
  echo "installing $H2SPEC_MODULE"
  go install "$H2SPEC_MODULE"
fi

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill -INT "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

go build -o "$work/h2specserver" ./testing/attack/h2specserver
"$work/h2specserver" >"$work/addr" 2>"$work/server.log" </dev/null &
server_pid=$!
for _ in $(seq 100); do
  [ -s "$work/addr" ] && break
  sleep 0.1 # waiting for another process to print its address
done
addr=$(head -n1 "$work/addr")
port=${addr##*:}
[ -n "$port" ] || { echo "h2specserver did not start"; cat "$work/server.log"; exit 1; }

start=$(date +%s)
set +e
timeout 50 "$H2SPEC" -h 127.0.0.1 -p "$port" -o 2 -j "$work/junit.xml" >"$work/out" 2>&1
rc=$?
set -e
took=$(( $(date +%s) - start ))
if [ "$rc" -eq 124 ] || [ ! -s "$work/junit.xml" ]; then
  echo "h2spec did not finish (exit $rc)"; tail -n 40 "$work/out"; exit 1
fi

# testcase ids: package + position within its testsuite, as h2spec numbers them.
read -r total skipped failing < <(awk '
  /<testsuite / { i = 0 }
  /<testcase / {
    i++; match($0, /package="[^"]*"/); pkg = substr($0, RSTART + 9, RLENGTH - 10)
    cur = pkg "/" i; n++
  }
  /<error|<failure/ { if (!(cur in bad)) { bad[cur] = 1; list = list (list ? "," : "") cur } }
  /<skipped/ { s++ }
  END { printf "%d %d %s\n", n, s, (list ? list : "-") }
' "$work/junit.xml")
[ "$failing" = "-" ] && failing=""

unexpected=()
IFS=, read -r -a failed_ids <<<"$failing"
for id in "${failed_ids[@]}"; do
  [ -n "${ALLOWED[$id]+x}" ] || unexpected+=("$id")
done
fixed=()
for id in "${!ALLOWED[@]}"; do
  [[ ",$failing," == *",$id,"* ]] || fixed+=("$id")
done
nfailed=${#failed_ids[@]}
passed=$(( total - skipped - nfailed ))

grep -E '^[0-9]+ tests, ' "$work/out" || true
echo "run time: ${took}s"
for id in "${failed_ids[@]}"; do
  echo "  failing $id: ${ALLOWED[$id]:-NOT ALLOWED}"
done
IFS=,
echo "H2SPEC total=$total passed=$passed skipped=$skipped failed=$nfailed failing=${failing} unexpected=${unexpected[*]:-} fixed=${fixed[*]:-} seconds=$took"
unset IFS
if [ ${#unexpected[@]} -gt 0 ] || [ ${#fixed[@]} -gt 0 ]; then
  echo "h2spec: the failing set differs from the allow-list (unexpected: ${unexpected[*]:-none}; now passing: ${fixed[*]:-none})"
  sed -n '/^Failures:/,$p' "$work/out"
  exit 1
fi
echo "h2spec: ok"
