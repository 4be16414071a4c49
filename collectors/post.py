"""The Post record: what every source produces and the store keeps, whatever the source."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field


@dataclass
class Post:
    source: str
    native_id: str
    text: str
    created_at: datetime  # aware or naive-UTC; stored as naive UTC
    url: str | None = None
    author: str | None = None
    lang: str | None = None
    likes: int = 0
    reposts: int = 0
    replies: int = 0
    images: list[str] = field(default_factory=list)  # http(s) URLs, local paths or data: URIs
    brands: list[str] = field(default_factory=list)  # names of the brand queries it matched
    raw: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        # The primary key: re-collecting the same item never duplicates it.
        return f"{self.source}:{self.native_id}"


def utc_naive(moment: datetime) -> datetime:
    """DuckDB TIMESTAMP columns hold UTC without a zone; convert aware times to that."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class PostIn(BaseModel):
    """A post as it arrives from outside (the ingest API, an import file): validated strictly,
    so a wrong field or type is reported instead of silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=512, description="the source's own id")
    text: str = Field(max_length=100_000)
    source: str = Field("import", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    created_at: datetime | None = Field(None, description="ISO 8601; default: now (UTC)")
    author: str | None = None
    url: str | None = None
    lang: str | None = Field(None, max_length=16)
    likes: int = Field(0, ge=0)
    reposts: int = Field(0, ge=0)
    replies: int = Field(0, ge=0)
    images: list[str] = Field(default_factory=list, max_length=16,
                              description="http(s) URLs or data: URIs (paths in import files)")
    brands: list[str] = Field(default_factory=list,
                              description="brand names; default: matched by the brand queries")

    def to_post(self) -> Post:
        return Post(source=self.source, native_id=self.id, text=self.text,
                    created_at=utc_naive(self.created_at) if self.created_at else utcnow(),
                    url=self.url, author=self.author, lang=self.lang, likes=self.likes,
                    reposts=self.reposts, replies=self.replies, images=list(self.images),
                    brands=list(self.brands))
