"""Every target's answer reduced to what must agree across them: ids (Gazette's global ids
decoded to row ids), slugs, counts, names and comment texts, in order. Timestamps and
cursors are left out: each server writes them its own way.

`compare` asks each reading workload of Gazette (cache off and on) and of PostGraphile
(both runs) with the same inputs, on data with drafts and held, spam and deleted comments,
and fails on the first difference: a faster answer that is not the same answer is no win.
"""

import base64


def row_id(global_id):
    """`Post:12` (base64) → 12; PostGraphile's `id` is the row id (a bigint: a string)."""
    if global_id is None:
        return None
    if isinstance(global_id, int) or global_id.isdigit():  # a bigint comes as a string
        return int(global_id)
    kind, _, number = base64.b64decode(global_id).decode().partition(":")
    return int(number)


def _front_page(family, data):
    posts = data["posts"]
    if family == "gazette":
        nodes = [edge["node"] for edge in posts["edges"]]
        return [(row_id(n["id"]), n["slug"], n["title"], n["author"]["slug"],
                 [t["slug"] for t in n["tags"]], n["commentCount"]) for n in nodes]
    return [(row_id(n["id"]), n["slug"], n["title"], n["author"]["slug"],
             [pt["tag"]["slug"] for pt in n["postTags"]["nodes"]], n["comments"]["totalCount"])
            for n in posts["nodes"]]


def _post_page(family, data):
    post = data["post"] if family == "gazette" else data["postBySlug"]
    if post is None:
        return None
    if family == "gazette":
        comments = [(row_id(c["id"]), c["parent"] and row_id(c["parent"]["id"]), c["depth"],
                     c["author"]["name"], c["bodyHtml"])
                    for c in (edge["node"] for edge in post["thread"]["edges"])]
    else:
        comments = [(row_id(c["id"]), row_id(c["parentId"]), c["depth"], c["authorName"], c["bodyHtml"])
                    for c in post["comments"]["nodes"]]
    return (row_id(post["id"]), post["title"], post["bodyHtml"], comments)


def _nested(family, data):
    if family == "gazette":
        return [(row_id(p["id"]), p["title"],
                 [(row_id(c["id"]), c["author"]["name"], c["bodyHtml"], c["replies"]["totalCount"],
                   [(row_id(r["node"]["id"]), r["node"]["author"]["name"]) for r in c["replies"]["edges"]])
                  for c in (edge["node"] for edge in p["comments"]["edges"])])
                for p in (edge["node"] for edge in data["posts"]["edges"])]
    return [(row_id(p["id"]), p["title"],
             [(row_id(c["id"]), c["authorName"], c["bodyHtml"], c["commentsByParentIdAndPostId"]["totalCount"],
               [(row_id(r["id"]), r["authorName"]) for r in c["commentsByParentIdAndPostId"]["nodes"]])
              for c in p["comments"]["nodes"]])
            for p in data["posts"]["nodes"]]


REDUCERS = {"q1": _front_page, "q1p": _front_page, "q2": _post_page, "q2r": _post_page,
            "q2z": _post_page, "mixed": _post_page, "q3": _nested}


def reduce(key, family, answer):
    if answer.get("errors") or not isinstance(answer.get("data"), dict):
        raise ValueError(f"an answer with errors: {str(answer)[:300]}")
    return REDUCERS[key](family, answer["data"])


def substantial(reduced):
    """Whether a reduced answer has something to compare at every level it lists: posts,
    and (where it lists them) their comments."""
    if not reduced:
        return False
    if isinstance(reduced, tuple) and len(reduced) == 4:  # a post page: its thread
        return bool(reduced[3])
    rows = list(reduced)
    comments = [row[2] for row in rows if isinstance(row, tuple) and len(row) == 3]
    return not comments or any(comments)


def first_difference(left, right, path="answer"):
    """Where two reduced answers first differ, as a sentence (None: they agree)."""
    if isinstance(left, (list, tuple)) and isinstance(right, (list, tuple)):
        for index, (a, b) in enumerate(zip(left, right)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        if len(left) != len(right):
            return f"{path}: {len(left)} items against {len(right)}"
        return None
    return None if left == right else f"{path}: {left!r} against {right!r}"
