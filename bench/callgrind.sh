#!/usr/bin/env bash
# Instructions per request under callgrind: repeatable, unlike seconds on a shared machine.
#
#   bench/callgrind.sh            # 1 KiB signed DriveWidget deliveries over one keep-alive connection
#   BODY_SIZE=65536 bench/callgrind.sh
#
# hookguard runs under `valgrind --tool=callgrind` twice, serving FEW and then MANY requests; the
# difference divided by MANY - FEW is the cost of one request, free of start-up and shutdown.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
FEW=${FEW:-200}
MANY=${MANY:-1200}
BODY_SIZE=${BODY_SIZE:-1024}
command -v valgrind >/dev/null || {
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind >/dev/null
}

cargo build --profile profiling --quiet --bin hookguard --example bench-app
HOOKGUARD=$ROOT/target/profiling/hookguard
APP=$ROOT/target/profiling/examples/bench-app
DIR=$(mktemp -d /tmp/hookguard-callgrind.XXXXXX)
APP_PORT=18310 HG_PORT=18311
export BENCH_SECRET=callgrind-secret-5f2b8c1e

"$APP" "127.0.0.1:$APP_PORT" & APP_PID=$!
trap 'kill $APP_PID 2>/dev/null || true' EXIT
python3 - "$BODY_SIZE" "$DIR/body" <<'PY'
import sys
size, path = int(sys.argv[1]), sys.argv[2]
head, tail = b'{"event":"file.uploaded","pad":"', b'"}'
open(path, "wb").write(head + b"x" * (size - len(head) - len(tail)) + tail)
PY
SIGNATURE=$("$HOOKGUARD" sign --provider drivewidget --secret-env BENCH_SECRET "$DIR/body" | sed 's/^[^:]*: //')
cat > "$DIR/hookguard.yaml" <<YAML
listen: 127.0.0.1:$HG_PORT
upstream: http://127.0.0.1:$APP_PORT
routes:
  - path: /webhooks/drivewidget
    name: drivewidget
    provider: drivewidget
    max_body: 2MiB
    secrets: [{env: BENCH_SECRET}]
YAML

# Prints the instructions hookguard executed while serving $1 requests.
instructions() {
  local count=$1 out=$DIR/callgrind.$1
  valgrind --tool=callgrind --callgrind-out-file="$out" "$HOOKGUARD" run --config "$DIR/hookguard.yaml" \
    2>"$DIR/log.$count" & local pid=$!
  python3 - "$HG_PORT" "$count" "$DIR/body" "$SIGNATURE" <<'PY'
import http.client, sys, time
port, count, body, signature = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], "rb").read(), sys.argv[4]
for _ in range(600):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.connect()
        break
    except OSError:
        time.sleep(0.1)
headers = {"X-DriveWidget-Signature": signature, "Content-Type": "application/json"}
for _ in range(count):
    conn.request("POST", "/webhooks/drivewidget", body, headers)
    response = conn.getresponse()
    response.read()
    assert response.status == 200, response.status
PY
  kill -TERM "$pid"
  wait "$pid" || true
  awk '/^summary:/ {print $2}' "$out"
}

few=$(instructions "$FEW")
many=$(instructions "$MANY")
echo "body ${BODY_SIZE} B: $few instructions for $FEW requests, $many for $MANY"
echo "per request: $(( (many - few) / (MANY - FEW) ))"
