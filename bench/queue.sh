#!/usr/bin/env bash
# Queue mode against direct mode: the same app, the same hookguard build, the same run. wrk sends
# signed 1 KiB DriveWidget deliveries over 64 connections to a direct route and to a queue route
# in turns; each queue answer is a 200 {"queued":...} written to the spool with an fsync first.
# Also measures the disk's own fsync rate beside it, the time to acknowledge (wrk's p50/p99), and
# how fast the dispatcher drains what was queued. Writes its section of BENCHMARKS.md.
#
#   bench/queue.sh                                   # 10 s per case, 6 rounds (about 3 minutes)
#   BENCH_SECONDS=2 BENCH_ROUNDS=1 bench/queue.sh --smoke
#   BENCH_OUT=file bench/queue.sh                    # writes its section into that file (run.sh does)
#
# bench/run.sh calls it at the end. The spool lives under /var/tmp: on the disk, not on a tmpfs.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_CASE=${BENCH_SECONDS:-10}
ROUNDS=${BENCH_ROUNDS:-6}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1

command -v wrk >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }
cargo build --release --quiet --bin hookguard --example bench-app
HOOKGUARD=$ROOT/target/release/hookguard
APP=$ROOT/target/release/examples/bench-app

DIR=$(mktemp -d /var/tmp/hookguard-queue-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$DIR"
}
trap cleanup EXIT

APP_PORT=18310 DIRECT_PORT=18311 QUEUE_PORT=18312 ADMIN_PORT=18313
export BENCH_SECRET=bench-secret-5f2b8c1e9a7d4c3b
python3 - "$DIR/body" <<'PY'
import sys
head, tail = b'{"event":"file.uploaded","connection_id":"abc-123","pad":"', b'"}'
open(sys.argv[1], "wb").write(head + b"x" * (1024 - len(head) - len(tail)) + tail)
PY
SIGNATURE=$("$HOOKGUARD" sign --provider drivewidget --secret-env BENCH_SECRET "$DIR/body" | sed 's/^[^:]*: //')

"$APP" "127.0.0.1:$APP_PORT" & PIDS+=($!)
config() { # port, admin line, delivery line, spool line
  cat <<YAML
listen: 127.0.0.1:$1
upstream: http://127.0.0.1:$APP_PORT
$2
$4
routes:
  - path: /webhooks/drivewidget
    name: drivewidget
    provider: drivewidget
    secrets: [{env: BENCH_SECRET}]
    $3
YAML
}
config $DIRECT_PORT "" "" "" > "$DIR/direct.yaml"
config $QUEUE_PORT "admin: 127.0.0.1:$ADMIN_PORT" "delivery: {mode: queue, concurrency: 32, retry: [1s]}" \
  "spool: {store: $DIR/spool, max_bytes: 8GiB}" > "$DIR/queue.yaml"
"$HOOKGUARD" run --config "$DIR/direct.yaml" 2> "$DIR/direct.log" & DIRECT_PID=$!; PIDS+=($DIRECT_PID)
"$HOOKGUARD" run --config "$DIR/queue.yaml" 2> "$DIR/queue.log" & QUEUE_PID=$!; PIDS+=($QUEUE_PID)
for port in $APP_PORT $DIRECT_PORT $QUEUE_PORT $ADMIN_PORT; do
  for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
done

metric() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v s="$1" 'index($0, s" ") == 1 {print $2}'; }
DELIVERED='hookguard_delivery_attempts_total{route="drivewidget",result="delivered"}'
PENDING='hookguard_spool_deliveries{route="drivewidget",state="pending"}'
IN_FLIGHT='hookguard_spool_deliveries{route="drivewidget",state="in_flight"}'
answer=$(curl -s -X POST -H "X-DriveWidget-Signature: $SIGNATURE" --data-binary "@$DIR/body" \
  "http://127.0.0.1:$QUEUE_PORT/webhooks/drivewidget")
case $answer in *queued*) ;; *) echo "the queue route answered $answer" >&2; exit 1 ;; esac

# The disk's own rate of write+fsync on one file, in the spool's directory: what group commit beats.
fsync_rate() {
  python3 - "$DIR/fsync-probe" <<'PY'
import os, sys, time
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT, 0o600)
n, start = 0, time.monotonic()
while time.monotonic() - start < 3:
    os.pwrite(fd, b"x" * 512, 0); os.fsync(fd); n += 1
print(f"{n / (time.monotonic() - start):.0f}")
PY
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

RESULTS=$DIR/results.tsv
echo -e "setup\tround\trps\tp50_ms\tp99_ms\terrors\tcpu_us_per_req\tdrain_s\tdelivered_per_s\tfsync_per_s" > "$RESULTS"
run_case() { # setup port pid round
  local setup=$1 port=$2 pid=$3 round=$4 out before after requests rps p50 p99 errors cpu drain=- rate=- fsync=- d0 t0
  [ "$setup" = queue ] && { d0=$(metric "$DELIVERED"); d0=${d0:-0}; t0=$(date +%s.%N); }
  before=$(cpu_ticks "$pid")
  out=$(BODY_FILE="$DIR/body" SIGNATURE="$SIGNATURE" wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_CASE}s" --latency \
    -s bench/post.lua "http://127.0.0.1:$port/webhooks/drivewidget")
  after=$(cpu_ticks "$pid")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else {sub(/s$/,"",v); print v*1000}}'; }
  p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
  errors=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out"); errors=${errors:-0}
  if [ "$setup" = queue ]; then
    # Wait until the dispatcher has delivered all of it, so rounds do not overlap.
    for _ in $(seq 1 600); do
      [ "$(metric "$PENDING")" = 0 ] && [ "$(metric "$IN_FLIGHT")" = 0 ] && sleep 2.1 && \
        [ "$(metric "$PENDING")" = 0 ] && [ "$(metric "$IN_FLIGHT")" = 0 ] && break
      sleep 0.5
    done
    after=$(cpu_ticks "$pid")
    local d1 t1; d1=$(metric "$DELIVERED"); t1=$(date +%s.%N)
    drain=$(awk -v a="$t0" -v b="$t1" -v s="$SECONDS_PER_CASE" 'BEGIN {printf "%.1f", b - a - s}')
    rate=$(awk -v n="$((${d1%.*} - ${d0%.*}))" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
    fsync=$(fsync_rate)
  fi
  # CPU per request: for the queue route, accepting and delivering both count.
  cpu=$(awk -v t=$((after - before)) -v n="$requests" 'BEGIN {printf "%.1f", t * 10000 / n}')
  echo -e "$setup\t$round\t$rps\t$p50\t$p99\t$errors\t$cpu\t$drain\t$rate\t$fsync" >> "$RESULTS"
  printf '  %-7s round %s: %9s req/s  p50 %6s ms  p99 %7s ms  non-2xx %s  CPU %s µs/req  drained in %s s (%s delivered/s)  fsync %s/s\n' \
    "$setup" "$round" "$rps" "$p50" "$p99" "$errors" "$cpu" "$drain" "$rate" "$fsync"
}

echo "queue vs direct: ${SECONDS_PER_CASE}s per case, $ROUNDS round(s), $CONNECTIONS connections, 1 KiB"
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) = 1 ]; then
    run_case direct $DIRECT_PORT $DIRECT_PID "$round"; run_case queue $QUEUE_PORT $QUEUE_PID "$round"
  else
    run_case queue $QUEUE_PORT $QUEUE_PID "$round"; run_case direct $DIRECT_PORT $DIRECT_PID "$round"
  fi
done
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
OUT=${BENCH_OUT:-BENCHMARKS.md}
[ "$SMOKE" = 1 ] && [ -z "${BENCH_OUT:-}" ] && OUT=$DIR/BENCHMARKS.md && touch "$OUT"
python3 bench/queue_report.py "$RESULTS" "$OUT" "$SECONDS_PER_CASE" "$ROUNDS" "$CONNECTIONS" "$COMMIT"
