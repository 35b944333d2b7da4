#!/usr/bin/env python3
"""A/B of two gazette builds on one database: both servers run side by side against the
PostgreSQL of an earlier `bench/run.py --dir D` run (its data and wrk scripts), and take
turns (A B, then B A, ...) under the same load, so that the machine's drift, which moves
the benchmark's absolute figures by a third between runs, falls on both alike. Reports
requests per second and CPU per request (server, and PostgreSQL while that server ran).

    python3 bench/ab.py --dir /var/tmp/bench-X --a old/gazette --b new/gazette q2 q3

For a change too small to show in the benchmark's min–max ranges; the benchmark itself
(`scripts/bench`) stays the measure of record. Run it twice, the second time with --a and
--b swapped: the server started first has measured up to 10% faster on a workload the
change did not touch (Q1 in the A/B of commit "comment pages read only the columns..."),
and the same binary against itself has differed by 5%. The second table pairs the two
runs of each round (adjacent in time): a change is real when its ratio stays on one side
of 1 in most rounds of both orders.
"""

import argparse
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the benchmark's own helpers)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="a bench/run.py --dir with its data")
    parser.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin", type=Path)
    parser.add_argument("--a", required=True, help="the gazette binary before the change")
    parser.add_argument("--b", required=True, help="the gazette binary after the change")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32, help="wrk's -c: 32 as the benchmark")
    parser.add_argument("workloads", nargs="+", help="q1, q2, q2r, q3...: the dir's <w>-gazette-uncached.lua")
    args = parser.parse_args()

    with run.earlier_cluster(args.dir, args.pg_bin) as cluster:
        measure_all(args, cluster)


def measure_all(args, cluster):
    servers = {}
    try:
        for name, binary in (("A", args.a), ("B", args.b)):
            listen = run.free_port()
            servers[name] = run.Server(
                name,
                [binary, "api", "--database-url", cluster.url,
                 "--data-dir", str(args.dir / "gazette-data"), "--listen", f"127.0.0.1:{listen}",
                 "--seed", "false", "--graphql-cache-ttl", "0", "--comment-moderation", "open",
                 "--comment-rate-limit", "0", "--metrics-listen", "off"],
                f"http://127.0.0.1:{listen}", args.dir / f"ab-{name}.log")
            servers[name].wait_ready("/readyz")
        results = {(w, name): [] for w in args.workloads for name in servers}
        for workload in args.workloads:
            script = args.dir / f"{workload}-gazette-uncached.lua"
            for name in servers:  # warm-up, discarded
                wrk(script, servers[name].url, 2, args.connections)
            for round_number in range(args.rounds):
                order = ("A", "B") if round_number % 2 == 0 else ("B", "A")
                for name in order:
                    server = servers[name]
                    before = (server.cpu_ticks(), cluster.cpu_ticks())
                    requests, seconds = wrk(script, server.url, args.duration, args.connections)
                    time.sleep(0.5)
                    after = (server.cpu_ticks(), cluster.cpu_ticks())
                    ms = [(b - a) / run.CLK_TCK * 1000 / max(requests, 1) for a, b in zip(before, after)]
                    results[(workload, name)].append((requests / seconds, *ms))
        print("| workload | build | req/s (median; min–max) | CPU ms / req: server + PostgreSQL |")
        print("|---|---|---|---|")
        for (workload, name), rows in results.items():
            rates = [row[0] for row in rows]
            server_ms = statistics.median(row[1] for row in rows)
            pg_ms = statistics.median(row[2] for row in rows)
            print(f"| {workload} | {name} | {statistics.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f})"
                  f" | {server_ms:.3f} + {pg_ms:.3f} = {server_ms + pg_ms:.3f} |")
        # Each round's two runs are next to each other in time, so their ratio cancels the
        # drift between rounds that the medians above still carry.
        print()
        print("| workload | B / A, CPU per request, each round | median | rounds where B costs less |")
        print("|---|---|---|---|")
        for workload in args.workloads:
            ratios = [(b[1] + b[2]) / (a[1] + a[2])
                      for a, b in zip(results[(workload, "A")], results[(workload, "B")])
                      if a[1] + a[2] > 0]
            cheaper = sum(ratio < 1 for ratio in ratios)
            print(f"| {workload} | {' '.join(f'{ratio:.3f}' for ratio in ratios)} | "
                  f"{statistics.median(ratios):.3f} | {cheaper} of {len(ratios)} |")
    finally:
        for server in servers.values():
            server.stop()


def wrk(script, url, duration, connections):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(script), url + "/graphql"],
                         check=True, capture_output=True, text=True).stdout
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(m?s)", out).group(1))
    match = re.search(r"requests in ([\d.]+)(ms|s|m)", out)
    seconds = float(match.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[match.group(2)]
    return requests, seconds


if __name__ == "__main__":
    main()
