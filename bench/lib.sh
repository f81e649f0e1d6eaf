# Shared by bench/run.sh and bench/scaling.sh (sourced, not run): signed bodies, waiting for servers,
# wrk's figures, and the CPU and memory each server used, read from /proc.

BENCH_SECRET=${BENCH_SECRET:-bench-secret-5f2b8c1e9a7d4c3b}
export BENCH_SECRET
BENCH_PATH=/webhooks/drivewidget

# 10,000 idle connections, and wrk's 1,000, need more descriptors than the usual 1,024.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# A JSON object padded to exactly SIZE bytes, and its DriveWidget signature beside it (PATH.sig).
make_signed_body() { # size path hookguard
  python3 - "$1" "$2" <<'PY'
import sys
size, path = int(sys.argv[1]), sys.argv[2]
head = b'{"event":"file.uploaded","connection_id":"abc-123","pad":"'
tail = b'"}'
open(path, "wb").write(head + b"x" * (size - len(head) - len(tail)) + tail)
PY
  "$3" sign --provider drivewidget --secret-env BENCH_SECRET "$2" | sed 's/^[^:]*: //' > "$2.sig"
}

wait_for_port() { # port
  local _
  for _ in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
    sleep 0.1
  done
  echo "nothing answered on port $1" >&2
  return 1
}

# wrk against 127.0.0.1:PORT with the signed body; prints "rps requests p50_ms p99_ms non2xx
# socket_errors" (socket errors: connect, read, write and timeout together).
wrk_case() { # port body seconds connections [script]
  local out script=${5:-bench/post.lua}
  out=$(BODY_FILE="$2" SIGNATURE="$(cat "$2.sig")" \
    wrk -t2 -c"$4" -d"$3s" --latency -s "$script" "http://127.0.0.1:$1$BENCH_PATH")
  awk '
    function ms(v) { if (v ~ /us$/) { sub(/us$/, "", v); return v / 1000 }
                     if (v ~ /ms$/) { sub(/ms$/, "", v); return v + 0 }
                     if (v ~ /m$/)  { sub(/m$/, "", v);  return v * 60000 }
                     sub(/s$/, "", v); return v * 1000 }
    /^Requests\/sec:/ { rps = $2 }
    /requests in/ { requests = $1 }
    $1 == "50%" { p50 = ms($2) }
    $1 == "99%" { p99 = ms($2) }
    /Non-2xx or 3xx responses:/ { errors = $5 }
    /Socket errors:/ { gsub(/,/, ""); socket = $4 + $6 + $8 + $10 }
    END { printf "%s %s %s %s %s %s\n", rps, requests, p50, p99, errors + 0, socket + 0 }' <<<"$out"
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kib() { awk "/^${2:-VmRSS}:/ {print \$2}" "/proc/$1/status"; }

# An nginx instance's master (from its own pid file) and its workers (the master's children), so one
# instance's figures never include another's.
nginx_pids() { # pid-file
  local master
  master=$(cat "$1")
  echo "$master" $(pgrep -P "$master")
}
nginx_ticks() { # pid-file
  local total=0 pid
  for pid in $(nginx_pids "$1"); do total=$((total + $(cpu_ticks "$pid"))); done
  echo $total
}

# Clock ticks are 1/100 s: CPU microseconds per request.
cpu_us_per_request() { # ticks requests
  awk -v t="$1" -v n="$2" 'BEGIN { if (n > 0) printf "%.1f", t * 10000 / n; else print "-" }'
}

# nginx with the benchmark's template: DIR, then the ports the template names, as NAME=value.
start_nginx() { # template conf-out dir NAME=value...
  local template=$1 conf=$2 dir=$3 expr=()
  shift 3
  mkdir -p "$dir"/{client_temp,proxy_temp,fastcgi_temp,uwsgi_temp,scgi_temp}
  expr=(-e "s#@DIR@#$dir#g")
  local pair
  for pair in "$@"; do expr+=(-e "s#@${pair%%=*}@#${pair#*=}#g"); done
  sed "${expr[@]}" "$template" > "$conf"
  nginx -c "$conf"
}

stop_nginx() { # pid-file
  [ -f "$1" ] && kill "$(cat "$1")" 2>/dev/null || true
  local _
  for _ in $(seq 1 50); do [ -f "$1" ] || return 0; sleep 0.1; done
}

hookguard_config() { # listen-port upstream-port [extra top-level yaml] [routes-file]
  cat <<YAML
listen: 127.0.0.1:$1
upstream: http://127.0.0.1:$2
log: {format: text, level: info}
$3
routes:
YAML
  if [ -n "${4:-}" ]; then cat "$4"; fi
  cat <<YAML
  - path: $BENCH_PATH
    name: drivewidget
    provider: drivewidget
    max_body: 2MiB
    secrets: [{env: BENCH_SECRET}]
YAML
}

machine_line() {
  echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, Linux $(uname -r)"
}
