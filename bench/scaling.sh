#!/usr/bin/env bash
# Whether hookguard's cost stays flat as the work grows, each beside nginx proxy_pass where that applies,
# all in front of the hyper bench-app with signed 1 KiB DriveWidget requests:
#   - routes: hookguard with 1, 100 and 10,000 routes (the measured one last, the others distinct
#     DriveWidget routes), CPU per request and req/s, the three in a rotating order every round;
#   - idle connections: resident memory with 0, 1,000 and 10,000 idle keep-alive connections, one
#     request served on each (bench/idle_connections.py), for hookguard and nginx, each freshly started;
#   - concurrency: 64 and 1,000 connections at the same fixed req/s (bench/rate.lua), p99 of each.
# Writes its section of BENCHMARKS.md and bench/scaling-*.svg.
#
#   bench/scaling.sh                # 4 s per case, 6 rounds (about 4 minutes); bench/run.sh calls it
#   bench/scaling.sh --smoke        # 1 s per case, 2 rounds; writes under /tmp
#   BENCH_RATE=8000 bench/scaling.sh   # the concurrency rows' rate (run.sh passes a quarter of the
#                                      # 64-connection 1 KiB max; 5,000 a second otherwise)
#   BENCH_OUT=file BENCH_SVG_DIR=dir   # where the section and charts go
#   BENCH_SCALING="idle routes"        # only these parts (then BENCHMARKS.md is left alone)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
if [ "$SMOKE" = 1 ]; then DEFAULT_SECONDS=1 DEFAULT_ROUNDS=2; else DEFAULT_SECONDS=4 DEFAULT_ROUNDS=6; fi
SECONDS_PER_CASE=${BENCH_SECONDS:-$DEFAULT_SECONDS}
ROUNDS=${BENCH_ROUNDS:-$DEFAULT_ROUNDS}
RATE=${BENCH_RATE:-5000}
if [ -n "${BENCH_RATE:-}" ]; then RATE_NOTE=${BENCH_RATE_NOTE:-set by BENCH_RATE}; else RATE_NOTE="a fixed 5,000 a second"; fi
PARTS=${BENCH_SCALING:-idle routes concurrency}
ROUTE_COUNTS=(1 100 10000)
IDLE_COUNTS=(1000 10000)
# shellcheck source=bench/lib.sh
. bench/lib.sh

cargo build --release --quiet --bin hookguard --example bench-app
HOOKGUARD=$ROOT/target/release/hookguard
APP=$ROOT/target/release/examples/bench-app

DIR=$(mktemp -d /tmp/hookguard-scaling.XXXXXX)
if [ -n "${BENCH_OUT:-}" ]; then OUT=$BENCH_OUT SVG_DIR=${BENCH_SVG_DIR:-bench}
elif [ "$SMOKE" = 1 ] || [ -n "${BENCH_SCALING:-}" ]; then OUT=$DIR/BENCHMARKS.md SVG_DIR=$DIR; touch "$OUT"
else OUT=BENCHMARKS.md SVG_DIR=bench; fi
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pidfile in "$DIR"/*/nginx.pid; do stop_nginx "$pidfile"; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

APP_PORT=18320 NGINX_PORT=18321 IDLE_HG_PORT=18322 IDLE_NGINX_PORT=18323 CONCURRENCY_HG_PORT=18324
ROUTES_PORT_BASE=18330
BODY=$DIR/body-1024
make_signed_body 1024 "$BODY" "$HOOKGUARD"
"$APP" "127.0.0.1:$APP_PORT" & PIDS+=($!)
wait_for_port $APP_PORT

# nginx proxy_pass in front of the bench-app, from run.sh's template (its other servers go unused),
# in a directory of its own; prints the pid file.
nginx_in() { # name port
  local dir=$DIR/$1
  mkdir -p "$dir"
  sed "s/SECRET_PLACEHOLDER/$BENCH_SECRET/" bench/verify.js > "$dir/verify.js"
  start_nginx bench/nginx.conf.template "$dir/nginx.conf" "$dir" APP_PORT=$APP_PORT NGINX_PORT="$2" \
    NJS_PORT=$(($2 + 100)) NGINX_APP_PORT=$(($2 + 200)) NGINX_TO_NGINX_APP_PORT=$(($2 + 300))
  wait_for_port "$2"
  echo "$dir/nginx.pid"
}
hookguard_on() { # name port [extra yaml] [routes file]; sets STARTED_PID
  hookguard_config "$2" $APP_PORT "${3:-}" "${4:-}" > "$DIR/$1.yaml"
  "$HOOKGUARD" run --config "$DIR/$1.yaml" 2> "$DIR/$1.log" &
  STARTED_PID=$!
  PIDS+=($STARTED_PID)
  wait_for_port "$2"
}

# --- Idle connections: memory with 0, 1,000 and 10,000 open, each server started afresh and warmed
# with a few requests first, so the figure is what connections cost, not what the first request does.
IDLE=$DIR/idle.tsv
echo -e "server\tcount\trss_kib\tanswered_2xx\tstill_open" > "$IDLE"
idle_case() { # server port pid...
  local server=$1 port=$2 json _
  shift 2
  for _ in $(seq 1 20); do
    curl -s -o /dev/null -X POST -H "X-DriveWidget-Signature: $(cat "$BODY.sig")" --data-binary "@$BODY" \
      "http://127.0.0.1:$port$BENCH_PATH"
  done
  sleep 1
  local pid_args=() count_args=() pid count
  for pid in "$@"; do pid_args+=(--pid "$pid"); done
  for count in "${IDLE_COUNTS[@]}"; do count_args+=(--count "$count"); done
  json=$(python3 bench/idle_connections.py --port "$port" "${count_args[@]}" "${pid_args[@]}" --path "$BENCH_PATH" \
    --body "$BODY" --header "X-DriveWidget-Signature: $(cat "$BODY.sig")") || echo "  ($server: not every connection was answered and kept open)"
  python3 - "$server" "$json" >> "$IDLE" <<'PY'
import json, sys
server, result = sys.argv[1], json.loads(sys.argv[2])
print(f"{server}\t0\t{result['rss_before_kib']}\t0\t0")
for step in result["steps"]:
    print(f"{server}\t{step['count']}\t{step['rss_kib']}\t{result['answered_2xx'] if step is result['steps'][-1] else step['count']}\t{step['still_open']}")
PY
  grep "^$server" "$IDLE" | awk '{printf "  idle %-9s %6s connections: RSS %7.1f MiB, %s open\n", $1, $2, $3 / 1024, $5}'
}
measure_idle() {
  echo "idle connections: ${IDLE_COUNTS[*]}"
  hookguard_on idle-hookguard $IDLE_HG_PORT "limits: {max_connections: 20000}"
  local hookguard_pid=$STARTED_PID nginx_pidfile
  idle_case hookguard $IDLE_HG_PORT $hookguard_pid
  kill $hookguard_pid
  wait $hookguard_pid 2>/dev/null || true
  nginx_pidfile=$(nginx_in idle-nginx $IDLE_NGINX_PORT)
  # shellcheck disable=SC2046
  idle_case nginx $IDLE_NGINX_PORT $(nginx_pids "$nginx_pidfile")
  stop_nginx "$nginx_pidfile"
}

# --- Routes: one hookguard per route count, all in front of the same app. The measured route comes
# last in each config, so a scan would pass every other route first.
declare -A ROUTE_PID ROUTE_PORT
ROUTES=$DIR/routes.tsv
route_case() { # routes round
  local before after rps requests p50 p99 errors socket cpu
  before=$(cpu_ticks "${ROUTE_PID[$1]}")
  read -r rps requests p50 p99 errors socket < <(wrk_case "${ROUTE_PORT[$1]}" "$BODY" "$SECONDS_PER_CASE" 64)
  after=$(cpu_ticks "${ROUTE_PID[$1]}")
  cpu=$(cpu_us_per_request $((after - before)) "$requests")
  echo -e "$1\t$2\t$rps\t$p50\t$p99\t$errors\t$socket\t$cpu" >> "$ROUTES"
  printf '  %5s routes round %s: %10s req/s  p99 %7s ms  CPU %6s µs/req\n' "$1" "$2" "$rps" "$p99" "$cpu"
}
measure_routes() {
  local i n check round
  for i in "${!ROUTE_COUNTS[@]}"; do
    n=${ROUTE_COUNTS[$i]}
    python3 - "$n" > "$DIR/route-list-$n.yaml" <<'PY'
import sys
for i in range(1, int(sys.argv[1])):
    print(f"  - path: /webhooks/drivewidget-{i:05d}\n    name: drivewidget-{i:05d}\n    provider: drivewidget\n"
          f"    secrets: [{{env: BENCH_SECRET}}]")
PY
    ROUTE_PORT[$n]=$((ROUTES_PORT_BASE + i))
    hookguard_on "routes-$n" "${ROUTE_PORT[$n]}" "" "$DIR/route-list-$n.yaml"
    ROUTE_PID[$n]=$STARTED_PID
    check=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-DriveWidget-Signature: $(cat "$BODY.sig")" \
      --data-binary "@$BODY" "http://127.0.0.1:${ROUTE_PORT[$n]}$BENCH_PATH")
    [ "$check" = 200 ] || { echo "hookguard with $n routes answered $check" >&2; exit 1; }
  done
  echo -e "routes\tround\trps\tp50_ms\tp99_ms\terrors\tsocket_errors\tcpu_us_per_req" > "$ROUTES"
  # Every order of the three in turn, so each count runs first, second and third equally often.
  local orders=("1 100 10000" "100 10000 1" "10000 1 100" "10000 100 1" "100 1 10000" "1 10000 100")
  echo "routes: ${ROUTE_COUNTS[*]}, ${SECONDS_PER_CASE}s per case, $ROUNDS round(s), 64 connections, 1 KiB"
  for round in $(seq 1 "$ROUNDS"); do
    for n in ${orders[$(((round - 1) % 6))]}; do route_case "$n" "$round"; done
  done
  for n in "${ROUTE_COUNTS[@]}"; do kill "${ROUTE_PID[$n]}" 2>/dev/null || true; done
}

# --- Concurrency: 64 and 1,000 connections at the same fixed rate, hookguard and nginx in turns.
CONCURRENCY=$DIR/concurrency.tsv
concurrency_case() { # server connections round
  local port before after rps requests p50 p99 errors socket cpu
  if [ "$1" = hookguard ]; then port=$CONCURRENCY_HG_PORT before=$(cpu_ticks "$CONCURRENCY_HG_PID")
  else port=$NGINX_PORT before=$(nginx_ticks "$CONCURRENCY_NGINX_PIDFILE"); fi
  read -r rps requests p50 p99 errors socket < <(wrk_case "$port" "$BODY" "$SECONDS_PER_CASE" "$2" bench/rate.lua)
  if [ "$1" = hookguard ]; then after=$(cpu_ticks "$CONCURRENCY_HG_PID"); else after=$(nginx_ticks "$CONCURRENCY_NGINX_PIDFILE"); fi
  cpu=$(cpu_us_per_request $((after - before)) "$requests")
  echo -e "$1\t$2\t$3\t$RATE\t$rps\t$p50\t$p99\t$errors\t$socket\t$cpu" >> "$CONCURRENCY"
  printf '  %-9s %4s connections round %s: %9s req/s (target %s)  p50 %6s ms  p99 %7s ms  errors %s/%s\n' \
    "$1" "$2" "$3" "$rps" "$RATE" "$p50" "$p99" "$errors" "$socket"
}
measure_concurrency() {
  local round c cases
  hookguard_on concurrency-hookguard $CONCURRENCY_HG_PORT
  CONCURRENCY_HG_PID=$STARTED_PID
  CONCURRENCY_NGINX_PIDFILE=$(nginx_in concurrency-nginx $NGINX_PORT)
  echo -e "server\tconnections\tround\ttarget_rps\trps\tp50_ms\tp99_ms\terrors\tsocket_errors\tcpu_us_per_req" > "$CONCURRENCY"
  export RATE THREADS=2 # for bench/rate.lua; wrk_case runs -t2
  echo "concurrency: 64 and 1000 connections at $RATE req/s, ${SECONDS_PER_CASE}s per case, $ROUNDS round(s)"
  for round in $(seq 1 "$ROUNDS"); do
    cases=("hookguard 64" "hookguard 1000" "nginx 1000" "nginx 64")
    [ $((round % 2)) = 0 ] && cases=("nginx 64" "nginx 1000" "hookguard 1000" "hookguard 64")
    for c in "${cases[@]}"; do
      # shellcheck disable=SC2086
      concurrency_case $c "$round"
    done
  done
}

for part in $PARTS; do "measure_$part"; done
python3 bench/scaling_report.py "$DIR" "$OUT" "$SVG_DIR" "$SECONDS_PER_CASE" "$ROUNDS" "$RATE" "$RATE_NOTE" \
  "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
