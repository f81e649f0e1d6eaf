#!/usr/bin/env bash
# Side-by-side benchmark: the app direct, nginx proxy_pass, nginx + njs HMAC, and hookguard, each
# driven by wrk with signed DriveWidget requests at 1 KiB, 64 KiB and 1 MiB. Prints one table and
# writes BENCHMARKS.md and bench/chart.svg. Then bench/queue.sh compares queue mode with direct mode.
#
#   bench/run.sh                 # 10 s per case, 6 rounds, medians reported (about 15 minutes)
#   BENCH_SECONDS=1 BENCH_ROUNDS=1 bench/run.sh --smoke   # a quick check that everything works
#   BASELINE=/path/to/older/hookguard bench/run.sh       # also measure an older build, right beside
#                                                         # this one, for a before/after in one run
#   BENCH_SIZES="1024 65536" bench/run.sh                # only these body sizes
#
# Everything runs on this machine, on 127.0.0.1. Installs nginx, its njs module and wrk if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECONDS_PER_CASE=${BENCH_SECONDS:-10}
# An even number, so each order of hookguard and a peer (see the loop below) gets the same share of
# rounds: whichever of the two runs first gets a few percent more here.
ROUNDS=${BENCH_ROUNDS:-6}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
SMOKE=0
[ "${1:-}" = "--smoke" ] && SMOKE=1

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk || [ ! -f /usr/lib/nginx/modules/ngx_http_js_module.so ]; then
  echo "installing nginx, libnginx-mod-http-js and wrk"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx libnginx-mod-http-js wrk >/dev/null
  service nginx stop >/dev/null 2>&1 || true
fi
need python3 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 >/dev/null; }

cargo build --release --quiet --bin hookguard --example bench-app
HOOKGUARD=$ROOT/target/release/hookguard
APP=$ROOT/target/release/examples/bench-app

DIR=$(mktemp -d /tmp/hookguard-bench.XXXXXX)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  [ -f "$DIR/nginx.pid" ] && kill "$(cat "$DIR/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap cleanup EXIT

APP_PORT=18300 NGINX_PORT=18301 NJS_PORT=18302 HG_PORT=18303 ADMIN_PORT=18304 BASE_PORT=18305
BASELINE=${BASELINE:-}
export BENCH_SECRET=bench-secret-5f2b8c1e9a7d4c3b
PATH_=/webhooks/drivewidget

# Bodies of exactly 1 KiB, 64 KiB and 1 MiB: a JSON object padded to size.
make_body() {
  python3 - "$1" "$2" <<'PY'
import sys
size, path = int(sys.argv[1]), sys.argv[2]
head = b'{"event":"file.uploaded","connection_id":"abc-123","pad":"'
tail = b'"}'
open(path, "wb").write(head + b"x" * (size - len(head) - len(tail)) + tail)
PY
}
read -r -a SIZES <<< "${BENCH_SIZES:-1024 65536 1048576}"
LABELS=("1 KiB" "64 KiB" "1 MiB")
for size in "${SIZES[@]}"; do
  make_body "$size" "$DIR/body-$size"
  "$HOOKGUARD" sign --provider drivewidget --secret-env BENCH_SECRET "$DIR/body-$size" | sed 's/^[^:]*: //' > "$DIR/sig-$size"
done

"$APP" "127.0.0.1:$APP_PORT" & PIDS+=($!)

sed "s/SECRET_PLACEHOLDER/$BENCH_SECRET/" bench/verify.js > "$DIR/verify.js"
mkdir -p "$DIR"/{client_temp,proxy_temp,fastcgi_temp,uwsgi_temp,scgi_temp}
sed -e "s#@DIR@#$DIR#g" -e "s#@APP_PORT@#$APP_PORT#g" -e "s#@NGINX_PORT@#$NGINX_PORT#g" -e "s#@NJS_PORT@#$NJS_PORT#g" \
  bench/nginx.conf.template > "$DIR/nginx.conf"
nginx -c "$DIR/nginx.conf"

cat > "$DIR/hookguard.yaml" <<YAML
listen: 127.0.0.1:$HG_PORT
admin: 127.0.0.1:$ADMIN_PORT
upstream: http://127.0.0.1:$APP_PORT
log: {format: text, level: info}
routes:
  - path: $PATH_
    name: drivewidget
    provider: drivewidget
    max_body: 2MiB
    secrets: [{env: BENCH_SECRET}]
YAML
"$HOOKGUARD" run --config "$DIR/hookguard.yaml" 2> "$DIR/hookguard.log" & HG_PID=$!
PIDS+=($HG_PID)
BASE_PID=
if [ -n "$BASELINE" ]; then
  sed -e "s/127.0.0.1:$HG_PORT/127.0.0.1:$BASE_PORT/" -e "/^admin:/d" "$DIR/hookguard.yaml" > "$DIR/baseline.yaml"
  "$BASELINE" run --config "$DIR/baseline.yaml" 2> "$DIR/baseline.log" & BASE_PID=$!
  PIDS+=($BASE_PID)
fi

# Wait for every server to answer.
for port in $APP_PORT $NGINX_PORT $NJS_PORT $HG_PORT ${BASELINE:+$BASE_PORT}; do
  for _ in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && break
    sleep 0.1
  done
done

# Each verifier must answer 200 to a good signature and 401 to a bad one before it is measured.
check() {
  local port=$1 signature=$2 expected=$3 got
  got=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "Content-Type: application/json" \
    -H "X-DriveWidget-Signature: $signature" --data-binary "@$DIR/body-1024" "http://127.0.0.1:$port$PATH_")
  if [ "$got" != "$expected" ]; then
    echo "port $port answered $got, expected $expected" >&2
    exit 1
  fi
}
for port in $NJS_PORT $HG_PORT ${BASELINE:+$BASE_PORT}; do
  check "$port" "$(cat "$DIR/sig-1024")" 200
  check "$port" "sha256=$(printf '0%.0s' $(seq 1 64))" 401
done
echo "verifiers answer 200 to a good signature and 401 to a bad one"

rss_kib() { awk "/^$2:/ {print \$2}" "/proc/$1/status"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# nginx's master and workers together, to put its CPU per request beside hookguard's.
nginx_ticks() { local total=0 pid; for pid in $(pgrep -f "nginx.*$DIR/nginx.conf|nginx: worker"); do total=$((total + $(cpu_ticks "$pid" 2>/dev/null || echo 0))); done; echo $total; }
IDLE_RSS=$(rss_kib $HG_PID VmRSS)

RESULTS=$DIR/results.tsv
echo -e "size\tsetup\tround\trps\tp50_ms\tp99_ms\terrors\tcpu_us_per_req" > "$RESULTS"
run_case() {
  local size=$1 setup=$2 port=$3 round=$4 out rps p50 p99 errors before after requests cpu
  case $setup in
    hookguard) before=$(cpu_ticks $HG_PID) ;;
    baseline) before=$(cpu_ticks $BASE_PID) ;;
    nginx|njs) before=$(nginx_ticks) ;;
  esac
  out=$(BODY_FILE="$DIR/body-$size" SIGNATURE="$(cat "$DIR/sig-$size")" \
    wrk -t2 -c"$CONNECTIONS" -d"${SECONDS_PER_CASE}s" --latency -s bench/post.lua "http://127.0.0.1:$port$PATH_")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  to_ms() { awk '{v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v} else {sub(/s$/,"",v); print v*1000}}'; }
  p50=$(awk '$1=="50%" {print $2}' <<<"$out" | to_ms)
  p99=$(awk '$1=="99%" {print $2}' <<<"$out" | to_ms)
  errors=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  errors=${errors:-0}
  cpu=-
  case $setup in
    hookguard) after=$(cpu_ticks $HG_PID) ;;
    baseline) after=$(cpu_ticks $BASE_PID) ;;
    nginx|njs) after=$(nginx_ticks) ;;
    *) after= ;;
  esac
  if [ -n "$after" ]; then
    # Clock ticks are 1/100 s: CPU microseconds per request.
    cpu=$(awk -v t=$((after - before)) -v n="$requests" 'BEGIN {printf "%.1f", t * 10000 / n}')
  fi
  echo -e "$size\t$setup\t$round\t$rps\t$p50\t$p99\t$errors\t$cpu" >> "$RESULTS"
  printf '  %-8s %-10s round %s: %10s req/s  p50 %7s ms  p99 %7s ms  non-2xx %s\n' \
    "$size" "$setup" "$round" "$rps" "$p50" "$p99" "$errors"
}

echo "measuring: ${SECONDS_PER_CASE}s per case, $ROUNDS round(s), $CONNECTIONS connections"
for round in $(seq 1 "$ROUNDS"); do
  for size in "${SIZES[@]}"; do
    # The setups take turns within a round, so a noisy neighbour hits them alike. hookguard runs right
    # between its two peers, and the peers swap sides every round, so a drift in the machine's speed
    # favours neither side of a ratio.
    run_case "$size" direct $APP_PORT "$round"
    if [ $((round % 2)) = 1 ]; then
      run_case "$size" nginx $NGINX_PORT "$round"
      [ -n "$BASELINE" ] && run_case "$size" baseline $BASE_PORT "$round"
      run_case "$size" hookguard $HG_PORT "$round"
      run_case "$size" njs $NJS_PORT "$round"
    else
      run_case "$size" njs $NJS_PORT "$round"
      run_case "$size" hookguard $HG_PORT "$round"
      [ -n "$BASELINE" ] && run_case "$size" baseline $BASE_PORT "$round"
      run_case "$size" nginx $NGINX_PORT "$round"
    fi
  done
done
PEAK_RSS=$(rss_kib $HG_PID VmHWM)
LOAD_RSS=$(rss_kib $HG_PID VmRSS)

MACHINE="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r)"
VERSIONS="$(nginx -v 2>&1 | sed 's/nginx version: //'), njs $(dpkg-query -W -f='${Version}' libnginx-mod-http-js 2>/dev/null), $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), hookguard $($HOOKGUARD --version | awk '{print $2}') ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
OUT=BENCHMARKS.md
# A smoke run, or one over only some sizes, must not replace the full record.
if [ "$SMOKE" = 1 ] || [ -n "${BENCH_SIZES:-}" ]; then OUT=$DIR/BENCHMARKS.md; fi
python3 bench/report.py "$RESULTS" "$OUT" bench/chart.svg "$MACHINE" "$VERSIONS" "$IDLE_RSS" "$LOAD_RSS" "$PEAK_RSS" \
  "$SECONDS_PER_CASE" "$ROUNDS" "$CONNECTIONS" "$SMOKE"

# Queue mode against direct mode, with its own section of BENCHMARKS.md, after the servers above stop.
cleanup
trap - EXIT
if [ -z "${BENCH_SIZES:-}" ]; then
  QUEUE_ARGS=()
  [ "$SMOKE" = 1 ] && QUEUE_ARGS=(--smoke)
  BENCH_SECONDS=$SECONDS_PER_CASE BENCH_ROUNDS=$ROUNDS bench/queue.sh "${QUEUE_ARGS[@]}"
fi
