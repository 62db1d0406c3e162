"""The safe search syntax: structure of the parse, degradation, and what it can never emit."""

from __future__ import annotations

import json
import random

import pytest

from bonito_logs.store.search_syntax import (
    MAX_EXPANSIONS,
    MAX_LEAVES,
    MAX_PREFIXES,
    And,
    Leaf,
    Not,
    Or,
    build_search_query,
    parse_search,
)

T = lambda text: Leaf("term", text)  # noqa: E731
P = lambda text: Leaf("phrase", text)  # noqa: E731
X = lambda text: Leaf("prefix", text)  # noqa: E731


@pytest.mark.parametrize("text, tree", [
    ("timeout", T("timeout")),
    ("rate limit", And((T("rate"), T("limit")))),
    ("rate AND limit", And((T("rate"), T("limit")))),
    ('"rate limit"', P("rate limit")),
    ('"  rate   limit "', P("rate limit")),
    ("a OR b", Or((T("a"), T("b")))),
    ("a b OR c", Or((And((T("a"), T("b"))), T("c")))),
    ("a (b OR c)", And((T("a"), Or((T("b"), T("c")))))),
    ("NOT a", Not(T("a"))),
    ("-a", Not(T("a"))),
    ("a -b", And((T("a"), Not(T("b"))))),
    ('a -"b c"', And((T("a"), Not(P("b c"))))),
    ("a NOT (b OR c)", And((T("a"), Not(Or((T("b"), T("c"))))))),
    ("NOT NOT a", T("a")),
    ("time*", X("time")),
    ("ti*", X("ti")),
    ("t*", T("t")),
    ("foo-bar", T("foo-bar")),
    ("a-b -c", And((T("a-b"), Not(T("c"))))),
    ("and or not", And((T("and"), T("or"), T("not")))),  # lower case are words
    ("((a))", T("a")),
])
def test_parse(text, tree):
    assert parse_search(text) == tree


@pytest.mark.parametrize("text, tree", [
    ('"unbalanced quote', And((T("unbalanced"), T("quote")))),
    ("(open paren", And((T("open"), T("paren")))),
    ("close) paren", And((T("close"), T("paren")))),
    ("a AND", T("a")),
    ("OR a", T("a")),
    ("a OR OR b", And((T("a"), T("b")))),
    ("a NOT", T("a")),
    ("a ()", T("a")),
    ("*", None),
    ("* a", T("a")),
    ("a *", T("a")),
    ("-", None),
    ("a - b", And((T("a"), T("b")))),
    ("AND OR NOT", None),
    ('""', None),
    ("", None),
    ("   ", None),
    ("(" * 20 + "a" + ")" * 20, T("a")),  # deeper than MAX_DEPTH
    ("((a) OR time*", And((T("a"), T("time")))),  # operators dropped, prefix read as a term
])
def test_malformed_degrades_to_plain_terms(text, tree):
    assert parse_search(text) == tree


def test_prefix_and_leaf_budgets():
    tree = parse_search(" ".join(f"pre{i}*" for i in range(MAX_PREFIXES + 3)))
    kinds = [leaf.kind for leaf in tree.nodes]
    assert kinds.count("prefix") == MAX_PREFIXES and kinds.count("term") == 3
    many = parse_search(" ".join(f"w{i}" for i in range(MAX_LEAVES + 50)))
    assert len(many.nodes) == MAX_LEAVES


def test_dsl_shapes():
    assert build_search_query(None) is None
    assert build_search_query("*") is None
    term = build_search_query("timeout")
    assert term == {"multi_match": {"query": "timeout", "fields": ["message", "metadata_text"],
                                    "zero_terms_query": "all", "operator": "and"}}
    phrase = build_search_query('"rate limit"')["multi_match"]
    assert phrase["type"] == "phrase"
    prefix = build_search_query("time*")["multi_match"]
    assert prefix["type"] == "phrase_prefix" and prefix["max_expansions"] == MAX_EXPANSIONS
    q = build_search_query("a -b")
    assert set(q["bool"]) == {"filter", "must_not"}
    q = build_search_query("a OR -b")
    assert q["bool"]["minimum_should_match"] == 1
    assert q["bool"]["should"][1] == {"bool": {"must_not": [build_search_query("b")]}}


ALLOWED_KEYS = {"bool", "filter", "must_not", "should", "minimum_should_match", "multi_match",
                "query", "fields", "type", "operator", "max_expansions", "zero_terms_query"}
FORBIDDEN = ("query_string", "regexp", "wildcard", "script", "fuzzy", "simple_query_string")


def _keys(node, out):
    if isinstance(node, dict):
        for key, value in node.items():
            out.add(key)
            if key != "query":
                _keys(value, out)
    elif isinstance(node, list):
        for value in node:
            _keys(value, out)


def _random_text(rng: random.Random) -> str:
    atoms = ["AND", "OR", "NOT", "(", ")", '"', "-", "*", " ", "  ", "a", "bc", "time*", "x-y",
             "日本", "🐟", "\\", "/", ":", "~", "?", "[", "]", "{", "}", "^", "\t", "\n", "q*w",
             "query_string", "regexp:/.*/", "*:*", "_exists_:x", "'", "\x00", "AND(", "-(", ")-"]
    return "".join(rng.choice(atoms) for _ in range(rng.randint(0, 40)))


def test_random_input_never_raises_and_emits_only_safe_clauses():
    rng = random.Random(20240131)
    for _ in range(5000):
        text = _random_text(rng) if rng.random() < 0.8 else "".join(
            chr(rng.randint(0, 0x2FFFF)) for _ in range(rng.randint(0, 30)))
        query = build_search_query(text)
        if query is None:
            continue
        keys: set[str] = set()
        _keys(query, keys)
        assert keys <= ALLOWED_KEYS, (text, keys - ALLOWED_KEYS)
        assert not keys & set(FORBIDDEN), text
        json.dumps(query)  # plain JSON all the way down
        for mm in _multi_matches(query):
            assert mm["fields"] == ["message", "metadata_text"]
            assert mm.get("type", "best_fields") in ("best_fields", "phrase", "phrase_prefix")
            if mm.get("type") == "phrase_prefix":
                assert mm["max_expansions"] == MAX_EXPANSIONS and len(mm["query"]) >= 2


def _multi_matches(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "multi_match":
                yield value
            else:
                yield from _multi_matches(value)
    elif isinstance(node, list):
        for value in node:
            yield from _multi_matches(value)
