"""The busy-day workload (issue 21): a site that published 1,000 posts today, one change a
second, and readers who must not notice the worker.

1. Adds a channel of every kind and 1,000 short posts published today (in the current
   daily digest period) to the benchmark's data.
2. Times the CPU of `gazette worker --once` (process user + system time, start-up included):
   the first run (everything new), a run with nothing changed, a run after one comment and
   a run after one title edit.
3. Runs `gazette api` (no worker) and `gazette serve` (API and worker in one process, the
   README's default), alternately, under the same load: wrk sends Q1 (the front page) on
   `connections` connections, a thread polls `/healthz` every 20 ms, and another posts a
   comment on one of today's posts every second through the API, so `serve`'s worker
   rebuilds feeds and re-renders every channel's digest about once a second. The table
   compares Q1's and `/healthz`'s p99 with and without the worker.

It changes the data (the front page becomes today's posts), so it runs after every other
workload.
"""

import json
import os
import resource
import statistics
import threading
import time
import urllib.request

BUSY_PORT = 18090
POSTS_TODAY = 1_000
KINDS = ["facebook", "twitter", "youtube", "flickr", "blog", "rss", "podcast", "mastodon",
         "linkedin", "other"]


def prepare(bench):
    """Channels of every kind, and 1,000 posts published today (newest last)."""
    bench.cluster.psql("gazette", f"""
        insert into social_channels (slug, kind, name, url, position)
        select 'busy-' || kind, kind, initcap(kind), 'https://' || kind || '.example/gazette', 100 + n
        from unnest(array{KINDS!r}) with ordinality as k(kind, n)
        on conflict do nothing""".replace('"', "'"))
    bench.cluster.psql("gazette", f"""
        insert into posts (author_id, slug, title, body, body_html, excerpt, status, published_at,
                           created_at, updated_at)
        select (select min(id) from authors), 'busy-day-' || i,
               'A short update on the service, number ' || i,
               'A short update on the service, see https://example.gov.au/news for details.',
               '<p>A short update on the service, see <a href="https://example.gov.au/news">https://example.gov.au/news</a> for details.</p>',
               'A short update on the service, see https://example.gov.au/news for details.',
               'published', t, t, t
        from generate_series(1, {POSTS_TODAY}) i,
             lateral (select date_trunc('day', now()) + (now() - date_trunc('day', now())) * (i::float8 / ({POSTS_TODAY} + 1)) as t) times
        on conflict do nothing""")
    bench.cluster.psql("gazette", "vacuum (analyze)")


def worker_cpu_seconds(bench):
    """CPU seconds (user + system) of one `gazette worker --once`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    bench.gazette("worker", "--once")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def worker_runs(bench):
    first = worker_cpu_seconds(bench)
    idle = worker_cpu_seconds(bench)
    bench.cluster.psql("gazette", """
        insert into comments (post_id, author_name, body, body_html)
        select id, 'Reader', 'Thanks for the update.', '<p>Thanks for the update.</p>'
        from posts where slug = 'busy-day-500'""")
    comment = worker_cpu_seconds(bench)
    bench.cluster.psql("gazette", "update posts set title = title || ' (corrected)' where slug = 'busy-day-999'")
    edit = worker_cpu_seconds(bench)
    idle_again = worker_cpu_seconds(bench)
    return {"first": first, "idle": min(idle, idle_again), "comment": comment, "edit": edit}


class Poller(threading.Thread):
    """GET `url` every `every` seconds; keeps each latency in ms."""

    def __init__(self, url, every=0.02):
        super().__init__(daemon=True)
        self.url, self.every = url, every
        self.latencies, self.failures = [], 0
        self.running = True

    def run(self):
        while self.running:
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=30) as response:
                    response.read()
                    if response.status != 200:
                        self.failures += 1
            except OSError:
                self.failures += 1
            self.latencies.append((time.monotonic() - started) * 1000)
            time.sleep(max(0.0, self.every - (time.monotonic() - started)))

    def finish(self):
        self.running = False
        self.join()
        return self.latencies


class Commenter(threading.Thread):
    """One comment a second on one of today's posts, through the API."""

    def __init__(self, url, post_ids):
        super().__init__(daemon=True)
        self.url, self.post_ids = url, post_ids
        self.sent, self.failures = 0, 0
        self.running = True

    def run(self):
        n = 0
        while self.running:
            started = time.monotonic()
            body = json.dumps({
                "query": "mutation($input: AddCommentInput!) { addComment(input: $input) { comment { id } } }",
                "variables": {"input": {"postId": self.post_ids[n % len(self.post_ids)],
                                        "authorName": "Busy reader",
                                        "body": f"Comment {n} on a busy day."}},
            }).encode()
            request = urllib.request.Request(self.url, data=body,
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=30) as response:
                    answer = json.loads(response.read())
                    if answer.get("errors"):
                        self.failures += 1
                    else:
                        self.sent += 1
            except OSError:
                self.failures += 1
            n += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    def finish(self):
        self.running = False
        self.join()


def metric(url, name, labels):
    """The value of one series in the Prometheus text at `url`; None when the server does
    not answer within a minute (a worker holding the API's threads, before issue 21)."""
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            text = response.read().decode()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def difference(after, before):
    return None if after is None or before is None else after - before


def count(value):
    return "?" if value is None else f"{value:.0f}"


def p99(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] if ordered else 0.0


def measure(bench, tools, mode, round_number, q1_script, post_ids):
    """One run of the load against `gazette api` or `gazette serve`."""
    url = f"http://127.0.0.1:{BUSY_PORT}"
    server = tools.Server(
        f"busy-{mode}",
        [bench.args.gazette, mode, "--database-url", bench.cluster.url,
         "--data-dir", str(bench.root / "gazette-data"), "--listen", f"127.0.0.1:{BUSY_PORT}",
         "--seed", "false", "--comment-moderation", "open", "--comment-rate-limit", "0",
         "--metrics-listen", f"127.0.0.1:{BUSY_PORT + 1}", *os.environ.get("BUSY_EXTRA", "").split()],
        url, bench.root / f"busy-{mode}.log")
    try:
        server.wait_ready("/readyz")
        time.sleep(2)  # a worker's start-up run, if any, is over
        metrics_url = f"http://127.0.0.1:{BUSY_PORT + 1}/metrics"
        runs_before = metric(metrics_url, "gazette_worker_runs_total", {"worker_job": "social", "outcome": "success"})
        digests_before = metric(metrics_url, "gazette_worker_texts_rendered_total", {"text": "digest"})
        ticks_before = server.cpu_ticks()
        poller = Poller(url + "/healthz")
        commenter = Commenter(url + "/graphql", post_ids)
        poller.start()
        commenter.start()
        result = bench.wrk_result(bench.wrk(q1_script, url + "/graphql", bench.args.connections,
                                            bench.args.duration))
        commenter.finish()
        healthz = poller.finish()
        cpu_seconds = (server.cpu_ticks() - ticks_before) / 100
        runs = difference(metric(metrics_url, "gazette_worker_runs_total",
                                 {"worker_job": "social", "outcome": "success"}), runs_before)
        digests = difference(metric(metrics_url, "gazette_worker_texts_rendered_total", {"text": "digest"}),
                             digests_before)
    finally:
        server.stop()
    row = {
        "mode": mode, "round": round_number,
        "rps": (result["requests"] - result["bad"]) / (result["duration_us"] / 1e6),
        "q1_p50_ms": result["p50_us"] / 1000, "q1_p99_ms": result["p99_us"] / 1000,
        "healthz_p99_ms": p99(healthz), "healthz_max_ms": max(healthz, default=0.0),
        "healthz_failed": poller.failures, "comments": commenter.sent,
        "comment_failures": commenter.failures, "bad": result["bad"],
        "worker_runs": runs, "digests_rendered": digests, "server_cpu_s": cpu_seconds,
    }
    tools.log(f"busy day round {round_number} {mode:5}: Q1 {row['rps']:7.0f} req/s, p99 {row['q1_p99_ms']:.1f} ms; "
              f"/healthz p99 {row['healthz_p99_ms']:.1f} ms, max {row['healthz_max_ms']:.1f} ms; "
              f"{row['comments']} comments, {count(runs)} worker runs, {count(digests)} digests rendered")
    return row


def run(bench, tools, q1_script):
    """The whole workload; returns its facts and rows. `tools` has the driver's `Server`,
    `log` and `post_id` (a post's GraphQL id)."""
    prepare(bench)
    cpu = worker_runs(bench)
    tools.log("busy day, worker --once CPU: first {first:.2f} s, nothing changed {idle:.3f} s, "
              "after one comment {comment:.3f} s, after one title edit {edit:.3f} s".format(**cpu))
    post_ids = [tools.post_id(int(pid)) for pid in bench.cluster.psql(
        "gazette", "select id from posts where slug like 'busy-day-%' order by id limit 100").split()]
    rows = []
    for round_number in range(1, bench.args.rounds + 1):
        for mode in ("api", "serve"):
            rows.append(measure(bench, tools, mode, round_number, q1_script, post_ids))
    return {"worker_cpu_s": cpu, "rows": rows}


def total(rows, field):
    values = [r[field] for r in rows]
    return "?" if None in values else f"{sum(values):.0f}"


def table(results):
    if not results:
        return []
    cpu = results["worker_cpu_s"]
    lines = [
        "",
        f"Busy day: {POSTS_TODAY:,} posts published today, 10 channels (one of each kind). "
        f"`gazette worker --once` CPU (user + system, start-up included): first run {cpu['first']:.2f} s, "
        f"nothing changed {cpu['idle'] * 1000:.0f} ms, after one comment {cpu['comment'] * 1000:.0f} ms, "
        f"after one title edit {cpu['edit'] * 1000:.0f} ms.",
        "",
        "| Server | Q1 req/s | Q1 p50 ms | Q1 p99 ms | /healthz p99 ms | /healthz max ms "
        "| comments posted | worker runs | digests rendered | server CPU s | failed |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for mode in ("api", "serve"):
        rows = [r for r in results["rows"] if r["mode"] == mode]
        median = lambda field: statistics.median(r[field] for r in rows)  # noqa: E731
        lines.append(
            f"| `gazette {mode}` | {median('rps'):,.0f} | {median('q1_p50_ms'):.2f} | {median('q1_p99_ms'):.2f} "
            f"| {median('healthz_p99_ms'):.2f} | {max(r['healthz_max_ms'] for r in rows):.1f} "
            f"| {sum(r['comments'] for r in rows)} | {total(rows, 'worker_runs')} "
            f"| {total(rows, 'digests_rendered')} | {median('server_cpu_s'):.1f} "
            f"| {sum(r['bad'] + r['healthz_failed'] + r['comment_failures'] for r in rows)} |")
    return lines
