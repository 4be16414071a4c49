"""The Post record: what every source produces and the store keeps, whatever the source."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator


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
    try:
        return moment.astimezone(UTC).replace(tzinfo=None)
    except OverflowError:  # 9999-12-31T23:59:59-14:00 is past the last representable moment
        raise ValueError("date out of range") from None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# Posts dated before this or more than FUTURE_SKEW ahead of now are refused: such dates are
# mistakes (a year 0001, a wrong zone, a 2099 typo) that would stretch every trend chart.
EARLIEST = datetime(2000, 1, 1)
FUTURE_SKEW = timedelta(hours=1)
MAX_COUNT = 2 ** 63 - 1  # what a BIGINT column holds
MAX_BRANDS = 32
_NUMBER = re.compile(r"\s*[-+]?\d+(\.\d*)?\s*")


def check_text(value: Any) -> Any:
    """Refuse strings (or lists of them) that are not valid Unicode (a lone surrogate such
    as \\ud800 from a JSON escape): the database can only store UTF-8."""
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError("not valid Unicode text (a lone surrogate)") from None
    return value


def check_created_at(value: Any) -> Any:
    """Before parsing: a date must be written as a date, not a bare (epoch) number."""
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("write the date as ISO 8601 (2026-11-02T10:00:00Z), not a number")
    return value


def check_date_range(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    moment = utc_naive(value)
    if moment < EARLIEST:
        raise ValueError(f"dated before {EARLIEST.year}: {moment.date().isoformat()}")
    if moment > utcnow() + FUTURE_SKEW:
        raise ValueError(f"dated in the future: {moment.isoformat(timespec='seconds')} UTC")
    return value


class PostIn(BaseModel):
    """A post as it arrives from outside (the ingest API, an import file): validated strictly,
    so a wrong field or type is reported instead of silently dropped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    id: str = Field(min_length=1, max_length=512, description="the source's own id")
    text: str = Field(max_length=100_000)
    source: str = Field("import", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    created_at: datetime | None = Field(None, description="ISO 8601; default: now (UTC)")
    author: str | None = Field(None, max_length=512)
    url: str | None = Field(None, max_length=4096)
    lang: str | None = Field(None, max_length=16)
    likes: int = Field(0, ge=0, le=MAX_COUNT)
    reposts: int = Field(0, ge=0, le=MAX_COUNT)
    replies: int = Field(0, ge=0, le=MAX_COUNT)
    images: list[str] = Field(default_factory=list, max_length=16,
                              description="http(s) URLs or data: URIs (paths in import files)")
    brands: list[Annotated[str, Field(max_length=200)]] = Field(
        default_factory=list, max_length=MAX_BRANDS,
        description="configured brand names; default: matched by the brand queries")

    @field_validator("*", mode="after")
    @classmethod
    def _unicode(cls, value: Any) -> Any:
        return check_text(value)

    @field_validator("created_at", mode="before")
    @classmethod
    def _not_a_number(cls, value: Any) -> Any:
        return check_created_at(value)

    @field_validator("created_at", mode="after")
    @classmethod
    def _in_range(cls, value: datetime | None) -> datetime | None:
        return check_date_range(value)

    @field_validator("brands", mode="after")
    @classmethod
    def _known_brands(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """With the configured brand names in the validation context (the ingest API),
        refuse brands that are not configured: they would show up in trends and alerts."""
        known = (info.context or {}).get("brands")
        unknown = sorted(set(value) - set(known)) if known is not None else []
        if unknown:
            shown = ", ".join(repr(b[:40]) for b in unknown[:5])
            raise ValueError(f"not configured brand(s): {shown}"
                             + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""))
        return value

    def to_post(self) -> Post:
        return Post(source=self.source, native_id=self.id, text=self.text,
                    created_at=utc_naive(self.created_at) if self.created_at else utcnow(),
                    url=self.url, author=self.author, lang=self.lang, likes=self.likes,
                    reposts=self.reposts, replies=self.replies, images=list(self.images),
                    brands=list(self.brands))
