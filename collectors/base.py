"""The collector interface: one module per source turns (brand, cursor) into a page of posts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from collectors.post import Post


@dataclass
class Page:
    posts: list[Post] = field(default_factory=list)
    cursor: str | None = None  # where the next run starts; stored only after the posts are
    fetched: int = 0  # items the source returned, matched or not


class BrandQuery(Protocol):
    name: str
    query: str


class Collector(Protocol):
    def collect(self, brand: BrandQuery, cursor: str | None) -> Page: ...
