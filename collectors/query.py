"""Brand queries matched on our side: terms joined by OR, case-insensitive substrings, so
Chinese matches without word boundaries. (The full boolean language comes with the real
collectors; this is the subset the demo and imports need.)"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol


class Named(Protocol):
    name: str
    query: str


def terms(query: str) -> list[str]:
    return [t.strip().strip('"').lower() for t in query.split(" OR ") if t.strip().strip('"')]


def matches(query: str, text: str) -> bool:
    lowered = text.lower()
    return any(term in lowered for term in terms(query))


def matching_brands(brands: Iterable[Named], text: str) -> list[str]:
    return [b.name for b in brands if matches(b.query, text)]
