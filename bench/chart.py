"""An SVG chart of each workload's throughput against its baselines (no dependencies)."""

from html import escape
import math

COLOURS = {"gazette-uncached": "#2b6cb0", "gazette": "#90cdf4", "postgraphile": "#d69e2e",
           "postgraphile-1": "#f6e05e", "sql": "#718096", "nginx": "#38a169"}
LABELS = {"gazette-uncached": "Gazette, response cache off", "gazette": "Gazette, cache on",
          "postgraphile": "PostGraphile 4.14.1, 2 workers", "postgraphile-1": "PostGraphile 4.14.1, 1 process",
          "sql": "raw SQL (pgbench)", "nginx": "nginx (static file)"}


def render(rows):
    """`rows`: dicts with key, title, target and rps (median req/s). Log-scale bars."""
    workloads = list(dict.fromkeys(row["key"] for row in rows))
    by = {(row["key"], row["target"]): row for row in rows}
    top = max(row["rps"] for row in rows)
    decades = max(3, math.ceil(math.log10(top)))
    left, width, bar, gap = 290, 560, 16, 18
    low = 2  # the axis starts at 100 req/s
    scale = lambda rps: width * max(math.log10(max(rps, 1)) - low, 0) / (decades - low)  # noqa: E731
    y = 40
    parts = []
    for key in workloads:
        targets = [t for t in COLOURS if (key, t) in by]
        title = by[(key, targets[0])]["title"]
        parts.append(f'<text x="10" y="{y + bar - 3}" font-weight="bold">{escape(title)}</text>')
        y += bar
        for target in targets:
            rps = by[(key, target)]["rps"]
            parts.append(
                f'<text x="{left - 8}" y="{y + bar - 3}" text-anchor="end">{LABELS[target]}</text>'
                f'<rect x="{left}" y="{y + 2}" width="{scale(rps):.1f}" height="{bar - 4}" fill="{COLOURS[target]}"/>'
                f'<text x="{left + scale(rps) + 6:.1f}" y="{y + bar - 3}">{rps:,.0f}</text>')
            y += bar
        y += gap
    ticks = "".join(
        f'<line x1="{left + scale(10 ** d):.1f}" y1="30" x2="{left + scale(10 ** d):.1f}" y2="{y}" stroke="#ddd"/>'
        f'<text x="{left + scale(10 ** d):.1f}" y="24" text-anchor="middle">{10 ** d:,}</text>'
        for d in range(low, decades + 1))
    height = y + 10
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{left + width + 90}" height="{height}" '
        f'font-family="sans-serif" font-size="12">'
        f'<rect width="100%" height="100%" fill="white"/>'
        f'<text x="10" y="16" font-size="13">Requests per second (log scale), median of the rounds</text>'
        f"{ticks}{''.join(parts)}</svg>\n")


if __name__ == "__main__":
    # Redraws a chart from a run's results.json: python3 bench/chart.py results.json out.svg
    import json
    import statistics
    import sys

    runs = json.load(open(sys.argv[1]))["runs"]
    groups = {}
    for run in runs:
        groups.setdefault((run["key"], run["target"]), []).append(run)
    rows = [{"key": key, "target": target, "title": group[0]["title"],
             "rps": statistics.median(r["rps"] for r in group)}
            for (key, target), group in groups.items()]
    open(sys.argv[2], "w").write(render(rows))
