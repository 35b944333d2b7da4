#!/usr/bin/env python3
"""The floor under q2r: raw SQL (pgbench), the least HTTP server (bench/floor) and Gazette
with its cache off, taking turns round by round on the PostgreSQL and data of an earlier
`bench/run.py --dir D` run, with wrk's script for q2r from that run.

    python3 bench/floor.py --dir /var/tmp/bench-X --gazette target/release/gazette

The floor runs pgbench's own q2r statement behind hyper and sqlx and nothing else (see
bench/floor/src/main.rs), so its rate is what raw SQL leaves to any HTTP server whose
load generator shares the machine's cores: the ceiling of the issue's "0.5× raw SQL"
target for q2r. Reports requests per second and CPU per request of the server,
PostgreSQL and the load generator (wrk or pgbench, from its exit status).
"""

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the benchmark's own helpers)

FLOOR = Path(__file__).resolve().parent / "floor"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="a bench/run.py --dir with its data")
    parser.add_argument("--gazette", required=True, help="the gazette binary")
    parser.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin", type=Path)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32, help="wrk's and pgbench's -c, as the benchmark")
    args = parser.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(FLOOR / "Cargo.toml")],
                   check=True)
    with run.earlier_cluster(args.dir, args.pg_bin) as (cluster, database):
        measure_all(args, cluster, database)


def measure_all(args, cluster, database):
    floor_binary = FLOOR / "target" / "release" / "gazette-bench-floor"
    wrk_script = args.dir / "q2r-gazette-uncached.lua"
    posts = re.search(r"^posts, middle, distribution = (\d+)", wrk_script.read_text(), re.M)
    if posts is None:
        sys.exit(f"{wrk_script}: not a q2r script of bench/run.py")
    pgbench_script = args.dir / "q2r.sql"
    servers = {}
    try:
        listen = run.free_port()
        servers["floor"] = run.Server("floor", [str(floor_binary), database, f"127.0.0.1:{listen}"],
                                      f"http://127.0.0.1:{listen}", args.dir / "floor.log")
        listen = run.free_port()
        servers["gazette"] = run.Server(
            "gazette",
            [args.gazette, "api", "--database-url", database,
             "--data-dir", str(args.dir / "gazette-data"), "--listen", f"127.0.0.1:{listen}",
             "--seed", "false", "--graphql-cache-ttl", "0", "--metrics-listen", "off"],
            f"http://127.0.0.1:{listen}", args.dir / "floor-gazette.log")
        for name, server in servers.items():
            # The floor answers every path: the GraphQL endpoint's readiness is its own.
            server.wait_ready("/graphql" if name == "floor" else "/readyz")

        def measure(target, duration):
            before_pg = cluster.cpu_ticks()
            if target == "sql":
                code, out, err, client_seconds = run.run_client(
                    [str(args.pg_bin / "pgbench"), "-n", "-M", "prepared", "-c", str(args.connections),
                     "-j", "2", "-T", str(duration), "-D", f"posts={posts.group(1)}",
                     "-f", str(pgbench_script), database])
                if code != 0:
                    raise run.Failure(f"pgbench failed: {out[-300:]} {err[-300:]}")
                served = float(re.search(r"tps = ([0-9.]+) \(without initial", out).group(1)) * duration
                seconds, server_ms = duration, None
                time.sleep(1)  # pgbench's backends count once the postmaster reaps them
            else:
                server = servers[target]
                before = server.cpu_ticks()
                code, out, err, client_seconds = run.run_client(
                    ["wrk", "-t2", f"-c{args.connections}", f"-d{duration}s", "-s", str(wrk_script),
                     server.url + "/graphql"])
                if code != 0:
                    raise run.Failure(f"wrk failed on {target}: {out[-300:]} {err[-300:]}")
                line = next(line for line in out.splitlines() if line.startswith("WRK "))
                wrk = json.loads(line[4:])
                if wrk["bad"] or wrk["socket_errors"]:
                    raise run.Failure(f"{target}: {wrk['bad']} bad answers, {wrk['socket_errors']} socket errors")
                served, seconds = wrk["requests"], wrk["duration_us"] / 1e6
                time.sleep(0.5)
                server_ms = (server.cpu_ticks() - before) * 1000 / run.CLK_TCK / served
            pg_ms = (cluster.cpu_ticks() - before_pg) * 1000 / run.CLK_TCK / served
            return served / seconds, server_ms, pg_ms, client_seconds * 1000 / served

        targets = ("sql", "floor", "gazette")
        for target in targets:  # warm-up, discarded
            measure(target, 2)
        rows = {target: [] for target in targets}
        for round_number in range(args.rounds):
            # The order turns each round, so that no target always runs first.
            for target in targets[round_number % 3:] + targets[:round_number % 3]:
                rows[target].append(measure(target, args.duration))
                rate = rows[target][-1][0]
                run.log(f"round {round_number + 1} {target:8} {rate:8,.0f} req/s")
        print(f"q2r, {posts.group(1)} posts, {args.rounds} rounds of {args.duration} s, "
              f"{args.connections} connections, cache off")
        print()
        print("| target | req/s (median; min–max) | of raw SQL, per round | CPU ms / req: server + PostgreSQL + load generator |")
        print("|---|---|---|---|")
        for target in targets:
            rates = [row[0] for row in rows[target]]
            ratios = [row[0] / sql[0] for row, sql in zip(rows[target], rows["sql"])]
            server = "–" if target == "sql" else f"{statistics.median(row[1] for row in rows[target]):.3f}"
            pg = statistics.median(row[2] for row in rows[target])
            client = statistics.median(row[3] for row in rows[target])
            print(f"| {target} | {statistics.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f}) | "
                  f"{' '.join(f'{ratio:.2f}' for ratio in ratios)} | {server} + {pg:.3f} + {client:.3f} |")
    finally:
        for server in servers.values():
            server.stop()


if __name__ == "__main__":
    main()
