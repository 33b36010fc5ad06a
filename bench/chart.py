"""The benchmark's chart as a self-contained SVG (no plotting library needed).

Two panels, one line per server, the median over runs at each point:
left, server CPU per echoed message against messages in flight per connection (1, 8, 64);
right, server CPU per delivered broadcast message against subscribers (200, 1,000).
The y axes are logarithmic: Tornado and the fastest servers differ by more than 10x.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
from collections.abc import Callable
from html import escape

# (workload, x value) for each panel; the key read from each run is the panel's metric.
SWEEP = [("depth1", 1), ("depth8", 8), ("throughput", 64)]
BROADCAST = [("broadcast200", 200), ("broadcast1000", 1000)]
COLORS = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#7f7f7f", "#17becf"]
WIDTH, HEIGHT = 1010, 380
PANEL_W, PANEL_H = 340, 260
LEFT, TOP = 70, 50


def median_at(results: dict, server: str, workload: str, key: str) -> float | None:
    got = [
        v
        for run in results[server]["runs"]
        if isinstance(v := run.get("workloads", {}).get(workload, {}).get(key), int | float)
    ]
    return statistics.median(got) if got else None


def _panel(
    out: list[str],
    x0: int,
    title: str,
    xlabel: str,
    points: list[tuple[str, int]],
    key: str,
    results: dict,
    servers: list[str],
) -> None:
    series = {}
    for s in servers:
        line = [(x, median_at(results, s, wl, key)) for wl, x in points]
        line = [(x, y) for x, y in line if y]
        if line:
            series[s] = line
    ys = [y for line in series.values() for _, y in line]
    out.append(
        f'<text x="{x0 + PANEL_W / 2}" y="{TOP - 20}" text-anchor="middle" '
        f'font-weight="bold">{escape(title)}</text>'
    )
    out.append(
        f'<rect x="{x0}" y="{TOP}" width="{PANEL_W}" height="{PANEL_H}" fill="none" '
        'stroke="#999"/>'
    )
    if not ys:
        return
    lo = 10 ** math.floor(math.log10(min(ys)))
    hi = 10 ** math.ceil(math.log10(max(ys)))
    n = len(points)

    def px(i: int) -> float:
        return x0 + 30 + i * (PANEL_W - 60) / max(1, n - 1)

    def py(y: float) -> float:
        return TOP + PANEL_H - (math.log10(y) - math.log10(lo)) / math.log10(hi / lo) * PANEL_H

    decade = lo
    while decade <= hi:
        for m in (1, 2, 5):
            v = decade * m
            if lo <= v <= hi:
                y = py(v)
                out.append(
                    f'<line x1="{x0}" x2="{x0 + PANEL_W}" y1="{y:.1f}" y2="{y:.1f}" '
                    f'stroke="#eee"/><text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end" '
                    f'font-size="11">{v:g}</text>'
                )
        decade *= 10
    for i, (_, x) in enumerate(points):
        out.append(
            f'<text x="{px(i):.1f}" y="{TOP + PANEL_H + 16}" text-anchor="middle" '
            f'font-size="11">{x:,}</text>'
        )
    out.append(
        f'<text x="{x0 + PANEL_W / 2}" y="{TOP + PANEL_H + 34}" text-anchor="middle" '
        f'font-size="12">{escape(xlabel)}</text>'
    )
    index = {x: i for i, (_, x) in enumerate(points)}
    for s, line in series.items():
        color = COLORS[servers.index(s) % len(COLORS)]
        coords = " ".join(f"{px(index[x]):.1f},{py(y):.1f}" for x, y in line)
        out.append(f'<polyline points="{coords}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y in line:
            out.append(
                f'<circle cx="{px(index[x]):.1f}" cy="{py(y):.1f}" r="3" fill="{color}">'
                f"<title>{escape(s)}: {y:.2f} us</title></circle>"
            )


def svg(results: dict, caption: str, fmt: Callable[[str], str] = str) -> str:
    """The two panels and a legend, for every server in ``results``."""
    servers = list(results)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="13"><rect width="100%" height="100%" '
        'fill="white"/>'
    ]
    out.append(
        f'<text x="14" y="{TOP + PANEL_H / 2}" transform="rotate(-90 14 {TOP + PANEL_H / 2})" '
        'text-anchor="middle" font-size="12">server CPU, us (log scale, lower is better)</text>'
    )
    _panel(
        out,
        LEFT,
        "Echo: per message",
        "messages in flight per connection",
        SWEEP,
        "cpu_us_per_msg",
        results,
        servers,
    )
    _panel(
        out,
        LEFT + PANEL_W + 60,
        "Broadcast: per delivery",
        "subscribers",
        BROADCAST,
        "cpu_us_per_delivery",
        results,
        servers,
    )
    lx = LEFT + 2 * PANEL_W + 80
    for i, s in enumerate(servers):
        color = COLORS[i % len(COLORS)]
        y = TOP + 10 + i * 20
        out.append(
            f'<line x1="{lx}" x2="{lx + 18}" y1="{y}" y2="{y}" stroke="{color}" '
            f'stroke-width="3"/><text x="{lx + 24}" y="{y + 4}" font-size="12">'
            f"{escape(fmt(s))}</text>"
        )
    out.append(
        f'<text x="{LEFT}" y="{HEIGHT - 12}" font-size="11" fill="#555">{escape(caption)}</text>'
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main() -> None:
    """``python bench/chart.py RESULTS.json OUT.svg``: redraw the chart of a saved run."""
    if len(sys.argv) != 3:
        raise SystemExit(main.__doc__)
    data = json.loads(open(sys.argv[1]).read())
    meta = data["meta"]
    caption = f"{meta['runs']} runs, median; {meta['pinning']}; started {meta['started']}"
    with open(sys.argv[2], "w") as f:
        f.write(svg(data["results"], caption))


if __name__ == "__main__":
    main()
