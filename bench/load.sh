#!/usr/bin/env bash
# load.sh: server CPU per request under load, on loopback.
#
# Builds one server binary (./cmd/server, the variant chosen by a flag),
# then, for several rounds, runs each variant in turn (the order rotated
# each round) pinned to CPU 0 with GOMAXPROCS=1, and drives it from CPU 1
# with h2load (h2c, prior knowledge) and wrk (HTTP/1.1), each for a bounded
# time. The server's CPU time comes from /proc/PID/stat (utime + stime)
# before and after the measured run; CPU µs per request = that time divided
# by the requests completed. It also records how busy CPU 0 was with other
# processes meanwhile (foreign %), to spot a noisy round.
#
# Writes results/load.csv (one line per run) and prints medians; the report
# (go run ./cmd/report) turns the CSV into the RESULTS.md table.
#
# Settings (environment): ROUNDS (3), DURATION seconds per run (5), WARMUP
# seconds before each (1), IMPLS, PROTOS (h1 h2c), H2LOAD_ARGS, WRK_ARGS.
set -euo pipefail
cd "$(dirname "$0")"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-1}
IMPLS=${IMPLS:-"nethttp chi typhon-bare typhon-stack monzo"}
PROTOS=${PROTOS:-"h1 h2c"}
H2LOAD_ARGS=${H2LOAD_ARGS:-"-c 4 -m 32 -t 1"}
WRK_ARGS=${WRK_ARGS:-"-t 1 -c 32"}
OUT=${OUT:-results/load.csv}
PATH_UNDER_LOAD=/users/42

if [ "$DURATION" -gt 30 ] || [ "$ROUNDS" -gt 20 ]; then
  echo "load.sh: DURATION is at most 30 s and ROUNDS at most 20" >&2; exit 2
fi
if ! command -v h2load >/dev/null 2>&1 || ! command -v wrk >/dev/null 2>&1; then
  echo "load.sh: installing h2load (nghttp2-client) and wrk" >&2
  apt-get update -qq
  apt-get install -y -qq nghttp2-client wrk >/dev/null
fi
if [ "$(nproc)" -lt 2 ]; then
  echo "load.sh: needs 2 CPUs (server on 0, load generator on 1)" >&2; exit 2
fi

mkdir -p "$(dirname "$OUT")"
go build -o results/server ./cmd/server
TCK=$(getconf CLK_TCK)

server_pid=""
cleanup() { if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; }
trap cleanup EXIT

# ticks PID: utime + stime of PID, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# cpu0: busy and total jiffies of CPU 0.
cpu0() { awk '$1 == "cpu0" {print $2+$3+$4+$7+$8+$9, $2+$3+$4+$5+$6+$7+$8+$9}' /proc/stat; }

# load PROTO URL SECONDS: runs the generator on CPU 1; prints requests done.
load() {
  local out
  if [ "$1" = h2c ]; then
    # shellcheck disable=SC2086
    out=$(taskset -c 1 h2load $H2LOAD_ARGS -D "$3" "$2" 2>&1) || { echo "$out" >&2; return 1; }
    echo "$out" | awk '/^requests:/ {for (i = 1; i <= NF; i++) if ($(i+1) ~ /^succeeded/) print $i}'
  else
    # shellcheck disable=SC2086
    out=$(taskset -c 1 wrk $WRK_ARGS -d "${3}s" "$2" 2>&1) || { echo "$out" >&2; return 1; }
    if echo "$out" | grep -q "Non-2xx\|Socket errors"; then echo "$out" >&2; return 1; fi
    echo "$out" | awk '/requests in/ {print $1}'
  fi
}

echo "round,proto,impl,requests,seconds,server_ticks,cpu_us_per_req,req_per_s,foreign_pct,loadavg" > "$OUT"
read -r -a impls <<<"$IMPLS"
n=${#impls[@]}
for ((round = 0; round < ROUNDS; round++)); do
  for proto in $PROTOS; do
    for ((k = 0; k < n; k++)); do
      impl=${impls[$(((k + round) % n))]}
      port_file=$(mktemp)
      # GODEBUG passes through: bench/run sets adaptivestackstart=0.
      taskset -c 0 env GOMAXPROCS=1 results/server -impl "$impl" -max 120s >"$port_file" &
      server_pid=$!
      for _ in $(seq 100); do grep -q listening "$port_file" && break; sleep 0.05; done
      addr=$(awk '/listening/ {print $2}' "$port_file")
      rm -f "$port_file"
      [ -n "$addr" ] || { echo "load.sh: $impl did not start" >&2; exit 1; }
      url="http://$addr$PATH_UNDER_LOAD"
      load "$proto" "$url" "$WARMUP" >/dev/null
      read -r busy0 total0 < <(cpu0)
      t0=$(ticks "$server_pid")
      start=$(date +%s.%N)
      reqs=$(load "$proto" "$url" "$DURATION")
      end=$(date +%s.%N)
      t1=$(ticks "$server_pid")
      read -r busy1 total1 < <(cpu0)
      loadavg=$(cut -d' ' -f1 /proc/loadavg)
      kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
      awk -v r="$round" -v p="$proto" -v i="$impl" -v q="$reqs" -v s0="$start" -v s1="$end" \
        -v t0="$t0" -v t1="$t1" -v tck="$TCK" -v b0="$busy0" -v b1="$busy1" -v a0="$total0" -v a1="$total1" -v la="$loadavg" \
        'BEGIN {
          secs = s1 - s0; tk = t1 - t0
          us = q > 0 ? tk / tck * 1e6 / q : 0
          foreign = (a1 > a0) ? ((b1 - b0) - tk) / (a1 - a0) * 100 : 0
          if (foreign < 0) foreign = 0
          printf "%d,%s,%s,%d,%.2f,%d,%.2f,%.0f,%.1f,%s\n", r, p, i, q, secs, tk, us, q / secs, foreign, la
        }' | tee -a "$OUT"
    done
  done
done

echo
echo "medians of $ROUNDS rounds (server CPU µs per request; foreign = other processes on CPU 0):"
awk -F, 'NR > 1 {k = $2 " " $3; n[k]++; v[k, n[k]] = $7; f[k] = f[k] > $9 ? f[k] : $9}
  END {
    for (k in n) {
      for (i = 2; i <= n[k]; i++) { x = v[k, i]; for (j = i - 1; j >= 1 && v[k, j] > x; j--) v[k, j+1] = v[k, j]; v[k, j+1] = x }
      m = (n[k] % 2) ? v[k, (n[k]+1)/2] : (v[k, n[k]/2] + v[k, n[k]/2+1]) / 2
      printf "  %-18s %8.2f µs/req  (min %.2f, max %.2f, worst foreign %.0f%%)\n", k, m, v[k, 1], v[k, n[k]], f[k]
    }
  }' "$OUT" | sort
