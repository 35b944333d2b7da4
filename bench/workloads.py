"""The benchmark's workloads: the same page asked of Gazette, of PostGraphile and of
PostgreSQL directly (raw SQL through pgbench), so the three numbers compare like with like.

Each workload is three files in bench/queries/: `<key>.gazette.graphql`,
`<key>.postgraphile.graphql` (the same rows and columns through PostGraphile's schema, with
pg-simplify-inflector) and `<key>.sql` (the cheapest statement we know that returns them,
a pgbench script). Gazette's end-to-end tests run the same Gazette queries and count their
statements (tests/e2e/statements.rs).
"""

from pathlib import Path

QUERIES = Path(__file__).resolve().parent / "queries"

TITLES = {
    "q1": "Q1 front page: 20 posts, author, tags, comment count",
    "q2": "Q2 post page: 100 comments of the 10,000-comment thread",
    "q2r": "q2r post page of a random post (of 10,000) per request",
    "q3": "Q3 nested: 20 posts × 10 comments × 5 replies + count",
    "comment": "addComment (moderation open, no rate limit)",
}


def load(key):
    read = lambda suffix: (QUERIES / f"{key}.{suffix}").read_text()  # noqa: E731
    return key, TITLES[key], read("gazette.graphql"), read("postgraphile.graphql"), read("sql")


GRAPHQL_WORKLOADS = [load(key) for key in TITLES]

# Workloads whose every request asks for another post: `$slug` is `post-<n>`, n drawn
# uniformly from the site's posts (the big thread's slot skipped), so no two requests in a
# row are the same document-and-variables and the response cache cannot answer from memory.
VARIED = {"q2r"}
