"""Small SVG charts for bench/report.py and bench/scaling_report.py: a line chart and a grouped bar chart,
each with a legend, written without any plotting library."""
import math

W, H, LEFT, RIGHT, TOP, BOTTOM = 780, 400, 80, 270, 40, 50


def _frame(title):
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
            f'<rect width="{W}" height="{H}" fill="white"/>',
            f'<text x="{LEFT}" y="20" font-size="14">{title}</text>']


def _scale(values, log, floor_at_zero=True):
    values = [v for v in values if v is not None and not math.isnan(v) and (v > 0 or not log)]
    if not values:
        values = [1.0]
    if log:
        lo = 10 ** math.floor(math.log10(min(values)))
        hi = 10 ** math.ceil(math.log10(max(values)))
        if hi <= lo:
            hi = lo * 10
        ticks, t = [], lo
        while t <= hi * 1.0001:
            ticks.append(t)
            t *= 10
        to_y = lambda v: TOP + (H - TOP - BOTTOM) * (1 - (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))
        return to_y, ticks
    hi = max(values) * 1.1 or 1.0
    lo = 0.0 if floor_at_zero else min(values) * 0.9
    step = 10 ** math.floor(math.log10((hi - lo) / 4)) if hi > lo else 1.0
    while (hi - lo) / step > 8:
        step *= 2
    ticks = [lo + i * step for i in range(int((hi - lo) / step) + 1)]
    to_y = lambda v: TOP + (H - TOP - BOTTOM) * (1 - (v - lo) / (hi - lo))
    return to_y, ticks


def _tick_label(v):
    return f"{v:,.0f}" if v >= 10 or v == 0 else f"{v:.2g}"


def _axes(svg, to_y, ticks, y_label):
    for t in ticks:
        svg.append(f'<line x1="{LEFT}" y1="{to_y(t):.1f}" x2="{W - RIGHT}" y2="{to_y(t):.1f}" stroke="#ddd"/>')
        svg.append(f'<text x="{LEFT - 6}" y="{to_y(t) + 4:.1f}" text-anchor="end">{_tick_label(t)}</text>')
    svg.append(f'<text x="14" y="{(TOP + H - BOTTOM) / 2:.0f}" transform="rotate(-90 14 {(TOP + H - BOTTOM) / 2:.0f})" '
               f'text-anchor="middle">{y_label}</text>')


def _legend(svg, entries):
    for n, (name, color, dash) in enumerate(entries):
        y = TOP + 20 * n
        svg.append(f'<line x1="{W - RIGHT + 15}" y1="{y + 6}" x2="{W - RIGHT + 35}" y2="{y + 6}" stroke="{color}" '
                   f'stroke-width="6"{f" stroke-dasharray={chr(34)}{dash}{chr(34)}" if dash else ""}/>')
        svg.append(f'<text x="{W - RIGHT + 42}" y="{y + 10}">{name}</text>')


def line_chart(path, title, x_labels, series, y_label, log=False):
    """series: (name, color, dash or None, [value per x label]); None values are skipped."""
    svg = _frame(title)
    to_y, ticks = _scale([v for _, _, _, values in series for v in values], log)
    _axes(svg, to_y, ticks, y_label)
    x = lambda i: LEFT + 30 + i * (W - LEFT - RIGHT - 60) / max(len(x_labels) - 1, 1)
    for i, label in enumerate(x_labels):
        svg.append(f'<text x="{x(i):.1f}" y="{H - BOTTOM + 20}" text-anchor="middle">{label}</text>')
    for name, color, dash, values in series:
        points = [(x(i), to_y(v)) for i, v in enumerate(values) if v is not None and not math.isnan(v)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        svg.append(f'<polyline points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" fill="none" '
                   f'stroke="{color}" stroke-width="2.5"{dash_attr}/>')
        for px, py in points:
            svg.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{color}"/>')
    _legend(svg, [(name, color, dash) for name, color, dash, _ in series])
    open(path, "w").write("\n".join(svg + ["</svg>"]) + "\n")


def bar_chart(path, title, groups, series, y_label, goal=None, goal_label=""):
    """groups: x labels; series: (name, color, [value per group], [(low, high) per group] or None).
    A dashed line marks the goal, if any. Whiskers show each value's range over the rounds."""
    svg = _frame(title)
    values = [v for _, _, vs, _ in series for v in vs if v is not None]
    values += [hi for _, _, _, ranges in series if ranges for r in ranges if r for hi in r[1:]]
    if goal is not None:
        values.append(goal)
    to_y, ticks = _scale(values, log=False)
    _axes(svg, to_y, ticks, y_label)
    group_w = (W - LEFT - RIGHT - 20) / max(len(groups), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for g, label in enumerate(groups):
        gx = LEFT + 10 + g * group_w
        svg.append(f'<text x="{gx + group_w / 2:.1f}" y="{H - BOTTOM + 20}" text-anchor="middle">{label}</text>')
        for s, (_, color, vs, ranges) in enumerate(series):
            v = vs[g]
            if v is None or math.isnan(v):
                continue
            bx = gx + group_w * 0.1 + s * bar_w
            svg.append(f'<rect x="{bx:.1f}" y="{to_y(v):.1f}" width="{bar_w * 0.9:.1f}" '
                       f'height="{to_y(0) - to_y(v):.1f}" fill="{color}"/>')
            if ranges and ranges[g]:
                lo, hi = ranges[g]
                cx = bx + bar_w * 0.45
                svg.append(f'<line x1="{cx:.1f}" y1="{to_y(lo):.1f}" x2="{cx:.1f}" y2="{to_y(hi):.1f}" stroke="black"/>')
    if goal is not None:
        svg.append(f'<line x1="{LEFT}" y1="{to_y(goal):.1f}" x2="{W - RIGHT}" y2="{to_y(goal):.1f}" stroke="#c00" '
                   f'stroke-dasharray="6 4"/>')
        svg.append(f'<text x="{W - RIGHT - 4}" y="{to_y(goal) - 4:.1f}" text-anchor="end" fill="#c00">{goal_label}</text>')
    _legend(svg, [(name, color, None) for name, color, _, _ in series])
    open(path, "w").write("\n".join(svg + ["</svg>"]) + "\n")
