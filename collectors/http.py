"""Polite HTTP, shared by every source: one httpx client per source, with timeouts, a per-source
request rate, retries with exponential backoff and jitter on 5xx and timeouts, 429 and
Retry-After honoured, X-RateLimit-* headers respected, and a clear User-Agent.

A wait the run cannot afford (a Retry-After longer than `max_wait_s`) ends the run with
RateLimited, which tells the collect job when to try again; other failures raise SourceError.
Error messages name the host and path only: query strings can hold API keys.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from subtext import USER_AGENT

log = logging.getLogger("subtext.collectors")

RETRY_STATUSES = {500, 502, 503, 504, 429}


class SourceError(Exception):
    """A source answered with an error, or not at all, after the retries."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class RateLimited(SourceError):
    """The source asked us to wait longer than a run may: retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: float):
        super().__init__(message, 429)
        self.retry_after_s = retry_after_s


class Stopped(SourceError):
    """The engine is stopping: a wait inside a run (Retry-After, back-off, pacing) was cut
    short. What the run stored before stays; the next start resumes from its cursor."""


class Interruptible:
    """A sleep that the engine's stop signal ends at once: a 60 s Retry-After must not hold
    up a shutdown. `stop_with` shares the engine's event; an injected `sleep` (tests) is
    used instead of waiting on it, and the stop is still checked after it."""

    def __init__(self, sleep: Callable[[float], None] | None = None):
        self.stopping, self._injected = threading.Event(), sleep

    def stop_with(self, event: threading.Event) -> None:
        self.stopping = event

    def __call__(self, seconds: float) -> None:
        if self._injected is not None:
            self._injected(seconds)
        else:
            self.stopping.wait(seconds)
        if self.stopping.is_set():
            raise Stopped("the engine is stopping")


@dataclass(frozen=True)
class Politeness:
    """How a source is treated; every field can be set in the source's config table."""

    per_minute: float = 60.0  # requests per minute at most, across all brands of the source
    timeout_s: float = 20.0
    retries: int = 3  # further attempts after a 5xx, 429 or timeout
    backoff_s: float = 1.0  # first retry wait; doubles each time, with jitter
    max_wait_s: float = 60.0  # longest wait (Retry-After, rate-limit reset) inside a run
    user_agent: str = USER_AGENT
    max_body_bytes: int = 10 * 1024 * 1024  # a response larger than this is refused

    def __post_init__(self) -> None:
        for name in ("per_minute", "timeout_s", "max_body_bytes"):
            if not _number(getattr(self, name)) or getattr(self, name) <= 0:
                raise ValueError(f"{name} must be a positive number")
        for name in ("backoff_s", "max_wait_s"):
            if not _number(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a number ≥ 0")
        if not isinstance(self.retries, int) or isinstance(self.retries, bool) \
                or self.retries < 0:
            raise ValueError("retries must be an integer ≥ 0")
        if not isinstance(self.user_agent, str) or not self.user_agent.strip():
            raise ValueError("user_agent must be a non-empty string")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class PoliteClient:
    """An httpx client that waits its turn and retries what is worth retrying. Thread-safe:
    the brands of one source share it (and its rate) from the scheduler's threads."""

    def __init__(self, politeness: Politeness, headers: dict[str, str] | None = None,
                 sleep: Callable[[float], None] | None = None):
        self.politeness = politeness
        self.http = httpx.Client(timeout=politeness.timeout_s, follow_redirects=True,
                                 max_redirects=5,
                                 headers={"User-Agent": politeness.user_agent, **(headers or {})})
        self._sleep = Interruptible(sleep)
        self._lock = threading.Lock()
        self._next_slot = 0.0  # monotonic time of the next allowed request
        self._blocked_until = 0.0  # a rate-limit reset the source announced

    def stop_with(self, event: threading.Event) -> None:
        self._sleep.stop_with(event)

    def close(self) -> None:
        self.http.close()

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def request(self, method: str, url: str, *, ok: tuple[int, ...] = (200,),
                **kwargs) -> httpx.Response:
        """Send, retrying 5xx, 429 and transport errors; return a response whose status is in
        `ok` (a 304 may be asked for), or raise SourceError / RateLimited."""
        p = self.politeness
        for attempt in range(p.retries + 1):
            self._wait_turn()
            try:
                response = self._send(method, url, **kwargs)
            except httpx.TransportError as exc:  # timeouts, refused connections, resets
                problem = f"{type(exc).__name__} from {_where(url)}"
                if attempt == p.retries:
                    raise SourceError(problem) from None
                self._backoff(attempt, problem)
                continue
            except httpx.HTTPError as exc:  # too many redirects, undecodable body
                raise SourceError(f"{type(exc).__name__} from {_where(url)}") from None
            self._note_limits(response)
            if response.status_code in ok:
                return response
            problem = f"HTTP {response.status_code} from {_where(url)}"
            if response.status_code not in RETRY_STATUSES:
                raise SourceError(f"{problem}: {_excerpt(response)}", response.status_code)
            if response.status_code == 429:
                wait = retry_after(response)
                if wait is not None and wait > p.max_wait_s:
                    raise RateLimited(f"{problem}: retry after {wait:.0f} s", wait)
                if attempt < p.retries and wait is not None:
                    log.info("%s; waiting %.1f s as asked", problem, wait)
                    self._sleep(wait)
                    continue
            if attempt == p.retries:
                if response.status_code == 429:
                    raise RateLimited(problem, retry_after(response) or p.max_wait_s)
                raise SourceError(problem, response.status_code)
            self._backoff(attempt, problem)
        raise AssertionError("unreachable")

    def _send(self, method: str, url: str, **kwargs) -> httpx.Response:
        """One request, its body read up to max_body_bytes: a runaway response cannot fill
        the memory."""
        limit = self.politeness.max_body_bytes
        with self.http.stream(method, url, **kwargs) as streamed:
            declared = streamed.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > limit:
                raise SourceError(f"response from {_where(url)} larger than {limit} bytes")
            body = bytearray()
            for chunk in streamed.iter_bytes():
                body.extend(chunk)
                if len(body) > limit:
                    raise SourceError(f"response from {_where(url)} larger than {limit} bytes")
        # The body is decoded already: drop the headers that describe the encoded one.
        headers = [(k, v) for k, v in streamed.headers.multi_items()
                   if k.lower() not in ("content-encoding", "content-length",
                                        "transfer-encoding")]
        return httpx.Response(streamed.status_code, headers=headers, content=bytes(body),
                              request=streamed.request)

    # -- pacing -----------------------------------------------------------------------------

    def _wait_turn(self) -> None:
        """Space requests 60/per_minute seconds apart and honour an announced reset."""
        with self._lock:
            now = time.monotonic()
            if self._blocked_until - now > self.politeness.max_wait_s:
                wait = self._blocked_until - now
                raise RateLimited(f"rate limit used up; resets in {wait:.0f} s", wait)
            start = max(now, self._next_slot, self._blocked_until)
            self._next_slot = start + 60.0 / self.politeness.per_minute
        if start > now:
            self._sleep(start - now)

    def _backoff(self, attempt: int, problem: str) -> None:
        wait = backoff_wait(self.politeness.backoff_s, attempt, self.politeness.max_wait_s)
        log.info("%s; retry %d in %.2f s", problem, attempt + 1, wait)
        self._sleep(wait)

    def _note_limits(self, response: httpx.Response) -> None:
        """X-RateLimit-Remaining 0 (Reddit, Mastodon): hold further requests until the reset.
        A reset further away than max_wait_s ends the run at the next request instead."""
        remaining = response.headers.get("x-ratelimit-remaining")
        reset = response.headers.get("x-ratelimit-reset")
        if remaining is None or reset is None:
            return
        try:
            if float(remaining) >= 1:
                return
        except ValueError:
            return
        wait = _reset_seconds(reset)
        if wait is not None and wait > 0:
            with self._lock:
                self._blocked_until = max(self._blocked_until, time.monotonic() + wait)


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), if there is one."""
    return parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date, which is read
    against `now`), or None when there is none or it cannot be read."""
    if value is None:
        return None
    value = value.strip()
    if value.replace(".", "", 1).isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def backoff_wait(backoff_s: float, attempt: int, cap: float) -> float:
    """Exponential with "equal jitter": half fixed, half random, so clients that failed
    together do not retry together; never more than `cap`."""
    base = backoff_s * 2 ** attempt
    return min(base / 2 + random.uniform(0, base / 2), cap)


def _reset_seconds(value: str) -> float | None:
    """X-RateLimit-Reset: seconds until the reset (Reddit) or an ISO 8601 time (Mastodon)."""
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return (when - datetime.now(UTC)).total_seconds()


def _where(url: str) -> str:
    """scheme://host/path: enough to say which endpoint failed, never a key in the query."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(query=None, fragment=None, username=None, password=None))


def _excerpt(response: httpx.Response, limit: int = 200) -> str:
    try:
        text = response.text
    except (UnicodeDecodeError, httpx.HTTPError):
        return "(unreadable body)"
    return " ".join(text.split())[:limit] or "(empty body)"
