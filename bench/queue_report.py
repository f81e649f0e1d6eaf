"""Summarises bench/queue.sh's rounds into its section of BENCHMARKS.md (between markers)."""
import csv
import statistics
import sys

results, out, seconds, rounds, connections, commit = sys.argv[1:7]
rows = list(csv.DictReader(open(results), delimiter="\t"))


def med(setup, key):
    values = [float(r[key]) for r in rows if r["setup"] == setup and r[key] not in ("", "-")]
    return statistics.median(values) if values else float("nan")


ratios = sorted(
    float(q["rps"]) / float(d["rps"])
    for q in rows if q["setup"] == "queue"
    for d in rows if d["setup"] == "direct" and d["round"] == q["round"] and float(d["rps"]) > 0
)
ratio = statistics.median(ratios)
spread = f" ({ratios[0]:.2f}–{ratios[-1]:.2f} across rounds)" if len(ratios) > 1 else ""
verdict = "met" if ratio >= 0.5 else "NOT met"
section = f"""<!-- queue:start -->
## Queue mode against direct mode

`bench/queue.sh` (also run by `bench/run.sh`), commit {commit}: 1 KiB signed DriveWidget deliveries,
{connections} connections, {seconds} s per case, {rounds} round(s), the two setups in turns on one app and
one build. A queue answer is `200 {{"queued":…}}` sent only after the delivery was written to the
embedded spool and fsync'd; the route has `concurrency: 32`. Medians:

| setup | req/s acknowledged | p50 ms to acknowledge | p99 ms | non-2xx | CPU µs per request |
|---|---|---|---|---|---|
| direct | {med('direct', 'rps'):,.0f} | {med('direct', 'p50_ms'):.2f} | {med('direct', 'p99_ms'):.2f} | {sum(int(r['errors']) for r in rows if r['setup'] == 'direct')} | {med('direct', 'cpu_us_per_req'):.1f} |
| queue | {med('queue', 'rps'):,.0f} | {med('queue', 'p50_ms'):.2f} | {med('queue', 'p99_ms'):.2f} | {sum(int(r['errors']) for r in rows if r['setup'] == 'queue')} | {med('queue', 'cpu_us_per_req'):.1f} |

- **Queue ÷ direct: {ratio:.2f}×**{spread}. The goal of at least 0.5× is {verdict}.
- **The disk's fsync rate**, measured in the same run on the spool's own directory (write + fsync of
  one file, 3 s): {med('queue', 'fsync_per_s'):,.0f} a second. The queue route acknowledged
  {med('queue', 'rps'):,.0f} durable deliveries a second, {med('queue', 'rps') / max(med('queue', 'fsync_per_s'), 1):.1f}× that
  rate: one fsync per delivery could not have kept up, and group commit puts every delivery that
  arrives during a sync into the next one.
- **Draining:** after each queue case the dispatcher needed a median {med('queue', 'drain_s'):.1f} s more to deliver
  the backlog; from the start of the case to the end of the drain it delivered {med('queue', 'delivered_per_s'):,.0f}
  a second.
- CPU per request for the queue route counts both sides: taking the delivery and delivering it.
<!-- queue:end -->
"""

try:
    text = open(out).read()
except FileNotFoundError:
    text = ""
start, end = text.find("<!-- queue:start -->"), text.find("<!-- queue:end -->")
if start >= 0 and end > start:
    text = text[:start] + section + text[end + len("<!-- queue:end -->\n"):]
else:
    text = text.rstrip("\n") + "\n\n" + section
open(out, "w").write(text)
print(section)
