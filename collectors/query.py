"""Brand queries: the small boolean language social-listening users know, matched on our side.

    nimbus OR 云朵                     either word
    "nimbus 7" AND (camera OR 拍照)     a phrase and one of two words
    nimbus -refund   nimbus NOT refund  without a word
    #nimbus   @nimbus                   a hashtag; an account (the author, or a mention)
    batter*                             a trailing wildcard: battery, batteries, battered
    nimbus NEAR/3 camera                at most 3 words apart, in either order
    (nimbus OR 云朵) NEAR/5 (续航 OR battery)   proximity between alternatives

Operators are upper-case (a lower-case "or" is a word to look for); juxtaposed terms mean AND;
NOT binds tightest, then NEAR/n, then AND, then OR; in NEAR's distance each Chinese, Japanese,
Korean or Thai character counts as a word. Matching ignores case and width (NFKC). Latin words
match whole words ("nimbus" is not found in "nimbuses"); scripts written without spaces (Chinese,
Japanese, Korean, Thai) match anywhere, since there are no word boundaries to respect.

A parse error names its position. Sources that search server-side get the best query they can
take from `Query.any_terms()` (at least one of these is in every match) or `Query.boolean()`
(the whole query, for Lucene-like search boxes); the local matcher then confirms each result.
"""

from __future__ import annotations

import bisect
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Protocol

OPEN, CLOSE, QUOTES = "(（", ")）", '"“”'

# Letters of scripts written without spaces between words: such a term needs no word boundary.
_NO_SPACE = ("\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff"
             "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f")
_WORD_CHAR = re.compile(f"[^\\W{_NO_SPACE}]")  # a letter/digit/_ of a spaced script
_BEFORE = f"(?<![^\\W{_NO_SPACE}])"  # not preceded by such a character
_AFTER = f"(?![^\\W{_NO_SPACE}])"  # not followed by one


class QueryError(ValueError):
    """A query that cannot be parsed; `position` is the 0-based index of the problem."""

    def __init__(self, reason: str, query: str, position: int):
        self.reason, self.query, self.position = reason, query, position
        super().__init__(f"{reason} at position {position + 1}: {query!r}")


def normalize(text: str) -> str:
    """What matching compares: NFKC (full-width → half-width) and case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


# -- the syntax tree ------------------------------------------------------------------------

@dataclass(frozen=True)
class Term:
    text: str  # as written, without quotes; normalized for matching
    kind: str  # word | phrase | hashtag | account
    pos: int = field(default=0, compare=False)

    def matches(self, text: str, author: str) -> bool:
        if self.kind == "account" and _is_account(self.text[1:], author):
            return True
        return _search(self.text, text)

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the term occurs in (normalized) text, as character spans."""
        return [m.span() for m in _pattern(self.text).finditer(text)]

    @property
    def bare(self) -> str:
        """The words to search for: no quotes, no leading # or @, no trailing *."""
        text = self.text[1:] if self.kind in ("hashtag", "account") else self.text
        return text[:-1] if self.kind == "wildcard" else text

    def search_text(self) -> str:
        return f'"{self.text}"' if self.kind == "phrase" else self.text


@dataclass(frozen=True)
class Not:
    child: Node
    pos: int = field(default=0, compare=False)

    def matches(self, text: str, author: str) -> bool:
        return not self.child.matches(text, author)


@dataclass(frozen=True)
class AllOf:
    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)

    def matches(self, text: str, author: str) -> bool:
        return all(c.matches(text, author) for c in self.children)


@dataclass(frozen=True)
class AnyOf:
    children: tuple[Node, ...]
    pos: int = field(default=0, compare=False)

    def matches(self, text: str, author: str) -> bool:
        return any(c.matches(text, author) for c in self.children)


@dataclass(frozen=True)
class Near:
    """Two terms (or alternatives of terms) at most `distance` words apart, in either order."""
    left: Term | AnyOf
    right: Term | AnyOf
    distance: int
    pos: int = field(default=0, compare=False)

    @property
    def children(self) -> tuple[Node, Node]:
        return (self.left, self.right)

    def matches(self, text: str, author: str) -> bool:
        lefts, rights = _spans(self.left, text), _spans(self.right, text)
        if not lefts or not rights:
            return False
        starts = _word_starts(text)
        words = [(_word_at(starts, a), _word_at(starts, b - 1)) for a, b in lefts]
        others = [(_word_at(starts, a), _word_at(starts, b - 1)) for a, b in rights]
        return any(_gap(w, o) <= self.distance for w in words for o in others)


Node = Term | Not | AllOf | AnyOf | Near

# A word of a spaced script, or one character of a script written without spaces.
_WORDS = re.compile(f"[{_NO_SPACE}]|[^\\W{_NO_SPACE}]+")


def _spans(node: Term | AnyOf, text: str) -> list[tuple[int, int]]:
    if isinstance(node, Term):
        return node.spans(text)
    return [span for child in node.children for span in _spans(child, text)]


def _word_starts(text: str) -> list[int]:
    return [m.start() for m in _WORDS.finditer(text)]


def _word_at(starts: list[int], offset: int) -> int:
    """The index of the word holding character `offset` (the last word starting at or
    before it)."""
    return max(bisect.bisect_right(starts, offset) - 1, 0)


def _gap(a: tuple[int, int], b: tuple[int, int]) -> int:
    """Words strictly between two matches (negative when they overlap)."""
    return b[0] - a[1] - 1 if b[0] > a[1] else a[0] - b[1] - 1


@lru_cache(maxsize=4096)
def _pattern(term: str) -> re.Pattern:
    """A term as a regex: runs of spaces match any whitespace; word boundaries are demanded
    only at an edge that is a letter or digit of a spaced script."""
    norm = normalize(term)
    wildcard = norm.endswith("*") and len(norm) > 1
    norm = norm[:-1] if wildcard else norm
    body = r"\s+".join(re.escape(part) for part in norm.split())
    before = _BEFORE if _WORD_CHAR.match(norm[0]) else ""
    if wildcard:  # the rest of the word, whatever it is
        return re.compile(before + body + f"[^\\W{_NO_SPACE}]*")
    after = _AFTER if _WORD_CHAR.match(norm[-1]) else ""
    return re.compile(before + body + after)


@lru_cache(maxsize=4096)
def _literal(term: str) -> str:
    """The text every match of the term starts with (its first word as normalized)."""
    norm = normalize(term)
    norm = norm[:-1] if norm.endswith("*") and len(norm) > 1 else norm
    return norm.split()[0] if norm.split() else norm


def _search(term: str, text: str) -> bool:
    """Whether the term occurs in (normalized) text. A plain substring search finds where a
    match could start; the regex (its leading look-behind is slow to try at every position)
    runs from there on."""
    start = text.find(_literal(term))
    return start >= 0 and _pattern(term).search(text, start) is not None


def _is_account(name: str, author: str) -> bool:
    # Mastodon authors are user@instance; a query may name either form.
    name = normalize(name)
    return bool(author) and (author == name or author.split("@")[0] == name)


# -- the query ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Query:
    source: str
    root: Node

    def matches(self, text: str, author: str | None = None) -> bool:
        return self.root.matches(normalize(text), normalize(author or "").lstrip("@"))

    def explain(self, text: str, author: str | None = None) -> dict[str, list[str]]:
        """Why a post matches or not: the query's terms found in it, and those not found
        (a NOT term that is found is why a post is left out)."""
        text, author = normalize(text), normalize(author or "").lstrip("@")
        found, missing = [], []
        for term in _terms(self.root):
            (found if term.matches(text, author) else missing).append(term.text)
        return {"found": list(dict.fromkeys(found)), "missing": list(dict.fromkeys(missing))}

    def any_terms(self) -> list[Term]:
        """Terms at least one of which every matching post contains: what a source that can
        search one term at a time asks for (one search per term)."""
        return list(_cover(self.root) or ())

    def boolean(self, account: str = "author:") -> str:
        """The whole query for Lucene-like search boxes (Reddit, Bluesky): AND / OR / NOT,
        quoted phrases; an @account becomes `account` + name."""
        return _render(self.root, account)


def _terms(node: Node) -> list[Term]:
    if isinstance(node, Term):
        return [node]
    if isinstance(node, Not):
        return _terms(node.child)
    return [t for child in node.children for t in _terms(child)]


def _cover(node: Node) -> tuple[Term, ...] | None:
    """A set of terms such that every match contains one, or None if there is none."""
    if isinstance(node, Term):
        return (node,)
    if isinstance(node, Not):
        return None
    covers = [_cover(c) for c in node.children]
    if isinstance(node, AnyOf):
        if any(c is None for c in covers):
            return None
        return tuple(dict.fromkeys(t for c in covers for t in c))
    found = [c for c in covers if c is not None]  # All: any one child's cover will do
    return min(found, key=len) if found else None


def _render(node: Node, account: str) -> str:
    if isinstance(node, Term):
        return account + node.text[1:] if node.kind == "account" else node.search_text()
    if isinstance(node, Not):
        return f"NOT {_render(node.child, account)}"
    # NEAR goes to the server as AND (broader); the local matcher then checks the distance.
    joiner = " OR " if isinstance(node, AnyOf) else " AND "
    return "(" + joiner.join(_render(c, account) for c in node.children) + ")"


@lru_cache(maxsize=256)
def parse(query: str) -> Query:
    """Parse a brand query, or raise QueryError naming the position of the problem."""
    parser = _Parser(query)
    root = parser.parse()
    if _cover(root) is None:
        raise QueryError("the query must require at least one term that is not negated "
                         "(as written it matches posts that mention none of its words)",
                         query, root.pos)
    return Query(query, root)


def check(query: str) -> str | None:
    """Why `query` is not a valid brand query, or None when it is (for config checks)."""
    try:
        parse(query)
    except QueryError as exc:
        return str(exc)
    return None


class _Parser:
    """Recursive descent over tokens (kind, text, position).

    or  := and ("OR" and)*      and := near (["AND"] near)*     near := not ("NEAR/n" not)*
    not := ("NOT" | "-") not | "(" or ")" | term | phrase
    """

    def __init__(self, query: str):
        self.query = query
        self.tokens = list(_tokens(query))
        self.i = 0

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError("empty query", self.query, 0)
        node = self._or()
        if self.i < len(self.tokens):
            kind, text, pos = self.tokens[self.i]
            reason = "unmatched ')'" if kind == ")" else f"unexpected {text!r}"
            raise QueryError(reason, self.query, pos)
        return node

    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def _take(self) -> tuple[str, str, int]:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def _or(self) -> Node:
        first = self._and()
        children = [first]
        while (token := self._peek()) and token[0] == "OR":
            self._take()
            children.append(self._and())
        return first if len(children) == 1 else AnyOf(tuple(children), first.pos)

    def _and(self) -> Node:
        first = self._near()
        children = [first]
        while (token := self._peek()) and token[0] not in ("OR", ")"):
            if token[0] == "AND":
                self._take()
            children.append(self._near())
        return first if len(children) == 1 else AllOf(tuple(children), first.pos)

    def _near(self) -> Node:
        node = self._not()
        while (token := self._peek()) and token[0] == "NEAR":
            _, text, pos = self._take()
            right = self._not()
            for side in (node, right):
                if not _proximate(side):
                    raise QueryError("NEAR joins terms or (a OR b) groups of terms",
                                     self.query, side.pos if side is right else pos)
            node = Near(node, right, int(text[5:]), node.pos)
        return node

    def _not(self) -> Node:
        token = self._peek()
        if token is None:
            raise QueryError("expected a term", self.query, len(self.query))
        kind, text, pos = token
        if kind in ("NOT", "-"):
            self._take()
            return Not(self._not(), pos)
        if kind == "(":
            self._take()
            inner = self._or()
            if (close := self._peek()) is None or close[0] != ")":
                raise QueryError("'(' is never closed", self.query, pos)
            self._take()
            return inner
        if kind in ("word", "phrase"):
            self._take()
            return Term(text, _term_kind(kind, text), pos)
        reason = "unmatched ')'" if kind == ")" else f"expected a term before {text!r}"
        raise QueryError(reason, self.query, pos)


def _proximate(node: Node) -> bool:
    return isinstance(node, Term) or (
        isinstance(node, AnyOf) and all(isinstance(c, Term) for c in node.children))


def _term_kind(kind: str, text: str) -> str:
    if kind == "phrase":
        return "phrase"
    if text.endswith("*"):
        return "wildcard"
    if len(text) > 1 and text[0] == "#":
        return "hashtag"
    if len(text) > 1 and text[0] == "@":
        return "account"
    return "word"


def _tokens(query: str):
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
        elif ch in OPEN or ch in CLOSE:
            yield ("(" if ch in OPEN else ")"), ch, i
            i += 1
        elif ch in QUOTES:
            end = next((j for j in range(i + 1, n) if query[j] in QUOTES), -1)
            if end < 0:
                raise QueryError("unterminated quote", query, i)
            phrase = " ".join(query[i + 1:end].split())
            if not phrase:
                raise QueryError("empty phrase", query, i)
            yield "phrase", phrase, i
            i = end + 1
        elif ch == "-" and i + 1 < n and not query[i + 1].isspace():
            yield "-", ch, i  # "-term": a hyphen inside a word stays part of the word
            i += 1
        else:
            j = i
            while j < n and not (query[j].isspace() or query[j] in OPEN + CLOSE + QUOTES):
                j += 1
            word = query[i:j]
            if word.startswith("NEAR/") or word == "NEAR":
                if not re.fullmatch(r"NEAR/\d{1,3}", word):
                    raise QueryError("NEAR needs a distance in words, e.g. NEAR/3", query, i)
                yield "NEAR", word, i
            elif "*" in word and (word.index("*") < len(word) - 1
                                  or len(word.lstrip("#@").rstrip("*")) < 2):
                raise QueryError("'*' goes at the end of a word of at least 2 letters "
                                 "(batter*)", query, i + word.index("*"))
            else:
                yield (word if word in ("AND", "OR", "NOT") else "word"), word, i
            i = j


# -- brands ---------------------------------------------------------------------------------

class Named(Protocol):
    name: str
    query: str


def matches(query: str, text: str, author: str | None = None) -> bool:
    return parse(query).matches(text, author)


def matching_brands(brands: Iterable[Named], text: str, author: str | None = None) -> list[str]:
    """Names of the brands whose query `text` (by `author`) matches: a post can match several."""
    return brand_matcher(tuple((b.name, b.query) for b in brands))(text, author)


@dataclass(frozen=True)
class _Brand:
    name: str
    root: Node
    cover: tuple[str, ...] | None  # every match holds one of these terms; None: no shortcut
    exact: bool  # the query is just a term or an OR of terms: finding one is the answer


class BrandMatcher:
    """All brands' queries compiled for matching many posts: the text is normalized once, and
    a brand whose cover terms (every match holds one) are all missing is skipped before its
    query is evaluated. A query that is just an OR of terms is answered by finding one."""

    def __init__(self, brands: Iterable[tuple[str, str]]):
        self.brands = [_compile(name, query) for name, query in brands]

    def __call__(self, text: str, author: str | None = None) -> list[str]:
        text, author = normalize(text), normalize(author or "").lstrip("@")
        names = []
        for brand in self.brands:
            if brand.cover is None:
                found = brand.root.matches(text, author)
            elif brand.exact:
                found = any(_search(term, text) for term in brand.cover)
            else:
                found = (any(_literal(term) in text for term in brand.cover)
                         and brand.root.matches(text, author))
            if found:
                names.append(brand.name)
        return names


def _compile(name: str, query: str) -> _Brand:
    root = parse(query).root
    cover = _cover(root) or ()
    if not cover or any(t.kind == "account" for t in cover):  # an author matches without text
        return _Brand(name, root, None, False)
    exact = isinstance(root, Term) or (isinstance(root, AnyOf) and all(
        isinstance(c, Term) for c in root.children))
    return _Brand(name, root, tuple(t.text for t in cover), exact)


@lru_cache(maxsize=64)
def brand_matcher(brands: tuple[tuple[str, str], ...]) -> BrandMatcher:
    """The matcher of (name, query) pairs, compiled once per brand list."""
    return BrandMatcher(brands)
