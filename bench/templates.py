"""Render time of a realistic page: this project's template engine against Tornado 6.6.1's.

The page: a layout with four blocks that a child template extends, a loop of 200 table rows
whose cells are autoescaped (text with markup characters, numbers, None), an include inside the
loop and one outside. Both engines render the same templates with the same data in this process,
alternately, several runs; each run times many renders and keeps the time per render. The two
outputs are checked to be the same bytes first. On a shared machine, the ratio within each run
(both engines measured back to back) is steadier than either time.

    python bench/templates.py [--runs 7] [--renders 300]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from typing import Any

import tornado.template

from tornado_ws_compat import template

TEMPLATES = {
    "layout.html": """<!DOCTYPE html>
<html>
<head>
  <title>{% block title %}Site{% end %}</title>
  {% block head %}{% end %}
</head>
<body>
  {% include "nav.html" %}
  <main>{% block body %}{% end %}</main>
  <footer>{% block footer %}&copy; {{ year }} {{ site }}{% end %}</footer>
</body>
</html>
""",
    "nav.html": """<nav>
  {% for label, href in nav %}<a href="{{ href }}">{{ label }}</a>{% end %}
  {% if user %}<span class="user">{{ user["name"] }}</span>
  {% else %}<a href="/login">Log in</a>{% end %}
</nav>
""",
    "row.html": """<tr class="{{ 'odd' if i % 2 else 'even' }}">
  <td>{{ i }}</td><td>{{ row["name"] }}</td><td>{{ row["email"] }}</td>
  <td>{{ "%.2f" % row["amount"] }}</td><td>{{ row["note"] }}</td>
</tr>
""",
    "page.html": """{% extends "layout.html" %}
{% block title %}Orders for {{ user["name"] }}{% end %}
{% block head %}<link rel="stylesheet" href="/static/site.css">{% end %}
{% block body %}
  <h1>Orders ({{ len(rows) }})</h1>
  <table>
    {% for i, row in enumerate(rows) %}{% include "row.html" %}{% end %}
  </table>
  {% if not rows %}<p>No orders.</p>{% end %}
{% end %}
""",
}


def data() -> dict[str, Any]:
    rows = [
        {
            "name": f"Customer <{i}> & Sons",
            "email": f"c{i}@example.com",
            "amount": i * 3.75,
            "note": None if i % 3 else "Rush 'express' \"delivery\"",
        }
        for i in range(200)
    ]
    return {
        "rows": rows,
        "user": {"name": "Zoë <admin>"},
        "nav": [("Home", "/"), ("Orders", "/orders?x=1&y=2"), ("Help", "/help")],
        "year": 2026,
        "site": "Example & Co",
    }


def per_render(loader: Any, kwargs: dict[str, Any], renders: int) -> float:
    tmpl = loader.load("page.html")
    gc.collect()
    start = time.perf_counter()
    for _ in range(renders):
        tmpl.generate(**kwargs)
    return (time.perf_counter() - start) / renders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--renders", type=int, default=300)
    args = parser.parse_args()
    kwargs = data()
    engines = {
        "tornado_ws_compat": template.DictLoader(TEMPLATES),
        "tornado 6.6.1": tornado.template.DictLoader(TEMPLATES),
    }
    outputs = {
        name: engine.load("page.html").generate(**kwargs) for name, engine in engines.items()
    }
    assert len(set(outputs.values())) == 1, "the two engines rendered different bytes"
    size = len(next(iter(outputs.values())))
    times: dict[str, list[float]] = {name: [] for name in engines}
    for _ in range(args.runs):
        for name, loader in engines.items():
            per_render(loader, kwargs, args.renders // 10)  # warm up
            times[name].append(per_render(loader, kwargs, args.renders))
    print(f"page: {size} bytes, 200 rows; {args.runs} runs of {args.renders} renders each")
    for name, samples in times.items():
        us = [t * 1e6 for t in samples]
        print(
            f"{name:>18}: median {statistics.median(us):8.1f} us/render"
            f"  (min {min(us):.1f}, max {max(us):.1f})"
        )
    ours, theirs = times.values()
    paired = [mine / peer for mine, peer in zip(ours, theirs, strict=True)]
    print(
        f"tornado_ws_compat / tornado: median of per-run ratios {statistics.median(paired):.2f}"
        f" (range {min(paired):.2f}-{max(paired):.2f}); ratio of medians"
        f" {statistics.median(ours) / statistics.median(theirs):.2f}"
    )


if __name__ == "__main__":
    main()
