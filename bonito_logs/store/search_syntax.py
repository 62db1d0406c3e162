"""The ``search`` filter's small, safe query language, parsed here into a bool query.

Syntax: bare terms (AND between them), ``"quoted phrases"``, ``AND`` / ``OR`` /
``NOT`` (upper case; ``OR`` binds loosest), a leading ``-`` for NOT,
parentheses, and ``prefix*``. Each leaf becomes a ``multi_match`` over
``message`` and ``metadata_text`` (a term found in either field matches), so
nothing the user types can become a ``query_string``, regexp, wildcard or
script. ``prefix*`` is a bounded ``phrase_prefix`` (at least 2 characters,
``max_expansions`` 50, at most 5 per search; others are searched as terms).

Input that does not parse (unbalanced quotes or parentheses, dangling
operators, a lone ``*``) degrades to its plain words ANDed together: searching
never raises.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SEARCH_FIELDS = ("message", "metadata_text")
MIN_PREFIX_CHARS = 2
MAX_EXPANSIONS = 50
MAX_PREFIXES = 5
MAX_DEPTH = 8  # parenthesis nesting; deeper input is read as plain terms
MAX_LEAVES = 100
OPERATORS = frozenset({"AND", "OR", "NOT"})

# Roughly the tokens the standard analyzer makes: word runs, and one token per
# ideograph/kana or symbol (emoji). Used to keep a search under Lucene's
# 1024-clause limit before it ever reaches OpenSearch.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+|[^\w\s\x00-\x7f]")
_WORD_SPLIT = re.compile(r'[\s()"]+')


def count_terms(text: str) -> int:
    """About how many analyzed terms ``text`` makes (for the request's term limit)."""
    return len(_TOKEN.findall(text))


# --- the tree ------------------------------------------------------------------------

@dataclass(frozen=True)
class Leaf:
    kind: str  # "term", "phrase" or "prefix"
    text: str


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


Node = Leaf | Not | And | Or


class _Malformed(Exception):
    pass


# --- tokens ----------------------------------------------------------------------------

_LP, _RP, _OP, _NEG, _WORD, _PHRASE = "(", ")", "op", "-", "word", "phrase"


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append((c, c))
            i += 1
        elif c == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise _Malformed("unbalanced quote")
            tokens.append((_PHRASE, text[i + 1:end]))
            i = end + 1
        elif c == "-" and i + 1 < n and not text[i + 1].isspace() and text[i + 1] not in ")-":
            tokens.append((_NEG, c))
            i += 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '()"':
                j += 1
            word = text[i:j]
            tokens.append((_OP, word) if word in OPERATORS else (_WORD, word))
            i = j
    return tokens


# --- grammar: or := and (OR and)* ; and := unary ((AND)? unary)* ; unary := (NOT|-) unary | primary

class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise _Malformed("unexpected end")
        self.pos += 1
        return tok

    def parse(self) -> Node | None:
        if not self.tokens:
            return None
        node = self.parse_or()
        if self.peek() is not None:
            raise _Malformed("unexpected " + self.peek()[1])
        return node

    def parse_or(self) -> Node | None:
        nodes = [self.parse_and()]
        while self.peek() == (_OP, "OR"):
            self.take()
            nodes.append(self.parse_and())
        return _combine(Or, nodes)

    def parse_and(self) -> Node | None:
        nodes = [self.parse_unary()]
        while True:
            tok = self.peek()
            if tok == (_OP, "AND"):
                self.take()
                nodes.append(self.parse_unary())
            elif tok is not None and (tok[0] in (_LP, _NEG, _WORD, _PHRASE) or tok == (_OP, "NOT")):
                nodes.append(self.parse_unary())
            else:
                return _combine(And, nodes)

    def parse_unary(self) -> Node | None:
        tok = self.peek()
        if tok == (_OP, "NOT") or (tok is not None and tok[0] == _NEG):
            self.take()
            inner = self.parse_unary()
            if inner is None:
                return None
            return inner.node if isinstance(inner, Not) else Not(inner)
        return self.parse_primary()

    def parse_primary(self) -> Node | None:
        kind, value = self.take()
        if kind == _LP:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise _Malformed("nested too deep")
            if self.peek() == (_RP, ")"):
                raise _Malformed("empty parentheses")
            node = self.parse_or()
            if self.take()[0] != _RP:
                raise _Malformed("unbalanced parenthesis")
            self.depth -= 1
            return node
        if kind == _PHRASE:
            words = " ".join(value.split())
            return Leaf("phrase", words) if _TOKEN.search(words) else None
        if kind == _WORD:
            return _word(value)
        raise _Malformed("unexpected " + value)


def _word(word: str) -> Leaf | None:
    stem = word.replace("*", " ").strip()
    if not _TOKEN.search(stem):
        return None  # punctuation only: the analyzer would make no term of it
    if word.endswith("*") and len(stem) >= MIN_PREFIX_CHARS:
        return Leaf("prefix", stem)
    return Leaf("term", stem)


def _combine(cls: type[And] | type[Or], nodes: list[Node | None]) -> Node | None:
    kept: list[Node] = []
    for node in nodes:
        if node is None:
            continue
        if isinstance(node, cls):
            kept.extend(node.nodes)
        else:
            kept.append(node)
    if not kept:
        return None
    return kept[0] if len(kept) == 1 else cls(tuple(kept))


def _plain_terms(text: str) -> Node | None:
    """The fallback: every word, operators and syntax characters dropped, ANDed."""
    leaves: list[Node | None] = []
    for word in _WORD_SPLIT.split(text):
        word = word.lstrip("-")
        if word and word not in OPERATORS:
            leaf = _word(word.rstrip("*"))
            leaves.append(leaf)
    return _combine(And, leaves)


def parse_search(text: str) -> Node | None:
    """The tree for ``text`` (``None`` when there is nothing to search for). Never raises."""
    if not isinstance(text, str):
        return None
    try:
        node = _Parser(_tokenize(text)).parse()
    except _Malformed:
        node = _plain_terms(text)
    return _bound(node)


def _bound(node: Node | None) -> Node | None:
    """Keep at most MAX_LEAVES leaves and MAX_PREFIXES prefixes (excess prefixes become terms)."""
    if node is None:
        return None
    budget = {"leaves": MAX_LEAVES, "prefixes": MAX_PREFIXES}

    def walk(n: Node) -> Node | None:
        if isinstance(n, Leaf):
            if budget["leaves"] <= 0:
                return None
            budget["leaves"] -= 1
            if n.kind == "prefix":
                if budget["prefixes"] <= 0:
                    return Leaf("term", n.text)
                budget["prefixes"] -= 1
            return n
        if isinstance(n, Not):
            inner = walk(n.node)
            return Not(inner) if inner is not None else None
        return _combine(type(n), [walk(child) for child in n.nodes])

    return walk(node)


# --- DSL -------------------------------------------------------------------------------

def _leaf_query(leaf: Leaf) -> dict[str, Any]:
    # zero_terms_query "all": a leaf the analyzer reduces to nothing constrains nothing
    body: dict[str, Any] = {"query": leaf.text, "fields": list(SEARCH_FIELDS),
                            "zero_terms_query": "all"}
    if leaf.kind == "phrase":
        body["type"] = "phrase"
    elif leaf.kind == "prefix":
        body["type"] = "phrase_prefix"
        body["max_expansions"] = MAX_EXPANSIONS
    else:
        body["operator"] = "and"  # "foo-bar" must find both parts
    return {"multi_match": body}


def to_dsl(node: Node) -> dict[str, Any]:
    """The bool query of a tree (meant for filter context: we sort by fields, not score)."""
    if isinstance(node, Leaf):
        return _leaf_query(node)
    if isinstance(node, Not):
        return {"bool": {"must_not": [to_dsl(node.node)]}}
    if isinstance(node, And):
        positive = [to_dsl(n) for n in node.nodes if not isinstance(n, Not)]
        negative = [to_dsl(n.node) for n in node.nodes if isinstance(n, Not)]
        clause: dict[str, Any] = {}
        if positive:
            clause["filter"] = positive
        if negative:
            clause["must_not"] = negative
        return {"bool": clause}
    return {"bool": {"should": [to_dsl(n) for n in node.nodes], "minimum_should_match": 1}}


def build_search_query(text: str | None) -> dict[str, Any] | None:
    """The query for a ``search`` filter, or ``None`` when it holds nothing to search for."""
    if not text:
        return None
    node = parse_search(text)
    return to_dsl(node) if node is not None else None
