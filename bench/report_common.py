"""Shared by the benchmark's report scripts: reading result tables, stating a goal over per-round
ratios plainly, and replacing a script's own section of BENCHMARKS.md."""
import csv
import math
import statistics


def read_tsv(path):
    with open(path) as f:
        return list(csv.DictReader(f, delimiter="\t"))


def number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def median(values):
    values = [v for v in values if not math.isnan(v)]
    return statistics.median(values) if values else float("nan")


def ratio_range(values):
    """'0.97× (0.91–1.04)': the median of per-round ratios, with the lowest and highest."""
    values = sorted(v for v in values if not math.isnan(v))
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.2f}×"
    return f"{statistics.median(values):.2f}× ({values[0]:.2f}–{values[-1]:.2f})"


def goal(values, limit, at_most):
    """Whether a goal holds by the median of the per-round values, and in how many rounds, in words.
    at_most: the goal is value ≤ limit (else value ≥ limit)."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return "no data"
    holds = (lambda v: v <= limit) if at_most else (lambda v: v >= limit)
    held = sum(1 for v in values if holds(v))
    word = "**holds**" if holds(statistics.median(values)) else "**does not hold**"
    return f"{word} by the median, in {held} of {len(values)} rounds"


def replace_section(path, name, section):
    """Puts section (which starts and ends with its markers) in place of the file's old one, or at its end."""
    start_marker, end_marker = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    try:
        text = open(path).read()
    except FileNotFoundError:
        text = ""
    start, end = text.find(start_marker), text.find(end_marker)
    if start >= 0 and end > start:
        text = text[:start] + section + text[end + len(end_marker) + 1:]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)
