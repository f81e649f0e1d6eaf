#!/usr/bin/env python3
"""Turns bench/scaling.sh's raw results into its section of BENCHMARKS.md and three charts.

    scaling_report.py RESULTS_DIR OUT_MD SVG_DIR SECONDS ROUNDS RATE RATE_NOTE COMMIT
"""
import math
import os
import sys
from collections import defaultdict

sys.dont_write_bytecode = True  # no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from report_common import goal, median, number, ratio_range, read_tsv, replace_section  # noqa: E402
import svg  # noqa: E402

results, out_md, svg_dir, seconds, rounds, rate, rate_note, commit = sys.argv[1:9]
chart_ref = lambda path: os.path.relpath(path, os.path.dirname(os.path.abspath(out_md)))
SERVERS = [("hookguard", "hookguard", "#2ca02c"), ("nginx", "nginx proxy_pass", "#2b7bba")]


def fmt(value, digits=1):
    return "–" if math.isnan(value) else f"{value:,.{digits}f}"


def spread(values):
    values = [v for v in values if not math.isnan(v)]
    return (min(values), max(values)) if values else None


def rows_of(name):
    """A part's results, or none when BENCH_SCALING left that part out."""
    path = os.path.join(results, name)
    return read_tsv(path) if os.path.exists(path) else []


# Routes: each count's CPU per request and req/s over 1 route's in the same round.
routes = defaultdict(dict)
for row in rows_of("routes.tsv"):
    routes[row["routes"]][row["round"]] = row
measured_routes = bool(routes)
counts = sorted(routes, key=int)


def route_ratios(n, key):
    return [number(routes[n][r][key]) / number(routes["1"][r][key]) for r in sorted(routes[n], key=int) if r in routes["1"]]


route_rows = ["| routes | CPU µs per request | req/s | p99 ms | CPU ÷ 1 route's | req/s ÷ 1 route's | goal: CPU within 5% of 1 route's |",
              "|---:|---:|---:|---:|---:|---:|---|"]
for n in counts:
    med = lambda key: median([number(r[key]) for r in routes[n].values()])
    verdict = "" if n == "1" else goal(route_ratios(n, "cpu_us_per_req"), 1.05, at_most=True)
    route_rows.append(f"| {int(n):,} | {fmt(med('cpu_us_per_req'))} | {fmt(med('rps'), 0)} | {fmt(med('p99_ms'), 2)} | "
                      f"{'' if n == '1' else ratio_range(route_ratios(n, 'cpu_us_per_req'))} | "
                      f"{'' if n == '1' else ratio_range(route_ratios(n, 'rps'))} | {verdict} |")
routes_chart = os.path.join(svg_dir, "scaling-routes.svg")
if measured_routes:
    svg.bar_chart(routes_chart, "hookguard's CPU per request ÷ with 1 route, per round (1 KiB)",
                  [f"{int(n):,} routes" for n in counts],
                  [("CPU per request ÷ 1 route's", "#2ca02c", [median(route_ratios(n, "cpu_us_per_req")) for n in counts],
                    [spread(route_ratios(n, "cpu_us_per_req")) for n in counts])],
                  "ratio", goal=1.05, goal_label="goal ≤ 1.05")

# Idle connections: RSS at each count, and what each connection added over none.
idle = defaultdict(dict)
for row in rows_of("idle.tsv"):
    idle[row["server"]][int(row["count"])] = row
measured_idle = bool(idle)
idle_counts = sorted({c for server in idle.values() for c in server})
open_counts = [c for c in idle_counts if c > 0]


def per_connection(server, count):
    rows = idle[server]
    if 0 not in rows or count not in rows:
        return float("nan")
    return (number(rows[count]["rss_kib"]) - number(rows[0]["rss_kib"])) * 1024 / count


idle_rows = ["| server | " + " | ".join(f"RSS with {c:,} open" for c in idle_counts) + " | "
             + " | ".join(f"bytes per connection at {c:,}" for c in open_counts) + " | open at the end | goal ≤ 4 KiB a connection |",
             "|---|" + "---:|" * (len(idle_counts) + len(open_counts)) + "---:|---|"]
for server, name, _ in SERVERS:
    if not idle[server]:
        continue
    rows = idle[server]
    held = [per_connection(server, c) <= 4096 for c in open_counts]
    if not held:
        verdict = "no data"
    elif all(held):
        verdict = "**holds** at " + " and ".join(f"{c:,}" for c in open_counts)
    else:
        verdict = "**does not hold** at " + " and ".join(f"{c:,}" for c, ok in zip(open_counts, held) if not ok)
    last = rows[max(rows)]
    idle_rows.append(f"| {name} | " + " | ".join(f"{number(rows[c]['rss_kib']) / 1024:.1f} MiB" if c in rows else "–" for c in idle_counts)
                     + " | " + " | ".join(f"{fmt(per_connection(server, c), 0)}" for c in open_counts)
                     + f" | {int(last['still_open']):,} of {max(rows):,} | {verdict} |")
idle_chart = os.path.join(svg_dir, "scaling-idle.svg")
if measured_idle:
    svg.line_chart(idle_chart, "Resident memory with idle keep-alive connections (MiB)", [f"{c:,}" for c in idle_counts],
                   [(name, color, None, [number(idle[server][c]["rss_kib"]) / 1024 if c in idle[server] else None for c in idle_counts])
                    for server, name, color in SERVERS if idle[server]], "MiB")

# Concurrency: 1,000 connections' p99 over 64's, per server, within each round.
conc = defaultdict(dict)
for row in rows_of("concurrency.tsv"):
    conc[(row["server"], row["connections"])][row["round"]] = row
measured_concurrency = bool(conc)
conn_counts = sorted({c for _, c in conc}, key=int)
low, high = (conn_counts[0], conn_counts[-1]) if conn_counts else ("64", "1000")


def p99_ratios(server):
    a, b = conc[(server, high)], conc[(server, low)]
    return [number(a[r]["p99_ms"]) / number(b[r]["p99_ms"]) for r in sorted(a, key=int) if r in b]


conc_rows = ["| server | connections | target req/s | achieved req/s | achieved ÷ target | p50 ms | p99 ms | CPU µs per request | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
for server, name, _ in SERVERS:
    for c in conn_counts:
        rows = conc[(server, c)].values()
        med = lambda key: median([number(r[key]) for r in rows])
        errors = sum(int(number(r["errors"]) + number(r["socket_errors"])) for r in rows)
        held = round(med("rps") / int(rate), 2)
        conc_rows.append(f"| {name} | {int(c):,} | {int(rate):,} | {fmt(med('rps'), 0)} | "
                         f"{held:.2f}{'' if held >= 0.95 else ' (rate not held)'} | {fmt(med('p50_ms'), 2)} | "
                         f"{fmt(med('p99_ms'), 2)} | {fmt(med('cpu_us_per_req'))} | {errors} |")
conc_goal = [f"- **{name}**: p99 with {int(high):,} connections ÷ with {int(low):,}: {ratio_range(p99_ratios(server))}; the goal "
             f"(at most 2×) {goal(p99_ratios(server), 2.0, at_most=True)}." for server, name, _ in SERVERS]
conc_chart = os.path.join(svg_dir, "scaling-concurrency.svg")
if measured_concurrency:
    svg.bar_chart(conc_chart, f"p99 at {int(rate):,} req/s by connections (ms; bars: median, lines: range)",
                  [f"{int(c):,} connections" for c in conn_counts],
                  [(name, color, [median([number(r["p99_ms"]) for r in conc[(server, c)].values()]) for c in conn_counts],
                    [spread([number(r["p99_ms"]) for r in conc[(server, c)].values()]) for c in conn_counts])
                   for server, name, color in SERVERS], "ms")

parts = [f"""<!-- scaling:start -->
## Scaling: cost as the work grows

`bench/scaling.sh` (run by `bench/run.sh` after the tables above), commit {commit}: hookguard, and nginx
`proxy_pass` where it applies, in front of the hyper bench-app, with signed 1 KiB DriveWidget requests;
{seconds} s per case, {rounds} round(s).
"""]
if measured_routes:
    parts.append(f"""
### Routes

hookguard started three times, with 1, 100 and 10,000 routes. The measured route comes last in each config; the
others are distinct DriveWidget routes (`/webhooks/drivewidget-00001`, …). `wrk -t2 -c64`; the three take turns
in every order across the rounds, and each ratio is against 1 route in the same round.

![CPU per request by route count]({chart_ref(routes_chart)})

{chr(10).join(route_rows)}
""")
if measured_idle:
    parts.append(f"""
### Idle connections

Resident memory (VmRSS; nginx: its master and workers summed) of a freshly started server, warmed with 20
requests, then with {" and then ".join(f"{c:,}" for c in open_counts)} keep-alive connections open, one request
served on each and every one kept open (`bench/idle_connections.py`, 2 s to settle before each reading). hookguard
runs with `limits: {{max_connections: 20000}}`, nginx with `worker_connections 20000`. One reading each, not rounds:
memory does not vary from run to run as time does.

![RSS by idle connections]({chart_ref(idle_chart)})

{chr(10).join(idle_rows)}
""")
if measured_concurrency:
    parts.append(f"""
### Concurrency at a fixed rate

{int(rate):,} requests a second, with {int(low):,} and with {int(high):,} connections (`wrk -t2` with
`bench/rate.lua`: send times spaced evenly, each connection taking the next free one, so the rate does not follow
latency). The rate: {rate_note}. The cases go hookguard 64, 1,000, nginx 1,000, 64, reversed every round.

![p99 by connections at a fixed rate]({chart_ref(conc_chart)})

{chr(10).join(conc_rows)}

{chr(10).join(conc_goal)}
""")
section = "".join(parts) + "<!-- scaling:end -->\n"
replace_section(out_md, "scaling", section)
print(section)
