#!/usr/bin/env python3
"""The floor under q2r: raw SQL (pgbench), a minimal HTTP server (bench/floor) and Gazette
with its cache off, taking turns round by round on the PostgreSQL and data of an earlier
`bench/run.py --dir D` run, with wrk's script for q2r from that run.

    python3 bench/floor.py --dir /var/tmp/bench-X --gazette target/release/gazette

The floor runs pgbench's own q2r statement behind hyper and sqlx and nothing else (see
bench/floor/src/main.rs), so its rate is an estimate of what raw SQL's rate leaves to an
HTTP server whose load generator shares the machine's cores: how much room the issue's
"0.5× raw SQL" target for q2r leaves. Reports requests per second, the machine's cores
busy, and CPU per request of the server, PostgreSQL and the load generator (wrk or
pgbench, from its exit status).
"""

import argparse
import itertools
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  (the benchmark's own helpers)

FLOOR = Path(__file__).resolve().parent / "floor"
TARGETS = ("sql", "floor", "gazette")
QUERY = (Path(__file__).resolve().parent / "queries" / "q2r.gazette.graphql").read_text()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, type=Path, help="a bench/run.py --dir with its data")
    parser.add_argument("--gazette", required=True, help="the gazette binary")
    parser.add_argument("--pg-bin", default="/usr/lib/postgresql/15/bin", type=Path)
    parser.add_argument("--rounds", type=int, default=6, help="6 runs every order of the three targets once")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32, help="wrk's and pgbench's -c, as the benchmark")
    parser.add_argument("--floor-connections", type=int, default=10,
                        help="the floor's database connections (Gazette's default pool is 10)")
    args = parser.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet", "--manifest-path", str(FLOOR / "Cargo.toml")],
                   check=True)
    with run.earlier_cluster(args.dir, args.pg_bin) as cluster:
        measure_all(args, cluster)


def machine_busy_ticks():
    """Ticks every core has spent on anything but idling and waiting, from /proc/stat:
    counts work charged to no process of ours too (softirqs of loopback traffic)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return user + nice + system + irq + softirq + steal


def post(url, slug):
    body = json.dumps({"query": QUERY, "variables": {"slug": slug}}).encode()
    request = urllib.request.Request(url + "/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def check_answers(servers, count=20):
    """The floor and Gazette give the same post and the same number of thread comments
    for the first `count` published posts: the floor is no cheaper for answering less."""
    compared = 0
    for n in range(1, 200):
        gazette = servers["gazette"].url
        answer = post(gazette, f"post-{n}")
        if answer.get("errors") or answer["data"]["post"] is None:
            continue
        floor = post(servers["floor"].url, f"post-{n}")
        if floor.get("errors") or floor["data"]["post"] is None:
            raise run.Failure(f"the floor did not answer post-{n}: {str(floor)[:300]}")
        theirs, ours = floor["data"]["post"], answer["data"]["post"]
        if (theirs["title"], len(theirs["thread"])) != (ours["title"], len(ours["thread"]["edges"])):
            raise run.Failure(f"post-{n}: the floor's title or thread ({len(theirs['thread'])} comments) "
                              f"is not Gazette's ({len(ours['thread']['edges'])})")
        compared += 1
        if compared == count:
            run.log(f"the floor and Gazette agree on {count} posts")
            return
    raise run.Failure(f"fewer than {count} published posts among post-1 to post-199")


def measure_all(args, cluster):
    wrk_script = args.dir / "q2r-gazette-uncached.lua"
    posts = re.search(r"^posts, middle, distribution = (\d+)", wrk_script.read_text(), re.M)
    if posts is None:
        raise run.Failure(f"{wrk_script}: not a q2r script of bench/run.py")
    pgbench_script = args.dir / "q2r.sql"
    servers = {}
    try:
        listen = run.free_port()
        servers["floor"] = run.Server(
            "floor", [str(FLOOR / "target" / "release" / "gazette-bench-floor"), cluster.url,
                      f"127.0.0.1:{listen}", str(args.floor_connections)],
            f"http://127.0.0.1:{listen}", args.dir / "floor.log")
        listen = run.free_port()
        servers["gazette"] = run.Server(
            "gazette",
            [args.gazette, "api", "--database-url", cluster.url,
             "--data-dir", str(args.dir / "gazette-data"), "--listen", f"127.0.0.1:{listen}",
             "--seed", "false", "--graphql-cache-ttl", "0", "--metrics-listen", "off"],
            f"http://127.0.0.1:{listen}", args.dir / "floor-gazette.log")
        for name, server in servers.items():
            # The floor answers every path: a GET is its "no variables.slug" error.
            server.wait_ready("/graphql" if name == "floor" else "/readyz")
        check_answers(servers)

        def measure(target, duration):
            before_pg, before_machine, started = cluster.cpu_ticks(), machine_busy_ticks(), time.monotonic()
            if target == "sql":
                code, out, err, client_seconds = run.run_client(
                    [str(args.pg_bin / "pgbench"), "-n", "-M", "prepared", "-c", str(args.connections),
                     "-j", "2", "-T", str(duration), "-D", f"posts={posts.group(1)}",
                     "-f", str(pgbench_script), cluster.url])
                processed = re.search(r"number of transactions actually processed: (\d+)", out)
                tps = re.search(r"tps = ([0-9.]+) \(without initial", out)
                if code != 0 or processed is None or tps is None:
                    raise run.Failure(f"pgbench failed: {out[-300:]} {err[-300:]}")
                served, rate, server_ms = int(processed.group(1)), float(tps.group(1)), None
                busy_seconds = time.monotonic() - started
                time.sleep(1)  # pgbench's backends count once the postmaster reaps them
            else:
                server = servers[target]
                before = server.cpu_ticks()
                code, out, err, client_seconds = run.run_client(
                    ["wrk", "-t2", f"-c{args.connections}", f"-d{duration}s", "-s", str(wrk_script),
                     server.url + "/graphql"])
                line = next((line for line in out.splitlines() if line.startswith("WRK ")), None)
                if code != 0 or line is None:
                    raise run.Failure(f"wrk failed on {target}: {out[-300:]} {err[-300:]}")
                wrk = json.loads(line[4:])
                if wrk["bad"] or wrk["socket_errors"]:
                    raise run.Failure(f"{target}: {wrk['bad']} bad answers, {wrk['socket_errors']} socket errors")
                served = max(wrk["requests"], 1)
                rate = served / (wrk["duration_us"] / 1e6)
                busy_seconds = time.monotonic() - started
                time.sleep(0.5)
                server_ms = (server.cpu_ticks() - before) * 1000 / run.CLK_TCK / served
            served = max(served, 1)
            # The machine's busy ticks over the run itself (the sleeps above come after).
            cores = (machine_busy_ticks() - before_machine) / run.CLK_TCK / busy_seconds
            pg_ms = (cluster.cpu_ticks() - before_pg) * 1000 / run.CLK_TCK / served
            return rate, server_ms, pg_ms, client_seconds * 1000 / served, cores

        for target in TARGETS:  # warm-up, discarded
            measure(target, 2)
        rows = {target: [] for target in TARGETS}
        orders = itertools.cycle(itertools.permutations(TARGETS))
        for round_number in range(args.rounds):
            # Every order of the three in turn, so that no target always follows another.
            for target in next(orders):
                rows[target].append(measure(target, args.duration))
                run.log(f"round {round_number + 1} {target:8} {rows[target][-1][0]:8,.0f} req/s, "
                        f"{rows[target][-1][4]:.2f} cores busy")
        report(args, posts.group(1), rows)
    finally:
        for server in servers.values():
            server.stop()


def report(args, posts, rows):
    print(f"q2r, {posts} posts, {args.rounds} rounds of {args.duration} s, {args.connections} connections, "
          f"cache off, the floor with {args.floor_connections} database connections, "
          f"{os.cpu_count()} cores")
    print()
    print("| target | req/s (median; min–max) | of raw SQL, per round | cores busy (median) "
          "| CPU ms / req: server + PostgreSQL + load generator |")
    print("|---|---|---|---|---|")
    for target in TARGETS:
        rates = [row[0] for row in rows[target]]
        ratios = [row[0] / sql[0] for row, sql in zip(rows[target], rows["sql"])]
        median = lambda column: statistics.median(row[column] for row in rows[target])  # noqa: E731
        server = "–" if target == "sql" else f"{median(1):.3f}"
        print(f"| {target} | {statistics.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f}) | "
              f"{' '.join(f'{ratio:.2f}' for ratio in ratios)} | {median(4):.2f} | "
              f"{server} + {median(2):.3f} + {median(3):.3f} |")
    ratios = [g[0] / f[0] for g, f in zip(rows["gazette"], rows["floor"])]
    print()
    print(f"Gazette / the floor, per round: {' '.join(f'{ratio:.2f}' for ratio in ratios)}")


if __name__ == "__main__":
    main()
