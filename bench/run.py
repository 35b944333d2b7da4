#!/usr/bin/env python3
"""Gazette's benchmark driver (run it through `scripts/bench`, which installs the tools).

It starts a throwaway PostgreSQL cluster, fills it with `gazette bench-data`, times the
worker, then runs Gazette, PostGraphile, raw SQL (pgbench) and nginx against the same data,
interleaved round by round, and prints one table with ratios measured in the same run.
Responses are checked: one without data, or with errors, is a failure, not a request served.

`--check` runs every workload once against every target and fails on a bad answer: the
correctness part, which CI runs. It prints no timings.
"""

import argparse
import base64
import contextlib
import json
import os
import pwd
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import answers  # noqa: E402
import busy_day  # noqa: E402
import chart  # noqa: E402
import hostile  # noqa: E402
import workloads  # noqa: E402

_HANDED_OUT = set()


def free_port():
    """A loopback port nothing listens on now (a run never collides with another server),
    and not one handed out before in this run: the kernel may give a port it just freed to
    the next probe, and two servers told the same port collide (PostGraphile's cluster
    workers then fail to bind while its master keeps running, and the requests meant for
    it reach another server)."""
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


PG_PORT = free_port()
GAZETTE_PORT = free_port()
POSTGRAPHILE_PORT = free_port()
POSTGRAPHILE_SINGLE_PORT = free_port()
METRICS_PORT = free_port()
NGINX_PORT = free_port()
UNCACHED_PORT = free_port()
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Every target, in the table's order, with the name the table gives it.
TARGETS = {
    "gazette-uncached": "Gazette, cache off",
    "gazette": "Gazette, cache on",
    "postgraphile": "PostGraphile, 2 workers",
    "postgraphile-1": "PostGraphile, 1 process",
    "sql": "raw SQL (pgbench)",
    "nginx": "nginx (static file)",
}


def log(message):
    print(f"[bench] {message}", file=sys.stderr, flush=True)


class Failure(Exception):
    pass


# ---------------------------------------------------------------------------------------
# Processes


class Cluster:
    """A PostgreSQL cluster of our own, with pg_stat_statements, run as an unprivileged user."""

    def __init__(self, bin_dir: Path, root: Path):
        self.bin = bin_dir
        self.root = root
        self.data = root / "pg"
        self.user = "postgres" if os.geteuid() == 0 else None
        self.port = PG_PORT
        self.url = f"postgres://postgres@127.0.0.1:{PG_PORT}/gazette"

    def _run(self, *args, **kwargs):
        command = [str(a) for a in args]
        if self.user:
            command = ["runuser", "-u", self.user, "--"] + command
        return subprocess.run(command, check=True, **kwargs)

    def start(self):
        if self.data.exists():
            self.stop(quiet=True)
            shutil.rmtree(self.data)
        self.root.mkdir(parents=True, exist_ok=True)
        # nginx's workers (nobody) read the static feed under it.
        os.chmod(self.root, 0o755)
        self.data.mkdir()
        if self.user:
            entry = pwd.getpwnam(self.user)
            for path in (self.root, self.data):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._run(self.bin / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", stdout=subprocess.DEVNULL)
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write(
                f"port = {PG_PORT}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.root}'\n"
                "shared_preload_libraries = 'pg_stat_statements'\n"
                "max_connections = 200\nshared_buffers = 256MB\n"
                "synchronous_commit = on\nlogging_collector = off\n"
            )
        self._run(self.bin / "pg_ctl", "-D", self.data, "-l", self.root / "pg.log", "-w", "start",
                  stdout=subprocess.DEVNULL)
        self.psql("postgres", "create database gazette")
        self.psql("gazette", "create extension pg_stat_statements")

    def stop(self, quiet=False):
        try:
            self._run(self.bin / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop",
                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL if quiet else None)
        except subprocess.CalledProcessError:
            if not quiet:
                raise

    def psql(self, database, sql):
        out = subprocess.run(
            [str(self.bin / "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
             "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", database, "-c", sql],
            check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def cpu_ticks(self):
        """CPU the cluster used: the postmaster (with the backends it has reaped) and every
        process it runs now (backends, autovacuum, the WAL writer...)."""
        try:
            postmaster = int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0
        total = proc_ticks(postmaster, children_exited=True)
        children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout
        return total + sum(proc_ticks(int(pid)) for pid in children.split())

    def reset_statements(self):
        self.psql("gazette", "select pg_stat_statements_reset()")

    def statements(self):
        """Statements executed and their total execution time (ms) since the last reset."""
        row = self.psql("gazette",
                        "select coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) "
                        "from pg_stat_statements where query not like '%pg_stat_statements%'")
        calls, ms = row.split("|")
        return int(calls), float(ms)


def proc_ticks(pid, children_exited=False):
    """utime + stime of a process (and of its reaped children), in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    ticks = int(fields[11]) + int(fields[12])
    if children_exited:
        ticks += int(fields[13]) + int(fields[14])
    return ticks


@contextlib.contextmanager
def earlier_cluster(directory, pg_bin):
    """The PostgreSQL cluster of an earlier run's `--dir` (its data kept), started for the
    block; `url` is what Gazette and pgbench connect with."""
    cluster = Cluster(Path(pg_bin), Path(directory))
    cluster.port = int(re.search(r"^port = (\d+)", (cluster.data / "postgresql.conf").read_text(), re.M).group(1))
    cluster.url = f"postgres://postgres@127.0.0.1:{cluster.port}/gazette"
    cluster._run(cluster.bin / "pg_ctl", "-D", cluster.data, "-l", cluster.root / "pg.log", "-w", "start",
                 stdout=subprocess.DEVNULL)
    try:
        yield cluster
    finally:
        cluster.stop(quiet=True)


def run_client(command):
    """Runs a load generator (wrk, pgbench) to its end: (returncode, stdout, stderr, CPU
    seconds it used). Its CPU comes from its own exit status (`wait4`), so that nothing
    else this script starts meanwhile is counted with it."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen(command, stdout=out, stderr=err)
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            # Interrupted (Ctrl-C): the generator must not go on loading the servers.
            process.kill()
            process.wait()
            raise
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (process.returncode, out.read().decode(errors="replace"),
                err.read().decode(errors="replace"), usage.ru_utime + usage.ru_stime)


class Server:
    def __init__(self, name, command, url, log_path, env=None, cwd=None):
        self.name = name
        self.url = url
        self.log_path = log_path
        self.process = subprocess.Popen(
            command, stdout=open(log_path, "w"), stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})}, cwd=cwd, start_new_session=True)

    def wait_ready(self, path="/", timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise Failure(f"{self.name} exited ({self.process.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(self.url + path, timeout=2) as response:
                    if response.status < 500:
                        return
            except urllib.error.HTTPError as error:
                if error.code < 500:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise Failure(f"{self.name} did not answer {path} within {timeout} s; see {self.log_path}")

    def pids(self):
        """The server's process and its children (nginx's workers)."""
        pids = [self.process.pid]
        try:
            children = subprocess.run(["pgrep", "-P", str(self.process.pid)],
                                      capture_output=True, text=True).stdout.split()
            pids += [int(pid) for pid in children]
        except OSError:
            pass
        return pids

    def cpu_ticks(self):
        return sum(proc_ticks(pid) for pid in self.pids())

    def rss_bytes(self, pids=None):
        total = 0
        for pid in pids or self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
            except (OSError, ValueError):
                pass
        return total

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


class MemorySampler(threading.Thread):
    def __init__(self, server):
        super().__init__(daemon=True)
        self.server = server
        self.peak = 0
        self.running = True

    def run(self):
        # The processes are listed once: a `pgrep` every 0.2 s would take CPU from the run
        # it measures.
        pids = self.server.pids()
        while self.running:
            self.peak = max(self.peak, self.server.rss_bytes(pids))
            time.sleep(0.2)

    def finish(self):
        self.running = False
        self.join()
        return self.peak


# ---------------------------------------------------------------------------------------
# Requests


def graphql_ok(body: bytes):
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and "errors" not in answer and isinstance(answer.get("data"), dict) \
        and all(value is not None for value in answer["data"].values())


def post_json(url, payload):
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def gazette_post_id(slug_number):
    return base64.b64encode(f"Post:{slug_number}".encode()).decode()


LUA_COMMON = r"""
bad = 0
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("thread_number", #threads) end
function response(status, headers, body)
  if not ok(status, headers, body) then bad = bad + 1 end
end
function done(summary, latency, requests)
  local failures = 0
  for _, thread in ipairs(threads) do failures = failures + thread:get("bad") end
  local e = summary.errors
  io.write(string.format(
    'WRK {"requests": %d, "bad": %d, "socket_errors": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d}\n',
    summary.requests, failures, e.connect + e.read + e.write + e.timeout, summary.duration,
    latency:percentile(50), latency:percentile(99)))
end
"""

LUA_GRAPHQL_OK = r"""
function ok(status, headers, body)
  return status == 200 and body:find('{"data":{', 1, true) == 1 and not body:find('"errors"', 1, true)
end
"""


def lua_long_string(text):
    level = "=" * 4
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def lua_graphql(payload):
    return (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = {lua_long_string(json.dumps(payload))}\n" + LUA_GRAPHQL_OK + LUA_COMMON
    )


# Each wrk thread draws its own sequence (threads are numbered in `setup`).
LUA_SEED = "math.randomseed(os.time() * 1000 + (thread_number or 0))\n"

# A post's number per request: uniform over 1..posts, or Zipf (s = 1.01: post-1, the newest,
# is asked for most), the big thread's slot (posts // 2, a different slug) skipped.
LUA_PICK_POST = r"""
local cdf = nil
local function zipf_cdf()
  local table_, total = {}, 0
  for rank = 1, posts do total = total + 1 / rank ^ 1.01; table_[rank] = total end
  return table_
end
function pick_post()
  local n
  if distribution == "zipf" then
    cdf = cdf or zipf_cdf()
    local u, low, high = math.random() * cdf[posts], 1, posts
    while low < high do
      local mid = math.floor((low + high) / 2)
      if cdf[mid] < u then low = mid + 1 else high = mid end
    end
    n = low
  else
    n = math.random(1, posts)
  end
  if n == middle then n = n + 1 end
  return n
end
"""


def lua_varied_post(query, posts, distribution, comment=None):
    """A post's page per request, `$slug` = `post-<n>` drawn by `distribution`; with
    `comment` (a mutation, its input template and the posts it may go to), one request in
    20 is that mutation instead, as on a site that takes comments while it is read."""
    mutation = ""
    if comment:
        mutation_query, template, posts_list = comment
        mutation = (
            f"local mutation = {lua_long_string(json.dumps(mutation_query))}\n"
            f"local template = {lua_long_string(template)}\n"
            f"local comment_posts = {{{posts_list}}}\n"
            "local counter = 0\n"
        )
    return (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"local query = {lua_long_string(json.dumps(query))}\n"
        f"posts, middle, distribution = {posts}, {posts // 2}, \"{distribution}\"\n"
        + mutation + LUA_PICK_POST
        + "function init(args) " + LUA_SEED + "end\n"
        "function request()\n"
        + ("  if math.random() < 0.05 then\n"
           "    counter = counter + 1\n"
           "    local input = template:gsub('__N__', tostring(counter) .. '-' .. math.random(1, 1000000000))"
           ":gsub('__POST__', comment_posts[math.random(1, #comment_posts)])\n"
           '    return wrk.format(nil, nil, nil, \'{"query":\' .. mutation .. \',"variables":{"input":\' .. input .. "}}")\n'
           "  end\n" if comment else "")
        + '  return wrk.format(nil, nil, nil, \'{"query":\' .. query .. \',"variables":{"slug":"post-\' .. pick_post() .. \'"}}\')\n'
        "end\n" + LUA_GRAPHQL_OK + LUA_COMMON
    )


def lua_pages(query, cursors):
    """The front page after a cursor drawn uniformly from `cursors` (base64: no quoting)."""
    listed = ",".join(f'"{cursor}"' for cursor in cursors)
    return (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"local query = {lua_long_string(json.dumps(query))}\n"
        f"local cursors = {{{listed}}}\n"
        "function init(args) " + LUA_SEED + "end\n"
        "function request()\n"
        '  return wrk.format(nil, nil, nil, \'{"query":\' .. query .. \',"variables":{"after":"\' .. cursors[math.random(1, #cursors)] .. \'"}}\')\n'
        "end\n" + LUA_GRAPHQL_OK + LUA_COMMON
    )


def lua_comments(mutation, input_template):
    """A new comment per request; `input_template` holds POST_ID and N placeholders."""
    return (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f"local query = {lua_long_string(json.dumps(mutation))}\n"
        f"local template = {lua_long_string(input_template)}\n"
        "local counter = 0\n"
        "function request()\n"
        "  counter = counter + 1\n"
        "  local input = template:gsub('__N__', tostring(counter)):gsub('__POST__', POSTS[(counter % #POSTS) + 1])\n"
        '  return wrk.format(nil, nil, nil, \'{"query":\' .. query .. \',"variables":{"input":\' .. input .. "}}")\n'
        "end\n" + LUA_GRAPHQL_OK + LUA_COMMON
    )


def lua_feed(expect_status, etag=None):
    headers = f'wrk.headers["If-None-Match"] = {lua_long_string(etag)}\n' if etag else ""
    check = ("status == 304" if expect_status == 304
             else 'status == 200 and body:find("<rss", 1, true) ~= nil')
    return headers + f"function ok(status, headers, body) return {check} end\n" + LUA_COMMON


# ---------------------------------------------------------------------------------------
# The run

# PostGraphile gets the anonymous reader's rules the way its users give them: row-level
# security for a role it switches to per request (`--default-role`, a transaction with
# `set local role` around every query). The rules are Gazette's (store::visibility) for the
# rows the workloads read: a published post; a published comment on a published post. The
# policies' predicates, the role switch and the transaction are PostGraphile's cost of
# enforcing them (docs/benchmarks.md). Gazette and pgbench connect as the owner, whom
# row-level security does not apply to.
POSTGRAPHILE_RULES = """
create role bench_anonymous nologin;
grant usage on schema public to bench_anonymous;
grant select, insert, update on all tables in schema public to bench_anonymous;
grant usage on all sequences in schema public to bench_anonymous;
alter table posts enable row level security;
alter table comments enable row level security;
create policy anonymous_reads on posts for select to bench_anonymous using (status = 'published');
create policy anonymous_reads on comments for select to bench_anonymous
    using (status = 'published'
           and exists (select 1 from posts p where p.id = comments.post_id and p.status = 'published'));
create policy anonymous_comments on comments for insert to bench_anonymous
    with check (status = 'published');
"""

PAGE_CURSOR_GAZETTE = ("query Pages($after: String) { posts(first: 20, after: $after) "
                       "{ pageInfo { endCursor hasNextPage } } }")
PAGE_CURSOR_POSTGRAPHILE = ("query Pages($after: Cursor) { posts(first: 20, after: $after, "
                            "orderBy: [PUBLISHED_AT_DESC, ID_DESC]) { pageInfo { endCursor hasNextPage } } }")


class Bench:
    def __init__(self, args):
        self.args = args
        self.root = Path(args.dir).resolve()
        self.repo = Path(__file__).resolve().parent.parent
        self.cluster = Cluster(Path(args.pg_bin), self.root)
        self.servers = {}
        self.results = []  # one dict per measured run
        self.hostile_results = []
        self.busy_day_results = None
        self.facts = {}
        self.post_ids = []

    # -- set-up --------------------------------------------------------------------------

    def gazette(self, *args, env=None):
        command = [self.args.gazette, "--database-url", self.cluster.url, "--data-dir",
                   str(self.root / "gazette-data"), *args]
        started = time.monotonic()
        subprocess.run(command, check=True, env={**os.environ, "GAZETTE_LOG": "error", **(env or {})})
        return time.monotonic() - started

    def set_up(self):
        log(f"PostgreSQL cluster in {self.cluster.data}")
        self.cluster.start()
        size = ["--posts", str(self.args.posts)]
        if self.args.check:
            size += ["--big-thread-chains", "20", "--big-thread-depth", "50"]
        self.facts["data_seconds"] = self.gazette("bench-data", *size)
        self.facts["posts"] = int(self.cluster.psql("gazette", "select count(*) from posts"))
        self.facts["comments"] = int(self.cluster.psql("gazette", "select count(*) from comments"))
        log(f"data: {self.facts['posts']} posts, {self.facts['comments']} comments "
            f"in {self.facts['data_seconds']:.1f} s")
        # A steady state, as a site that has been running has: hint bits set, visibility
        # maps current (index-only scans), statistics fresh, nothing left for autovacuum.
        # PostGraphile orders by the `published_at` column (it cannot order by Gazette's
        # `coalesce(published_at, created_at)` index): give it the index that ordering needs,
        # so the baseline is as strong as a PostGraphile user would make it.
        self.cluster.psql("gazette", "create index bench_posts_published_idx "
                                     "on posts (status, published_at desc, id desc)")
        self.cluster.psql("gazette", POSTGRAPHILE_RULES)
        self.cluster.psql("gazette", "vacuum (analyze)")
        self.cluster.psql("gazette", "checkpoint")
        self.facts["worker_full_seconds"] = self.gazette("worker", "--once")
        self.facts["worker_nochange_seconds"] = self.gazette("worker", "--once")
        self.facts["stored_feeds"] = int(self.cluster.psql("gazette", "select count(*) from generated_feeds"))
        log(f"worker --once: full {self.facts['worker_full_seconds']:.2f} s, "
            f"nothing changed {self.facts['worker_nochange_seconds']:.2f} s, "
            f"{self.facts['stored_feeds']} stored feeds")
        # Comments go to 100 posts deep in the archive (post-1001 to post-1100 of 10,000):
        # neither the front page nor the big thread, which the read workloads measure.
        self.first_commented = self.args.posts // 10 + 1
        self.post_ids = [int(x) for x in self.cluster.psql(
            "gazette", "select id from posts where slug in (select 'post-' || n from "
            f"generate_series({self.first_commented}, {self.first_commented + 99}) n) "
            "and status = 'published' order by id").split()]

        self.servers["gazette"] = Server(
            "gazette",
            [self.args.gazette, "serve", "--database-url", self.cluster.url,
             "--data-dir", str(self.root / "gazette-data"), "--listen", f"127.0.0.1:{GAZETTE_PORT}",
             "--seed", "false", "--comment-moderation", "open", "--comment-rate-limit", "0",
             # The hostile workload's two clients are told apart as a proxy would tell them.
             "--trust-forwarded-for", "true", "--metrics-listen", f"127.0.0.1:{METRICS_PORT}"],
            f"http://127.0.0.1:{GAZETTE_PORT}", self.root / "gazette.log")
        self.servers["gazette"].wait_ready("/readyz")
        # The same binary without its response cache: what each query costs to execute.
        self.servers["gazette-uncached"] = Server(
            "gazette-uncached",
            [self.args.gazette, "api", "--database-url", self.cluster.url,
             "--data-dir", str(self.root / "gazette-data"), "--listen", f"127.0.0.1:{UNCACHED_PORT}",
             "--seed", "false", "--graphql-cache-ttl", "0", "--trust-forwarded-for", "true",
             "--comment-moderation", "open", "--comment-rate-limit", "0", "--metrics-listen", "off"],
            f"http://127.0.0.1:{UNCACHED_PORT}", self.root / "gazette-uncached.log")
        self.servers["gazette-uncached"].wait_ready("/readyz")

        # PostGraphile as its documentation runs it in production, with the anonymous
        # reader's rules as row-level security (POSTGRAPHILE_RULES): on the two cores Gazette
        # gets (`--cluster-workers 2`), and in one Node process beside it.
        postgraphile = self.repo / "bench" / "postgraphile" / "node_modules" / ".bin" / "postgraphile"
        for name, port, workers in (("postgraphile", POSTGRAPHILE_PORT, ["--cluster-workers", "2"]),
                                    ("postgraphile-1", POSTGRAPHILE_SINGLE_PORT, [])):
            self.servers[name] = Server(
                name,
                [str(postgraphile), "--connection", self.cluster.url, "--schema", "public",
                 "--append-plugins", "@graphile-contrib/pg-simplify-inflector",
                 "--default-role", "bench_anonymous",
                 "--host", "127.0.0.1", "--port", str(port),
                 "--disable-query-log", "--disable-graphiql", "--max-pool-size", "32", *workers],
                f"http://127.0.0.1:{port}", self.root / f"{name}.log",
                env={"NODE_ENV": "production"})
        for name in ("postgraphile", "postgraphile-1"):
            self.servers[name].wait_ready("/graphql")
        self.cursors = {family: self.page_cursors(family) for family in ("gazette", "postgraphile")}

        # nginx serves the feed Gazette serves, as a static file.
        static = self.root / "static"
        static.mkdir(exist_ok=True)
        with urllib.request.urlopen(self.servers["gazette"].url + "/feed.xml") as response:
            (static / "feed.xml").write_bytes(response.read())
        conf = self.root / "nginx.conf"
        conf.write_text(
            f"worker_processes auto;\npid {self.root}/nginx.pid;\nerror_log {self.root}/nginx-error.log;\n"
            "daemon off;\nevents { worker_connections 1024; }\n"
            "http {\n  access_log off;\n  sendfile on;\n  tcp_nopush on;\n  keepalive_requests 100000;\n"
            "  types { application/rss+xml xml; }\n"
            f"  client_body_temp_path {self.root}/nginx-tmp;\n"
            f"  server {{ listen 127.0.0.1:{NGINX_PORT}; root {static}; }}\n}}\n")
        (self.root / "nginx-tmp").mkdir(exist_ok=True)
        self.servers["nginx"] = Server("nginx", ["nginx", "-c", str(conf), "-p", str(self.root)],
                                       f"http://127.0.0.1:{NGINX_PORT}", self.root / "nginx.log")
        self.servers["nginx"].wait_ready("/feed.xml")

    def page_cursors(self, family, pages=50):
        """The end cursors of the front page's first `pages` pages, as `family` writes them
        (cursors are opaque: each server is paged through with its own)."""
        server = self.servers["gazette-uncached" if family == "gazette" else "postgraphile-1"]
        query = (PAGE_CURSOR_GAZETTE if family == "gazette" else PAGE_CURSOR_POSTGRAPHILE)
        cursors, after = [], None
        for _ in range(pages):
            status, body = post_json(server.url + "/graphql", {"query": query, "variables": {"after": after}})
            answer = json.loads(body)
            if status != 200 or "errors" in answer:
                raise Failure(f"{family}: paging the front page failed: {body[:300]!r}")
            page = answer["data"]["posts"]["pageInfo"]
            if not page["hasNextPage"]:
                break
            after = page["endCursor"]
            cursors.append(after)
        return cursors

    def tear_down(self):
        for server in self.servers.values():
            server.stop()
        self.cluster.stop(quiet=True)

    # -- workloads -----------------------------------------------------------------------

    def comment_input(self, target, n):
        post = self.post_ids[n % len(self.post_ids)]
        if target.startswith("gazette"):
            return {"postId": gazette_post_id(post), "authorName": "Bench reader",
                    "body": f"A comment from the benchmark, number {n}."}
        return {"comment": {"postId": str(post), "authorName": "Bench reader",
                            "body": f"A comment from the benchmark, number {n}.",
                            "bodyHtml": f"<p>A comment from the benchmark, number {n}.</p>",
                            "path": [], "depth": 0}}

    def runs(self):
        """(workload, target), filtered by --only."""
        only = set(self.args.only or [])
        targets = only & set(TARGETS)
        keys = only - targets
        for run in self.all_runs():
            if (not targets or run[1] in targets) and (not keys or run[0].key in keys):
                yield run

    def all_runs(self):
        for workload in workloads.GRAPHQL_WORKLOADS:
            for target in ("gazette-uncached", "gazette", "postgraphile", "postgraphile-1", "sql"):
                if target == "gazette-uncached" and workload.key == "comment":
                    continue  # a mutation is never cached: one Gazette row is enough
                yield workload, target
        for key, title in (("feed200", "GET /feed.xml, 200"), ("feed304", "GET /feed.xml, 304")):
            feed = workloads.Workload(key, title, "", "", "", None)
            yield feed, "gazette"
            yield feed, "nginx"

    @staticmethod
    def query_of(workload, target):
        return workload.postgraphile if target.startswith("postgraphile") else workload.gazette

    def family(self, target):
        return "postgraphile" if target.startswith("postgraphile") else "gazette"

    def pgbench_scripts(self, workload):
        """pgbench's `-f` arguments: the workload's script, or for the mixed run the read
        and the comment scripts weighted 95:5."""
        if workload.key == "mixed":
            return ["-f", f"{self.pgbench_script('q2r', workloads.BY_KEY['q2r'].sql)}@95",
                    "-f", f"{self.pgbench_script('comment', workloads.BY_KEY['comment'].sql)}@5"]
        return ["-f", str(self.pgbench_script(workload.key, workload.sql))]

    def pgbench_script(self, key, sql):
        path = self.root / f"{key}.sql"
        path.write_text(sql)
        return path

    def variables(self, workload, target, slug="post-1"):
        """The variables of one checked request of `workload`."""
        if workload.varies in ("uniform", "zipf", "mixed"):
            return {"slug": slug}
        if workload.varies == "pages":
            return {"after": self.cursors[self.family(target)][0]}
        if workload.varies == "comment":
            return {"input": self.comment_input(target, 0)}
        return None

    def check_once(self, workload, target):
        key = workload.key
        if target == "sql":
            posted = "select count(*) from comments where author_name = 'Bench reader'"
            before = int(self.cluster.psql("gazette", posted))
            subprocess.run([str(Path(self.args.pg_bin) / "pgbench"), "-n", "-M", "prepared", "-t", "1",
                            "-D", f"first={self.first_commented}", "-D", f"posts={self.args.posts}",
                            *self.pgbench_scripts(workload), self.cluster.url], check=True, capture_output=True)
            if key == "comment" and int(self.cluster.psql("gazette", posted)) != before + 1:
                raise Failure("the raw SQL comment script stored no comment")
            return
        server = self.servers[target]
        if key.startswith("feed"):
            request = urllib.request.Request(server.url + "/feed.xml")
            with urllib.request.urlopen(request) as response:
                body, etag = response.read(), response.headers["ETag"]
            if b"<rss" not in body or not etag:
                raise Failure(f"{target}: /feed.xml is not an RSS feed with an ETag")
            if key == "feed304":
                request = urllib.request.Request(server.url + "/feed.xml", headers={"If-None-Match": etag})
                try:
                    urllib.request.urlopen(request)
                    raise Failure(f"{target}: a matching If-None-Match did not get 304")
                except urllib.error.HTTPError as error:
                    if error.code != 304:
                        raise Failure(f"{target}: If-None-Match got {error.code}") from error
            return
        payload = {"query": self.query_of(workload, target)}
        variables = self.variables(workload, target)
        if variables is not None:
            payload["variables"] = variables
        status, body = post_json(server.url + "/graphql", payload)
        if status != 200 or not graphql_ok(body):
            raise Failure(f"{target} answered {key} with {status}: {body[:500]!r}")

    def statements_once(self, workload, target):
        """Statements one request runs, counted by pg_stat_statements."""
        self.cluster.reset_statements()
        self.check_once(workload, target)
        calls, _ = self.cluster.statements()
        return calls

    def comment_template(self, target):
        """addComment's input as a wrk script fills it in: `__N__` a number, `__POST__` a post."""
        template = json.dumps(self.comment_input(target, 0)).replace("number 0", "number __N__")
        if target.startswith("gazette"):
            template = template.replace(json.dumps(gazette_post_id(self.post_ids[0])), '"__POST__"')
            posts = ",".join(f'"{gazette_post_id(p)}"' for p in self.post_ids)
        else:
            template = template.replace(json.dumps(str(self.post_ids[0])), '"__POST__"')
            posts = ",".join(f'"{p}"' for p in self.post_ids)
        return template, posts

    def lua(self, workload, target):
        key = workload.key
        if key == "feed200":
            return lua_feed(200)
        if key == "feed304":
            with urllib.request.urlopen(self.servers[target].url + "/feed.xml") as response:
                return lua_feed(304, response.headers["ETag"])
        query = self.query_of(workload, target)
        if key == "comment":
            template, posts = self.comment_template(target)
            return f"POSTS = {{{posts}}}\n" + lua_comments(query, template)
        if workload.varies == "pages":
            return lua_pages(query, self.cursors[self.family(target)])
        if workload.varies == "mixed":
            mutation = self.query_of(workloads.BY_KEY["comment"], target)
            template, posts = self.comment_template(target)
            return lua_varied_post(query, self.args.posts, "uniform", (mutation, template, posts))
        if workload.varies in ("uniform", "zipf"):
            return lua_varied_post(query, self.args.posts, workload.varies)
        return lua_graphql({"query": query})

    def cache_lookups(self):
        """(hits, misses) of the cached Gazette's response cache so far, from its /metrics."""
        counts = {"hit": 0.0, "miss": 0.0}
        with urllib.request.urlopen(f"http://127.0.0.1:{METRICS_PORT}/metrics", timeout=10) as response:
            for line in response.read().decode().splitlines():
                match = re.match(r'gazette_graphql_cache_requests_total\{result="(hit|miss)"\} ([0-9.e+]+)', line)
                if match:
                    counts[match.group(1)] += float(match.group(2))
        return counts["hit"], counts["miss"]

    def measure(self, workload, target, round_number, warm_up=False):
        """One timed run of `workload` against `target`; a warm-up run is timed the same
        way and thrown away (its rounds are not in the table)."""
        key, title = workload.key, workload.title
        duration = self.args.warm_up if warm_up else self.args.duration
        connections = self.args.connections
        self.cluster.reset_statements()
        result = {"key": key, "title": title, "target": target, "round": round_number}
        pg_ticks = self.cluster.cpu_ticks()
        if target == "sql":
            code, out, err, client_seconds = run_client(
                [str(Path(self.args.pg_bin) / "pgbench"), "-n", "-M", "prepared", "-c", str(connections),
                 "-j", "2", "-T", str(duration), "-D", f"first={self.first_commented}", "-D", f"posts={self.args.posts}",
                 *self.pgbench_scripts(workload), self.cluster.url])
            if code != 0:
                raise Failure(f"pgbench failed on {key}: {out[-500:]} {err[-500:]}")
            tps = float(re.search(r"tps = ([0-9.]+) \(without initial", out).group(1))
            latency = float(re.search(r"latency average = ([0-9.]+) ms", out).group(1))
            failed = re.search(r"number of failed transactions: (\d+)", out)
            result.update(rps=tps, p50_ms=latency, p99_ms=None, bad=int(failed.group(1)) if failed else 0)
            served = tps * duration
            result["client_cpu_ms"] = client_seconds * 1000 / max(served, 1)
            # pgbench's backends end with it: their CPU counts once the postmaster reaps them.
            time.sleep(1)
        else:
            server = self.servers[target]
            script = self.root / f"{key}-{target}.lua"
            script.write_text(self.lua(workload, target))
            path = "/feed.xml" if key.startswith("feed") else "/graphql"
            lookups = self.cache_lookups() if target == "gazette" and not key.startswith("feed") else None
            ticks = server.cpu_ticks()
            sampler = MemorySampler(server)
            sampler.start()
            code, out, err, client_seconds = run_client(
                ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "-s", str(script), server.url + path])
            if code != 0:
                raise Failure(f"wrk failed on {key} / {target}: {out[-500:]} {err[-500:]}")
            peak = sampler.finish()
            cpu_ms = (server.cpu_ticks() - ticks) * 1000 / CLK_TCK
            line = next(line for line in out.splitlines() if line.startswith("WRK "))
            wrk = json.loads(line[4:])
            served = wrk["requests"] - wrk["bad"]
            seconds = wrk["duration_us"] / 1e6
            result.update(rps=served / seconds, p50_ms=wrk["p50_us"] / 1000, p99_ms=wrk["p99_us"] / 1000,
                          bad=wrk["bad"] + wrk["socket_errors"], cpu_ms=cpu_ms / max(served, 1),
                          client_cpu_ms=client_seconds * 1000 / max(served, 1),
                          rss_mb=peak / 2**20)
            if lookups is not None:
                hits, misses = (after - before for after, before in zip(self.cache_lookups(), lookups))
                result["hit_rate"] = hits / max(hits + misses, 1)
        result["pg_cpu_ms"] = (self.cluster.cpu_ticks() - pg_ticks) * 1000 / CLK_TCK / max(served, 1)
        if target != "nginx":
            calls, pg_ms = self.cluster.statements()
            result["statements"] = calls / max(served, 1)
            result["pg_ms"] = pg_ms / max(served, 1)
        if key in ("comment", "mixed"):
            # The next runs measure the same data as this one did.
            self.cluster.psql("gazette", "delete from comments where author_name = 'Bench reader'")
            self.cluster.psql("gazette", "vacuum (analyze) comments")
        log(f"{'warm-up' if warm_up else f'round {round_number}'} {key:8} {target:16} "
            f"{result['rps']:10.0f} req/s" + (f"  {result['bad']} bad" if result["bad"] else "")
            + (f"  hit rate {result['hit_rate']:.0%}" if "hit_rate" in result else ""))
        if not warm_up:
            self.results.append(result)

    # -- modes ---------------------------------------------------------------------------

    def check(self):
        counts = {}
        for workload, target in self.runs():
            self.check_once(workload, target)
            if target == "gazette-uncached":
                counts[workload.key] = self.statements_once(workload, target)
        self.compare_answers()
        if self.wants_hostile():
            self.check_hostile()
        log("every workload answered with data and no errors on every target")
        log("Gazette statements per request (first run, uncached): "
            + ", ".join(f"{k} {v}" for k, v in counts.items()))

    def compare_answers(self):
        """Each reading workload's answer, field by field (bench/answers.py), the same from
        every GraphQL target, for posts with drafts and hidden comments around them."""
        graphql_targets = [t for t in ("gazette-uncached", "gazette", "postgraphile", "postgraphile-1")
                           if t in self.servers]
        # Ordinary posts, whose last replies are held, spam or deleted (by post id, so
        # these five have all three kinds between them); post-7: a draft, no page for
        # anyone; the big thread through Q2.
        slugs = ["post-1", "post-2", "post-3", "post-7", f"post-{self.args.posts - 1}"]
        compared = 0
        for workload in workloads.GRAPHQL_WORKLOADS:
            if workload.key not in answers.REDUCERS:
                continue
            inputs = [None]
            if workload.varies in ("uniform", "zipf", "mixed"):
                inputs = [{"slug": slug} for slug in slugs]
            elif workload.varies == "pages":
                last = len(self.cursors["gazette"]) - 1
                if last < 1 or len(self.cursors["postgraphile"]) != last + 1:
                    raise Failure(f"paging needs two pages or more, the same on both servers: "
                                  f"{last + 1} and {len(self.cursors['postgraphile'])} cursors")
                inputs = [{"page": page} for page in sorted({0, 1, min(10, last)})]
            for given in inputs:
                reduced = {}
                for target in graphql_targets:
                    variables = given
                    if given and "page" in given:
                        variables = {"after": self.cursors[self.family(target)][given["page"]]}
                    payload = {"query": self.query_of(workload, target)}
                    if variables:
                        payload["variables"] = variables
                    status, body = post_json(self.servers[target].url + "/graphql", payload)
                    try:
                        reduced[target] = answers.reduce(workload.key, self.family(target), json.loads(body))
                    except (ValueError, KeyError, TypeError) as error:
                        raise Failure(f"{workload.key} {given or ''} on {target} ({status}): {error}") from error
                first = graphql_targets[0]
                for target in graphql_targets[1:]:
                    difference = answers.first_difference(reduced[first], reduced[target])
                    if difference:
                        raise Failure(f"{workload.key} {given or ''}: {first} and {target} differ at {difference}")
                if given == {"slug": "post-7"}:
                    if reduced[first] is not None:
                        raise Failure(f"{workload.key}: a draft's page was shown to an anonymous reader")
                elif not answers.substantial(reduced[first]):
                    raise Failure(f"{workload.key} {given or ''}: an empty answer compares nothing")
                compared += 1
        log(f"answers compared field by field: {compared} requests, the same from "
            + ", ".join(graphql_targets))

    def measure_all(self):
        runs = list(self.runs())
        for workload, target in runs:  # a last check of every answer
            self.check_once(workload, target)
        self.compare_answers()
        for workload, target in runs:
            self.measure(workload, target, 0, warm_up=True)
        for round_number in range(1, self.args.rounds + 1):
            for workload, target in runs:
                self.measure(workload, target, round_number)
        if self.wants_hostile():
            self.check_hostile()
            for round_number in range(1, self.args.rounds + 1):
                for target in ("gazette", "gazette-uncached"):
                    self.measure_hostile(target, round_number)
        if self.wants_busy_day():
            self.measure_busy_day()

    # -- the busy-day workload (bench/busy_day.py) -----------------------------------------

    def wants_busy_day(self):
        only = set(self.args.only or [])
        return not only or "busy-day" in only

    def measure_busy_day(self):
        """Last: it changes the data. Every other server stops first, to leave it the machine."""
        for server in self.servers.values():
            server.stop()
        q1 = workloads.BY_KEY["q1"].gazette
        script = self.root / "busy-day-q1.lua"
        script.write_text(lua_graphql({"query": q1}))
        tools = argparse.Namespace(Server=Server, log=log, post_id=gazette_post_id)
        self.busy_day_results = busy_day.run(self, tools, script)

    # -- the hostile workload (bench/hostile.py) -------------------------------------------

    def wants_hostile(self):
        only = set(self.args.only or [])
        return not only or "hostile" in only

    def check_hostile(self):
        """Every hostile request is answered with a client error or within its budget:
        never a 5xx, never a hang."""
        for name, body in hostile.corpus():
            status, answer = post_json(self.servers["gazette"].url + "/graphql", body)
            try:
                parsed = json.loads(answer)
            except ValueError as error:
                raise Failure(f"hostile {name}: not JSON ({status})") from error
            if status >= 500 or not isinstance(parsed, dict) or not (parsed.get("errors") or parsed.get("data")):
                raise Failure(f"hostile {name}: {status} {answer[:300]!r}")
        log(f"the {len(hostile.corpus())} hostile requests were refused or answered within budget")

    def wrk(self, script, url, connections, duration):
        return subprocess.Popen(
            ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def wrk_result(process):
        out, err = process.communicate()
        if process.returncode != 0:
            raise Failure(f"wrk failed: {out[-500:]} {err[-500:]}")
        line = next(line for line in out.splitlines() if line.startswith("WRK "))
        return json.loads(line[4:])

    def measure_hostile(self, target, round_number):
        """Q1 by 16 connections alone, then again while 16 more send the hostile corpus."""
        server = self.servers[target]
        url = server.url + "/graphql"
        duration = self.args.duration
        q1 = workloads.BY_KEY["q1"].gazette
        legit_script = self.root / f"hostile-legit-{target}.lua"
        legit_script.write_text(f'wrk.headers["X-Forwarded-For"] = "{hostile.READER}"\n'
                                + lua_graphql({"query": q1}))
        attack_script = self.root / "hostile-attack.lua"
        attack_script.write_text(hostile.lua(lua_long_string, LUA_COMMON))
        alone = self.wrk_result(self.wrk(legit_script, url, 16, duration))
        sampler = MemorySampler(server)
        sampler.start()
        attack = self.wrk(attack_script, url, 16, duration + 2)
        time.sleep(1)
        under = self.wrk_result(self.wrk(legit_script, url, 16, duration))
        attacked = self.wrk_result(attack)
        peak = sampler.finish()
        rate = lambda run: (run["requests"] - run["bad"]) / (run["duration_us"] / 1e6)  # noqa: E731
        result = {
            "key": "hostile", "title": "Q1 under the hostile workload", "target": target,
            "round": round_number, "rps_alone": rate(alone), "rps": rate(under),
            "p99_alone_ms": alone["p99_us"] / 1000, "p99_ms": under["p99_us"] / 1000,
            "p50_ms": under["p50_us"] / 1000, "hostile_rps": rate(attacked),
            "hostile_5xx": attacked["bad"], "bad": alone["bad"] + under["bad"],
            "rss_mb": peak / 2**20,
        }
        log(f"round {round_number} hostile  {target:16} Q1 {result['rps_alone']:8.0f} req/s alone, "
            f"{result['rps']:8.0f} under attack ({result['rps'] / result['rps_alone']:.0%}); "
            f"attack {result['hostile_rps']:.0f} req/s, {attacked['bad']} 5xx; peak {result['rss_mb']:.0f} MB")
        self.hostile_results.append(result)

    # -- report --------------------------------------------------------------------------

    def summary(self):
        rows = {}
        for result in self.results:
            rows.setdefault((result["key"], result["target"]), []).append(result)
        merged = {}
        for (key, target), runs in rows.items():
            def median(field):
                values = [r[field] for r in runs if r.get(field) is not None]
                return statistics.median(values) if values else None
            merged[(key, target)] = {
                "key": key, "title": runs[0]["title"], "target": target,
                "rps": median("rps"), "rps_min": min(r["rps"] for r in runs),
                "rps_max": max(r["rps"] for r in runs), "p50_ms": median("p50_ms"),
                "p99_ms": median("p99_ms"), "statements": median("statements"),
                "pg_ms": median("pg_ms"), "cpu_ms": median("cpu_ms"), "pg_cpu_ms": median("pg_cpu_ms"),
                "client_cpu_ms": median("client_cpu_ms"), "hit_rate": median("hit_rate"),
                "rss_mb": max((r.get("rss_mb") or 0) for r in runs) or None,
                "bad": sum(r["bad"] for r in runs),
            }
        return merged

    def hostile_report(self):
        return hostile_table(self.hostile_results)

    def report(self):
        merged = self.summary()
        fmt = lambda v, spec: "" if v is None else format(v, spec)  # noqa: E731
        lines = [
            "| Workload | Target | req/s (median; min–max) | CPU ms / req: server + PostgreSQL = total "
            "| load generator CPU ms / req | p50 ms | p99 ms | statements / req | cache hit rate | server RSS MB | failed "
            "| vs PostGraphile, 2 workers | vs PostGraphile, 1 process | vs raw SQL | vs nginx |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for key in dict.fromkeys(r["key"] for r in self.results):
            for target, name in TARGETS.items():
                row = merged.get((key, target))
                if row is None:
                    continue
                ratios = []
                for base in ("postgraphile", "postgraphile-1", "sql", "nginx"):
                    other = merged.get((key, base))
                    ratios.append(ratio(row, other) if target.startswith("gazette") and other else "")
                cpu = ""
                if row["pg_cpu_ms"] is not None:
                    server = row["cpu_ms"] or 0.0
                    cpu = (f"{server:.2f} + {row['pg_cpu_ms']:.2f} = {server + row['pg_cpu_ms']:.2f}"
                           if target != "sql" else f"{row['pg_cpu_ms']:.2f} (PostgreSQL only)")
                hit_rate = {"gazette": fmt(row["hit_rate"], ".0%"), "gazette-uncached": "off"}.get(target, "")
                lines.append(
                    f"| {row['title']} | {name} | {row['rps']:,.0f} ({row['rps_min']:,.0f}–{row['rps_max']:,.0f}) "
                    f"| {cpu} | {fmt(row['client_cpu_ms'], '.3f')} | {fmt(row['p50_ms'], '.2f')} | {fmt(row['p99_ms'], '.2f')} "
                    f"| {fmt(row['statements'], '.1f')} | {hit_rate} | {fmt(row['rss_mb'], '.0f')} "
                    f"| {row['bad']} | " + " | ".join(ratios) + " |")
        facts = self.facts
        lines += [
            "",
            f"Data: {facts['posts']:,} posts, {facts['comments']:,} comments, generated in "
            f"{facts['data_seconds']:.1f} s. `gazette worker --once`: {facts['worker_full_seconds']:.2f} s "
            f"on the fresh data, {facts['worker_nochange_seconds']:.2f} s when nothing changed; "
            f"{facts['stored_feeds']} stored feeds.",
            f"wrk -t2 -c{self.args.connections} -d{self.args.duration}s (pgbench -M prepared "
            f"-c{self.args.connections} -j2), {self.args.rounds} round(s), interleaved, after a "
            f"{self.args.warm_up} s warm-up run of each (discarded). Every process shares the "
            f"machine's {os.cpu_count()} cores. A ratio is given only where the two ranges of "
            "req/s do not overlap.",
        ]
        lines += self.hostile_report()
        lines += busy_day.table(self.busy_day_results)
        table = "\n".join(lines)
        print(table)
        out = self.root / "results.json"
        out.write_text(json.dumps({"facts": facts, "runs": self.results,
                                   "hostile": self.hostile_results,
                                   "busy_day": self.busy_day_results}, indent=1))
        if self.args.markdown:
            Path(self.args.markdown).write_text(table + "\n")
        if self.args.svg:
            Path(self.args.svg).write_text(chart.render(list(merged.values())))
        failed = sum(row["bad"] for row in merged.values())
        if failed:
            raise Failure(f"{failed} responses failed the check (see the table)")


def ratio(row, other):
    """Gazette's req/s over another target's, claimed only where the runs' ranges are apart."""
    if row["rps_min"] <= other["rps_max"] and other["rps_min"] <= row["rps_max"]:
        return "ranges overlap"
    return f"{row['rps'] / other['rps']:.2f}×"


def hostile_table(results):
    """The hostile workload's table: medians over rounds, peak memory over all."""
    if not results:
        return []
    lines = [
        "",
        "| Target | Q1 alone req/s | Q1 under attack req/s | kept | p99 alone ms | p99 under attack ms "
        "| hostile req/s | hostile 5xx | server peak RSS MB |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for target in dict.fromkeys(r["target"] for r in results):
        runs = [r for r in results if r["target"] == target]
        median = lambda field: statistics.median(r[field] for r in runs)  # noqa: E731
        lines.append(
            f"| {target} | {median('rps_alone'):,.0f} | {median('rps'):,.0f} "
            f"| {median('rps') / median('rps_alone'):.0%} | {median('p99_alone_ms'):.2f} "
            f"| {median('p99_ms'):.2f} | {median('hostile_rps'):,.0f} "
            f"| {sum(r['hostile_5xx'] for r in runs)} | {max(r['rss_mb'] for r in runs):.0f} |")
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gazette", required=True, help="the gazette binary")
    parser.add_argument("--pg-bin", required=True, help="PostgreSQL's bin directory")
    parser.add_argument("--dir", default="/var/tmp/gazette-bench", help="working directory")
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--warm-up", type=int, default=3, help="seconds of each discarded warm-up run")
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s on 2,000 posts")
    parser.add_argument("--check", action="store_true", help="correctness only, no timings")
    parser.add_argument("--markdown", help="also write the table here")
    parser.add_argument("--only", nargs="+", metavar="KEY",
                        help="measure only these targets (" + ", ".join(TARGETS) + ") and workloads ("
                             + ", ".join(workloads.TITLES) + ", feed200, feed304, hostile, busy-day): "
                             "for profiling")
    parser.add_argument("--svg", help="write a chart of each workload against its baselines here")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.duration, args.warm_up = 1, 3, 1
    if args.check:
        args.posts = min(args.posts, 200)
    bench = Bench(args)
    try:
        bench.set_up()
        if args.check:
            bench.check()
        else:
            bench.measure_all()
            bench.report()
    except (Failure, subprocess.CalledProcessError) as error:
        log(f"FAILED: {error}")
        return 1
    finally:
        bench.tear_down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
