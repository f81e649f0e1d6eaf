#!/usr/bin/env python3
"""Turns bench/run.sh's raw results into the printed table, BENCHMARKS.md and an SVG chart."""
import csv
import math
import statistics
import sys
from collections import defaultdict

(results, out_md, out_svg, machine, versions, idle_rss, load_rss, peak_rss,
 seconds, rounds, connections, smoke) = sys.argv[1:13]
SIZES = [("1024", "1 KiB"), ("65536", "64 KiB"), ("1048576", "1 MiB")]
SETUPS = [("direct", "direct to app"), ("nginx", "nginx proxy_pass"), ("njs", "nginx + njs HMAC"), ("hookguard", "hookguard")]
COLORS = {"direct": "#999999", "nginx": "#2b7bba", "njs": "#e6862e", "hookguard": "#2ca02c"}

rows = defaultdict(list)
with open(results) as f:
    for row in csv.DictReader(f, delimiter="\t"):
        rows[(row["size"], row["setup"])].append(row)
# BENCH_SIZES may have left some sizes out.
SIZES = [(size, label) for size, label in SIZES if rows[(size, "hookguard")]]


def median(size, setup, key):
    values = [float(r[key]) for r in rows[(size, setup)] if r[key] not in ("", "-")]
    return statistics.median(values) if values else float("nan")


def round_ratios(size, setup):
    """hookguard's req/s over the peer's, round by round: the two ran back to back, so a drift in the
    shared machine's speed between rounds cancels out of each ratio."""
    hookguard = {r["round"]: float(r["rps"]) for r in rows[(size, "hookguard")]}
    return sorted(hookguard[r["round"]] / float(r["rps"])
                  for r in rows[(size, setup)] if r["round"] in hookguard and float(r["rps"]) > 0)


def ratio(size, setup):
    values = round_ratios(size, setup)
    return statistics.median(values) if values else float("nan")


def ratio_text(size, setup):
    values = round_ratios(size, setup)
    if len(values) < 2:
        return f"{ratio(size, setup):.2f}×"
    return f"{ratio(size, setup):.2f}× ({values[0]:.2f}–{values[-1]:.2f})"


def verdict(size, setup, goal):
    """Met only when the median round reaches the goal, and said so plainly when some round did not."""
    values = round_ratios(size, setup)
    if not values or statistics.median(values) < goal:
        return "**not met**"
    return "met" if values[0] >= goal else "met by the median, not in every round"


def errors(size, setup):
    return sum(int(r["errors"] or 0) for r in rows[(size, setup)])


table = [
    "| body | setup | req/s | p50 ms | p99 ms | non-2xx | hookguard ÷ this |",
    "|---|---|---:|---:|---:|---:|---:|",
]
goals = []
for size, label in SIZES:
    hg = median(size, "hookguard", "rps")
    for setup, name in SETUPS:
        rps = median(size, setup, "rps")
        shown = "" if setup == "hookguard" else ratio_text(size, setup)
        table.append(f"| {label} | {name} | {rps:,.0f} | {median(size, setup, 'p50_ms'):.2f} | "
                     f"{median(size, setup, 'p99_ms'):.2f} | {errors(size, setup)} | {shown} |")
    want_njs = 1.5 if size == "1024" else 3.0
    goals.append((label, verdict(size, "nginx", 1.0), ratio_text(size, "nginx"), verdict(size, "njs", want_njs),
                  ratio_text(size, "njs"), want_njs,
                  median(size, "hookguard", "p99_ms") <= median(size, "nginx", "p99_ms"),
                  median(size, "hookguard", "p99_ms"), median(size, "nginx", "p99_ms")))

cpu = [f"| {label} | {median(size, 'hookguard', 'cpu_us_per_req'):.1f} | {median(size, 'nginx', 'cpu_us_per_req'):.1f} | "
       f"{median(size, 'njs', 'cpu_us_per_req'):.1f} |" for size, label in SIZES]
mark = lambda ok: "met" if ok else "**not met**"
goal_lines = []
for label, beats_nginx, r_nginx, beats_njs, r_njs, want, p99_ok, p99_hg, p99_nginx in goals:
    goal_lines.append(f"| {label} | {r_nginx} {beats_nginx} | {r_njs} vs ≥ {want}×: {beats_njs} | "
                      f"{p99_hg:.2f} vs {p99_nginx:.2f} ms ({mark(p99_ok)}) |")

print("\n".join(table))
print()
print("\n".join(["| body | hookguard ÷ nginx | hookguard ÷ njs | p99 hookguard vs nginx |", "|---|---|---|---|"] + goal_lines))
print()
print(f"hookguard RSS: idle {int(idle_rss) / 1024:.1f} MiB, after load {int(load_rss) / 1024:.1f} MiB, peak {int(peak_rss) / 1024:.1f} MiB")
for setup in ("hookguard", "nginx", "njs"):
    print(f"{setup} CPU per request (µs): " + ", ".join(f"{label} {median(size, setup, 'cpu_us_per_req'):.1f}" for size, label in SIZES))

# BASELINE=older build: this build against it, round by round, and CPU per request of each.
for size, label in SIZES:
    if rows[(size, "baseline")]:
        print(f"before/after {label}: this build ÷ baseline req/s {ratio_text(size, 'baseline')}; CPU µs per request "
              f"{median(size, 'hookguard', 'cpu_us_per_req'):.1f} (this) vs {median(size, 'baseline', 'cpu_us_per_req'):.1f} (baseline)")

# The chart: req/s against body size, log scale, one line per setup.
W, H, L, R, T, B = 640, 400, 70, 170, 30, 50
values = [median(s, setup, "rps") for s, _ in SIZES for setup, _ in SETUPS]
lo = 10 ** math.floor(math.log10(max(min(values), 1)))
hi = 10 ** math.ceil(math.log10(max(values)))
x = lambda i: L + i * (W - L - R) / (len(SIZES) - 1)
y = lambda v: T + (H - T - B) * (1 - (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{L}" y="18" font-size="14">Requests per second by body size (log scale; median of {rounds} round(s))</text>']
decade = lo
while decade <= hi:
    svg.append(f'<line x1="{L}" y1="{y(decade):.1f}" x2="{W - R}" y2="{y(decade):.1f}" stroke="#ddd"/>')
    svg.append(f'<text x="{L - 6}" y="{y(decade) + 4:.1f}" text-anchor="end">{decade:,.0f}</text>')
    decade *= 10
for i, (_, label) in enumerate(SIZES):
    svg.append(f'<text x="{x(i):.1f}" y="{H - B + 20}" text-anchor="middle">{label}</text>')
for n, (setup, name) in enumerate(SETUPS):
    points = " ".join(f"{x(i):.1f},{y(median(s, setup, 'rps')):.1f}" for i, (s, _) in enumerate(SIZES))
    svg.append(f'<polyline points="{points}" fill="none" stroke="{COLORS[setup]}" stroke-width="2.5"/>')
    for i, (s, _) in enumerate(SIZES):
        svg.append(f'<circle cx="{x(i):.1f}" cy="{y(median(s, setup, "rps")):.1f}" r="3.5" fill="{COLORS[setup]}"/>')
    svg.append(f'<rect x="{W - R + 15}" y="{T + 20 * n}" width="12" height="12" fill="{COLORS[setup]}"/>')
    svg.append(f'<text x="{W - R + 32}" y="{T + 20 * n + 10}">{name}</text>')
svg.append("</svg>")
chart = out_svg if smoke != "1" else out_md.replace(".md", ".svg")
open(chart, "w").write("\n".join(svg) + "\n")

md = f"""# Benchmarks

Written by `bench/run.sh`; every figure below comes from one run of it.

- Machine: {machine}. The load generator, nginx, the app and hookguard all share it.
- Software: {versions}.
- Load: `wrk -t2 -c{connections} -d{seconds}s --latency`, POSTing a signed DriveWidget request
  (`X-DriveWidget-Signature: sha256=<hex>`), {rounds} round(s). The setups take turns within each round, and
  each figure is the median over the rounds. hookguard runs right between nginx and nginx + njs, which swap
  sides every round. A ratio is hookguard's req/s over the peer's within one round (back to back), so a
  drift in this shared machine's speed between rounds cancels out. The table gives the median over the
  rounds, with the lowest and highest in brackets.
- Setups: the app direct; nginx `proxy_pass` with upstream keep-alive; nginx with an njs handler computing the
  HMAC and then proxying; hookguard verifying every request. nginx keeps a buffered access log. hookguard
  writes its log line per request to a file.

![req/s against body size](bench/chart.svg)

{chr(10).join(table)}

Goals (issue 6): hookguard at or above nginx `proxy_pass`, at least 1.5× nginx+njs at 1 KiB and 3× at
64 KiB and above, and p99 no worse than `proxy_pass`.

| body | hookguard ÷ nginx | hookguard ÷ njs | p99 hookguard vs nginx |
|---|---|---|---|
{chr(10).join(goal_lines)}

hookguard's memory: idle RSS {int(idle_rss) / 1024:.1f} MiB; after the load {int(load_rss) / 1024:.1f} MiB; peak
{int(peak_rss) / 1024:.1f} MiB.

CPU per request (user + system, from /proc; nginx counts its master and workers):

| body | hookguard µs | nginx proxy_pass µs | nginx + njs µs |
|---|---:|---:|---:|
{chr(10).join(cpu)}
"""
analysis = "bench/analysis.md"
try:
    md += "\n" + open(analysis).read()
except FileNotFoundError:
    pass
open(out_md, "w").write(md)
print(f"wrote {out_md} and {chart}")
