#!/usr/bin/env bash
# The journal's memory: RSS of hookguard (release) after 1,000 and after 100,000 signed requests with
# admin_recent: 1000 (RECENT=100000 bench/journal_memory.sh for the per-entry cost). About 6 minutes:
# wrk's count script stops sending at the count, but wrk itself runs its full -d.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet --bin hookguard --example bench-app
HG=target/release/hookguard
APP=target/release/examples/bench-app
D=$(mktemp -d /tmp/hgmem.XXXX)
export BENCH_SECRET=bench-secret-5f2b8c1e9a7d4c3b
python3 -c "open('$D/body','wb').write(b'{\"event\":\"file.uploaded\",\"pad\":\"' + b'x'*990 + b'\"}')"
"$APP" 127.0.0.1:18400 & APID=$!
cat > "$D/hg.yaml" <<YAML
listen: 127.0.0.1:18401
admin: 127.0.0.1:18402
admin_recent: ${RECENT:-1000}
upstream: http://127.0.0.1:18400
log: {level: warn}
routes:
  - path: /webhooks/drivewidget
    provider: drivewidget
    secrets: [{env: BENCH_SECRET}]
YAML
"$HG" run --config "$D/hg.yaml" 2>"$D/hg.log" & HPID=$!
trap 'kill $HPID $APID 2>/dev/null || true' EXIT
for i in $(seq 50); do curl -sf http://127.0.0.1:18402/readyz >/dev/null && break; sleep 0.1; done
export SIGNATURE=$("$HG" sign --provider drivewidget --secret-env BENCH_SECRET "$D/body" | sed 's/^[^:]*: //')
export BODY_FILE=$D/body
rss() { awk '/VmRSS/{print $2}' /proc/$HPID/status; }
total() { curl -s http://127.0.0.1:18402/metrics | awk '/^hookguard_requests_total/{s+=$2} END{print s+0}'; }
echo "start: rss_kib=$(rss) requests=$(total)"
COUNT=250 wrk -t4 -c4 -d60s -s bench/count.lua http://127.0.0.1:18401/webhooks/drivewidget >/dev/null
echo "after ~1000: rss_kib=$(rss) requests=$(total) journal=$(curl -s 'http://127.0.0.1:18402/api/deliveries?limit=100000' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["deliveries"]))')"
COUNT=24750 wrk -t4 -c4 -d300s -s bench/count.lua http://127.0.0.1:18401/webhooks/drivewidget >/dev/null
echo "after ~100000: rss_kib=$(rss) requests=$(total) journal=$(curl -s 'http://127.0.0.1:18402/api/deliveries?limit=100000' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["deliveries"]))')"
grep -c . "$D/hg.log" || true
