#!/usr/bin/env bash
# Side-by-side benchmark with two apps: the hyper bench-app and an nginx `return 200` app (its own nginx
# instance). In front of each: the app direct, nginx proxy_pass and hookguard; nginx + njs HMAC in front
# of the bench-app. wrk sends signed DriveWidget requests at 1 KiB, 64 KiB and 1 MiB. Reports req/s,
# p50/p99, and CPU per request against nginx's plus the SHA-256 of the body (this CPU's openssl rate,
# measured first). Then bench/scaling.sh (routes, idle connections, concurrency) and bench/queue.sh
# (queue mode against direct mode). Writes BENCHMARKS.md and bench/*.svg.
#
#   bench/run.sh                 # 4 s per case, 6 rounds, medians of per-round ratios (about 15 minutes)
#   bench/run.sh --smoke         # 1 s per case, 2 rounds: checks that everything works (2-3 minutes);
#                                # writes under /tmp, never BENCHMARKS.md
#   BASELINE=/path/to/older/hookguard bench/run.sh       # also measure an older build, right beside
#                                                         # this one, for a before/after in one run
#   BENCH_SIZES="1024 65536" bench/run.sh                # only these body sizes, no scaling or queue
#                                                         # sections; leaves BENCHMARKS.md alone
#   BENCH_SECONDS, BENCH_ROUNDS, BENCH_CONNECTIONS, BENCH_HASH_SECONDS override the defaults.
#
# Everything runs on this machine, on 127.0.0.1. Installs nginx, its njs module and wrk if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1
if [ "$SMOKE" = 1 ]; then DEFAULT_SECONDS=1 DEFAULT_ROUNDS=2 DEFAULT_HASH=1; else DEFAULT_SECONDS=4 DEFAULT_ROUNDS=6 DEFAULT_HASH=3; fi
SECONDS_PER_CASE=${BENCH_SECONDS:-$DEFAULT_SECONDS}
# An even number, so each order of hookguard and a peer (see the loop below) gets the same share of
# rounds: whichever of the two runs first gets a few percent more here.
ROUNDS=${BENCH_ROUNDS:-$DEFAULT_ROUNDS}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
HASH_SECONDS=${BENCH_HASH_SECONDS:-$DEFAULT_HASH}
BASELINE=${BASELINE:-}
read -r -a SIZES <<< "${BENCH_SIZES:-1024 65536 1048576}"
PARTIAL=0
[ -n "${BENCH_SIZES:-}" ] && PARTIAL=1

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || [ ! -f /usr/lib/nginx/modules/ngx_http_js_module.so ]; then
  echo "installing nginx, libnginx-mod-http-js and wrk"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-http-js wrk >/dev/null
  service nginx stop >/dev/null 2>&1 || true
fi
need python3 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null; }
need openssl || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssl >/dev/null; }
# shellcheck source=bench/lib.sh
. bench/lib.sh

# Cases per round: bench-app direct, nginx, njs, hookguard; nginx app direct, nginx, hookguard; plus a
# baseline in front of each app. Each case costs about 0.15 s beyond its own seconds (fitted to a smoke
# run and a 2 s x 2-round run). Scaling: about 25 s of idle connections and start-ups, then 7 cases a
# round. Queue: 2 cases a round, the backlog's drain (about one more case) and 8 s of waits and probe.
CASES=$((7 + ${BASELINE:+2}+0))
EXPECTED=$(awk -v r="$ROUNDS" -v s="$SECONDS_PER_CASE" -v n="${#SIZES[@]}" -v c="$CASES" -v h="$HASH_SECONDS" -v p="$PARTIAL" 'BEGIN {
  t = r * n * c * (s + 0.15) + n * h + 10
  if (p == 0) t += 25 + 7 * r * (s + 0.25) + r * (3 * s + 8)
  printf "%.0f", t / 60 }')
echo "expected duration: about $EXPECTED minutes (${SECONDS_PER_CASE}s per case, $ROUNDS rounds), after the build"

cargo build --release --quiet --bin hookguard --example bench-app
# The durations printed from here on leave out the build (minutes with LTO when the commit changed).
echo "built in $((SECONDS / 60)) min $((SECONDS % 60)) s"
SECONDS=0
HOOKGUARD=$ROOT/target/release/hookguard
APP=$ROOT/target/release/examples/bench-app

DIR=$(mktemp -d /tmp/hookguard-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_nginx "$DIR/nginx.pid"
  stop_nginx "$DIR/nginx-app.pid"
  wait 2>/dev/null || true
}
trap cleanup EXIT

for size in "${SIZES[@]}"; do make_signed_body "$size" "$DIR/body-$size" "$HOOKGUARD"; done

# The floor for the hash: this CPU's SHA-256 rate at each body size, measured before anything else
# runs (openssl's CPU time, one-shot digests of exactly that many bytes).
HASH=$DIR/hash.tsv
echo -e "size\tbytes_per_s\tus_per_body" > "$HASH"
for size in "${SIZES[@]}"; do
  rate=$(openssl speed -mr -evp sha256 -bytes "$size" -seconds "$HASH_SECONDS" 2>/dev/null | awk -F: '/^\+F:/ {print $4}')
  us=$(awk -v s="$size" -v r="$rate" 'BEGIN {printf "%.2f", s / r * 1e6}')
  echo -e "$size\t$rate\t$us" >> "$HASH"
  printf '  SHA-256 of %s bytes: %.2f GB/s, %s µs a body\n' "$size" "$(awk -v r="$rate" 'BEGIN {print r / 1e9}')" "$us"
done

APP_PORT=18300 NGINX_PORT=18301 NJS_PORT=18302 HG_PORT=18303 ADMIN_PORT=18304 BASE_PORT=18305
NGINX_APP_PORT=18306 NGINX_TO_NGINX_APP_PORT=18307 HG_NGINX_APP_PORT=18308 BASE_NGINX_APP_PORT=18309

"$APP" "127.0.0.1:$APP_PORT" & APP_PID=$!
PIDS+=($APP_PID)
sed "s/SECRET_PLACEHOLDER/$BENCH_SECRET/" bench/verify.js > "$DIR/verify.js"
start_nginx bench/nginx-app.conf.template "$DIR/nginx-app.conf" "$DIR" NGINX_APP_PORT=$NGINX_APP_PORT
start_nginx bench/nginx.conf.template "$DIR/nginx.conf" "$DIR" APP_PORT=$APP_PORT NGINX_PORT=$NGINX_PORT \
  NJS_PORT=$NJS_PORT NGINX_APP_PORT=$NGINX_APP_PORT NGINX_TO_NGINX_APP_PORT=$NGINX_TO_NGINX_APP_PORT

start_hookguard() { # binary listen-port app-port name [admin yaml]; sets STARTED_PID
  hookguard_config "$2" "$3" "${5:-}" > "$DIR/$4.yaml"
  "$1" run --config "$DIR/$4.yaml" 2> "$DIR/$4.log" &
  STARTED_PID=$!
  PIDS+=($STARTED_PID)
}
start_hookguard "$HOOKGUARD" $HG_PORT $APP_PORT hookguard "admin: 127.0.0.1:$ADMIN_PORT"; HG_PID=$STARTED_PID
start_hookguard "$HOOKGUARD" $HG_NGINX_APP_PORT $NGINX_APP_PORT hookguard-nginx-app; HG_NGINX_APP_PID=$STARTED_PID
if [ -n "$BASELINE" ]; then
  start_hookguard "$BASELINE" $BASE_PORT $APP_PORT baseline; BASE_PID=$STARTED_PID
  start_hookguard "$BASELINE" $BASE_NGINX_APP_PORT $NGINX_APP_PORT baseline-nginx-app; BASE_NGINX_APP_PID=$STARTED_PID
fi

# Where each case sends its load, and whose CPU it counts: a process id, or an nginx instance's
# pid file (its master and workers). "direct" counts the app's own CPU.
declare -A PORT CPU
PORT[bench-app:direct]=$APP_PORT;            CPU[bench-app:direct]=pid:$APP_PID
PORT[bench-app:nginx]=$NGINX_PORT;           CPU[bench-app:nginx]=nginx:$DIR/nginx.pid
PORT[bench-app:njs]=$NJS_PORT;               CPU[bench-app:njs]=nginx:$DIR/nginx.pid
PORT[bench-app:hookguard]=$HG_PORT;          CPU[bench-app:hookguard]=pid:$HG_PID
PORT[nginx-app:direct]=$NGINX_APP_PORT;      CPU[nginx-app:direct]=nginx:$DIR/nginx-app.pid
PORT[nginx-app:nginx]=$NGINX_TO_NGINX_APP_PORT; CPU[nginx-app:nginx]=nginx:$DIR/nginx.pid
PORT[nginx-app:hookguard]=$HG_NGINX_APP_PORT; CPU[nginx-app:hookguard]=pid:$HG_NGINX_APP_PID
if [ -n "$BASELINE" ]; then
  PORT[bench-app:baseline]=$BASE_PORT;       CPU[bench-app:baseline]=pid:$BASE_PID
  PORT[nginx-app:baseline]=$BASE_NGINX_APP_PORT; CPU[nginx-app:baseline]=pid:$BASE_NGINX_APP_PID
fi
for key in "${!PORT[@]}"; do wait_for_port "${PORT[$key]}"; done

# Each verifier must answer 200 to a good signature and 401 to a bad one before it is measured.
check() {
  local port=$1 signature=$2 expected=$3 got
  got=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: application/json" \
    -H "X-DriveWidget-Signature: $signature" --data-binary "@$DIR/body-${SIZES[0]}" "http://127.0.0.1:$port$BENCH_PATH")
  if [ "$got" != "$expected" ]; then
    echo "port $port answered $got, expected $expected" >&2
    exit 1
  fi
}
for key in "${!PORT[@]}"; do
  case $key in
    *:direct|*:nginx) check "${PORT[$key]}" "$(cat "$DIR/body-${SIZES[0]}.sig")" 200 ;;
    *)
      check "${PORT[$key]}" "$(cat "$DIR/body-${SIZES[0]}.sig")" 200
      check "${PORT[$key]}" "sha256=$(printf '0%.0s' $(seq 1 64))" 401
      ;;
  esac
done
echo "every server answers; the verifiers answer 200 to a good signature and 401 to a bad one"

ticks() { # pid:N or nginx:pid-file
  case $1 in
    pid:*) cpu_ticks "${1#pid:}" ;;
    nginx:*) nginx_ticks "${1#nginx:}" ;;
  esac
}
IDLE_RSS=$(rss_kib "$HG_PID")

RESULTS=$DIR/results.tsv
echo -e "size\tapp\tsetup\tround\trps\tp50_ms\tp99_ms\terrors\tsocket_errors\tcpu_us_per_req" > "$RESULTS"
run_case() { # size app setup round
  local size=$1 app=$2 setup=$3 round=$4 before after rps requests p50 p99 errors socket cpu
  before=$(ticks "${CPU[$app:$setup]}")
  read -r rps requests p50 p99 errors socket < <(wrk_case "${PORT[$app:$setup]}" "$DIR/body-$size" "$SECONDS_PER_CASE" "$CONNECTIONS")
  after=$(ticks "${CPU[$app:$setup]}")
  cpu=$(cpu_us_per_request $((after - before)) "$requests")
  echo -e "$size\t$app\t$setup\t$round\t$rps\t$p50\t$p99\t$errors\t$socket\t$cpu" >> "$RESULTS"
  printf '  %-8s %-9s %-10s round %s: %10s req/s  p50 %7s ms  p99 %7s ms  CPU %7s µs/req  non-2xx %s\n' \
    "$size" "$app" "$setup" "$round" "$rps" "$p50" "$p99" "$cpu" "$errors"
}

# The setups take turns within a round, so a noisy neighbour hits them alike. hookguard runs right
# between its two peers, and the order reverses every round, so the peers swap sides and a drift in
# the machine's speed favours neither side of a ratio. With the nginx app, the app direct is the
# second peer. A baseline build runs right beside hookguard.
order() { # app round
  local setups
  case $1 in
    bench-app) setups=(direct nginx ${BASELINE:+baseline} hookguard njs) ;;
    nginx-app) setups=(nginx ${BASELINE:+baseline} hookguard direct) ;;
  esac
  if [ $(($2 % 2)) = 1 ]; then echo "${setups[@]}"; else printf '%s\n' "${setups[@]}" | tac | tr '\n' ' '; fi
}
echo "measuring: ${SECONDS_PER_CASE}s per case, $ROUNDS round(s), $CONNECTIONS connections"
for round in $(seq 1 "$ROUNDS"); do
  apps=(bench-app nginx-app)
  [ $((round % 2)) = 0 ] && apps=(nginx-app bench-app)
  for size in "${SIZES[@]}"; do
    for app in "${apps[@]}"; do
      for setup in $(order "$app" "$round"); do run_case "$size" "$app" "$setup" "$round"; done
    done
  done
done
echo "main tables measured after $((SECONDS / 60)) min $((SECONDS % 60)) s"
PEAK_RSS=$(rss_kib "$HG_PID" VmHWM)
LOAD_RSS=$(rss_kib "$HG_PID")

MACHINE=$(machine_line)
VERSIONS="$(nginx -v 2>&1 | sed 's/nginx version: //'), njs $(dpkg-query -W -f='${Version}' libnginx-mod-http-js 2>/dev/null), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(openssl version | awk '{print $1, $2}'), hookguard $($HOOKGUARD --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
OUT=BENCHMARKS.md
SVG_DIR=bench
# A smoke run, or one over only some sizes, must not replace the full record.
if [ "$SMOKE" = 1 ] || [ "$PARTIAL" = 1 ]; then OUT=$DIR/BENCHMARKS.md SVG_DIR=$DIR; fi
python3 bench/report.py "$RESULTS" "$HASH" "$OUT" "$SVG_DIR" "$MACHINE" "$VERSIONS" "$IDLE_RSS" "$LOAD_RSS" "$PEAK_RSS" \
  "$SECONDS_PER_CASE" "$ROUNDS" "$CONNECTIONS"

# The scaling rows and queue mode, each with its own section of the same file, after the servers above stop.
cleanup
trap - EXIT
if [ "$PARTIAL" = 0 ]; then
  # The concurrency rows hold a fixed rate: a quarter of the lower of hookguard's and nginx's 1 KiB
  # req/s with the bench-app (BENCH_RATE overrides it).
  if [ -n "${BENCH_RATE:-}" ]; then RATE=$BENCH_RATE RATE_NOTE="set by BENCH_RATE"
  else
    RATE=$(python3 bench/report.py --fixed-rate "$RESULTS")
    RATE_NOTE="a quarter of the lower of hookguard's and nginx proxy_pass's 1 KiB req/s with the bench-app and 64 connections in the main run (medians), so that 1,000 connections, which cost more a request, stay below saturation"
  fi
  BENCH_OUT=$OUT BENCH_SVG_DIR=$SVG_DIR BENCH_SECONDS=$SECONDS_PER_CASE BENCH_ROUNDS=$ROUNDS BENCH_RATE=$RATE \
    BENCH_RATE_NOTE=$RATE_NOTE bench/scaling.sh
  echo "scaling measured after $((SECONDS / 60)) min $((SECONDS % 60)) s"
  BENCH_OUT=$OUT BENCH_SECONDS=$SECONDS_PER_CASE BENCH_ROUNDS=$ROUNDS bench/queue.sh
fi
echo "wrote $OUT; raw results in $DIR; took $((SECONDS / 60)) min $((SECONDS % 60)) s"
