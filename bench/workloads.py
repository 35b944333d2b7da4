"""The benchmark's workloads: the same page asked of Gazette, of PostGraphile and of
PostgreSQL directly (raw SQL through pgbench), so the three numbers compare like with like.

Each workload reads three files in bench/queries/: `<base>.gazette.graphql`,
`<base>.postgraphile.graphql` (the same rows and columns through PostGraphile's schema, with
pg-simplify-inflector; the visibility rules are row-level security, see run.py) and
`<key>.sql` (the cheapest statement we know that returns them, a pgbench script).
Gazette's end-to-end tests run the same Gazette queries and count their statements
(tests/e2e/statements.rs).
"""

from dataclasses import dataclass
from pathlib import Path

QUERIES = Path(__file__).resolve().parent / "queries"


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    gazette: str
    postgraphile: str
    sql: str
    # How each request's variables are drawn: None (one identical request), "uniform" or
    # "zipf" (`$slug` is `post-<n>`), "pages" (`$after` one of the first 50 pages' cursors),
    # "mixed" (uniform `$slug`, and one request in 20 an addComment), "comment".
    varies: str | None = None


TITLES = {
    "q1": ("Q1 front page: 20 posts, author, tags, comment count", "q1", None),
    "q1p": ("Q1p front page paged: `after:` one of the first 50 pages' cursors", "q1p", "pages"),
    "q2": ("Q2 post page: 100 comments of the 10,000-comment thread", "q2", None),
    "q2r": ("q2r post page of a random post (uniform over 10,000) per request", "q2r", "uniform"),
    "q2z": ("q2z post page of a Zipf-distributed post (s = 1.01, newest first)", "q2r", "zipf"),
    "q3": ("Q3 nested: 20 posts × 10 comments × 5 replies + count", "q3", None),
    "mixed": ("mixed: q2r with 5% addComment (the cache emptied as on a live site)", "q2r", "mixed"),
    "comment": ("addComment (moderation open, no rate limit)", "comment", "comment"),
}


def load(key):
    title, base, varies = TITLES[key]
    read = lambda name: (QUERIES / name).read_text()  # noqa: E731
    sql = read(f"{key}.sql") if key != "mixed" else None
    return Workload(key, title, read(f"{base}.gazette.graphql"),
                    read(f"{base}.postgraphile.graphql"), sql, varies)


GRAPHQL_WORKLOADS = [load(key) for key in TITLES]
BY_KEY = {workload.key: workload for workload in GRAPHQL_WORKLOADS}

# Workloads whose requests differ: no two in a row are the same document-and-variables, so
# the response cache answers only what it has seen (its hit rate is reported).
VARIED = {workload.key for workload in GRAPHQL_WORKLOADS
          if workload.varies in ("uniform", "zipf", "pages", "mixed")}
