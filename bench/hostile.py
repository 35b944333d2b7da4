"""The hostile workload (issue 20): the documents that once made Gazette do unbounded work,
GraphQL Armor's classes, and graphql-cop's denial-of-service payloads (dolevf/graphql-cop,
commit 2b7e086, MIT: lib/tests/dos_*.py), as tests/e2e/hostile.rs sends them. 16
connections send them round-robin while a legitimate client asks for the front page (Q1);
the report compares the legitimate client's throughput and p99 with a run without the
hostile traffic, and gives the server's peak memory.
"""

import base64
import json

# The two clients' addresses, as the proxy in front of Gazette reports them
# (X-Forwarded-For, with --trust-forwarded-for): a reader and an attacker.
READER = "203.0.113.10"
ATTACKER = "198.51.100.66"


def fragment_bomb(levels):
    query = "query { ...F0 }"
    for level in range(levels):
        query += f" fragment F{level} on Query {{ ...F{level + 1} ...F{level + 1} }}"
    return query + f" fragment F{levels} on Query {{ __typename }}"


def nested_introspection(levels):
    query = '{ __type(name: "Node") { possibleTypes { ...L1 } } }'
    for level in range(1, levels):
        query += (f" fragment L{level} on __Type {{ name interfaces {{ possibleTypes "
                  f"{{ ...L{level + 1} }} }} }}")
    return query + f" fragment L{levels} on __Type {{ name }}"


def corpus():
    """(name, request body) for every hostile request."""
    post_ids = ", ".join(json.dumps(base64.b64encode(f"Post:{n}".encode()).decode())
                         for n in range(1, 101))
    documents = [
        ("fragment bomb, 22 levels", fragment_bomb(22)),
        ("nested introspection, 8 levels", nested_introspection(8)),
        ("nested introspection, 9 levels", nested_introspection(9)),
        ("posts × comments bodies", "{ posts(first: 66) { nodes { comments(first: 99) "
                                    "{ nodes { body bodyHtml } } } } }"),
        ("nodes: 20 aliases of 100 posts", "{ " + " ".join(
            f"n{n}: nodes(ids: [{post_ids}]) {{ __typename }}" for n in range(20)) + " }"),
        ("graphql-cop alias overloading",
         "query cop { " + "".join(f"alias{i}:__typename \n" for i in range(101)) + " }"),
        ("graphql-cop field duplication", "query cop { " + "__typename \n" * 500 + "} "),
        ("graphql-cop circular introspection",
         "query cop { __schema { types { fields { type { fields { type { fields { type "
         "{ fields { type { name } } } } } } } } } } }"),
        ("graphql-cop directive overloading",
         "query cop { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }"),
        ("Armor max-directives", "{ " + "__typename @include(if: true) " * 51 + "}"),
        ("Armor max-tokens", "{ " + "__typename " * 2001 + "}"),
        ("Armor max-depth", "{ " + "posts { nodes { author { " * 11 + "id" + " } } }" * 11 + " }"),
        ("Armor cost", "{ posts(first: 100) { nodes { comments(first: 100) { nodes "
                       "{ replies(first: 100) { nodes { id } } } } } } }"),
        ("Armor character limit", "{ __typename } # " + "x" * 33_000),
        ("fragment cycle", "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
    ]
    bodies = [(name, {"query": query}) for name, query in documents]
    bodies.append(("undeclared variables, 1.9 MB",
                   {"query": "{ __typename }", "variables": {"junk": "x" * 1_900_000}}))
    return bodies


def lua(lua_long_string, common):
    """A wrk script sending the corpus round-robin; any answer that is not a 5xx counts as
    served (the refusals are the expected answers)."""
    bodies = ",\n".join(lua_long_string(json.dumps(body)) for _, body in corpus())
    return (
        'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["X-Forwarded-For"] = "{ATTACKER}"\n'
        f"local bodies = {{\n{bodies}\n}}\n"
        "local counter = 0\n"
        "function request()\n"
        "  counter = counter + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[(counter % #bodies) + 1])\n"
        "end\n"
        "function ok(status, headers, body) return status < 500 end\n" + common
    )
