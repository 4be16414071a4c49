"""Secrets out of error text: what an upstream echoes back (a YouTube `key=` in a URL, a Reddit
`Authorization: Basic ...` header, a token) is masked before it reaches a stored last_error,
/health, /v1/runs or the log.
"""

from __future__ import annotations

import logging
import os
import re

MASK = "***"
_QUERY = re.compile(r"(?i)([?&;](?:key|api_?key|access_?token|token|client_?secret|secret|"
                    r"password|passwd|sig|signature|auth)=)[^&\s\"'<>]+")
_HEADER = re.compile(r"(?i)\b(Basic|Bearer|Token)(\s+)[A-Za-z0-9+/=._~-]{6,}")
_FIELD = re.compile(r"(?i)([\"']?(?:password|client_secret|access_token|refresh_token|"
                    r"api_key|apikey)[\"']?\s*[:=]\s*[\"']?)[^\s\"',&}]+")
_OUR_TOKENS = re.compile(r"\bsbt_[0-9a-f]+_[A-Za-z0-9_-]+")
_SECRET_ENV = re.compile(r"SUBTEXT_\w*(TOKEN|SECRET|PASSWORD|KEY|PASS)\w*")


def scrub(text: str | None) -> str | None:
    """`text` with secret-looking parts and the values of secret SUBTEXT_* variables masked."""
    if not text:
        return text
    for name, value in os.environ.items():
        if len(value) >= 4 and _SECRET_ENV.fullmatch(name):
            text = text.replace(value, MASK)
    text = _OUR_TOKENS.sub(MASK, text)
    text = _QUERY.sub(rf"\1{MASK}", text)
    text = _HEADER.sub(rf"\1\2{MASK}", text)
    return _FIELD.sub(rf"\1{MASK}", text)


class ScrubFilter(logging.Filter):
    """Masks secrets in a record's message and traceback before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = scrub(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


def install_log_filter() -> None:
    """On every root handler, so records of every logger (uvicorn's included, when it logs
    through the root) pass it."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, ScrubFilter) for f in handler.filters):
            handler.addFilter(ScrubFilter())
