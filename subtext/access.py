"""Access control for the engine's API: tokens, passwords, and the guard every request passes.

The guard is ASGI middleware, so it covers every route, including those other modules add with
their own routers. In order, it refuses: a Host header not on the allow-list (400: DNS
rebinding), a state-changing request from another site (403: CSRF; the API has no cookie auth
at all), a body over the cap (413), and a missing, wrong or too-weak token (401/403). Tokens are
required on every path but /health when the engine listens beyond loopback (or when
`[api] require_token` says so); a token that is sent is always checked.

A token is `sbt_<id>_<secret>`: the id finds its row, the sha256 of the secret is compared in
constant time. Only the hash is stored; the token is printed once when created.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from collectors.post import utcnow
from data import access as db
from data.store import Store
from subtext.config import Config
from subtext.login_limit import LoginLimiter
from subtext.scopes import (
    OPEN_PATHS,
    ROLES,
    SAFE_METHODS,
    SCOPES,
    allows,
    is_loopback,
    needed_scope,
)

log = logging.getLogger("subtext.access")

TOKEN_PREFIX = "sbt"
# Set by the supervisor for one `up` run: the engine accepts it (admin scope, never stored) and
# the dashboard gets it as SUBTEXT_API_TOKEN.
INTERNAL_TOKEN_ENV = "SUBTEXT_INTERNAL_TOKEN"
API_TOKEN_ENV = "SUBTEXT_API_TOKEN"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
LAST_USED_EVERY = timedelta(minutes=1)  # how stale a token's recorded last use may get


# -- tokens and passwords -----------------------------------------------------------------

def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """(token, id, secret hash): the token is shown once, the id and hash are stored."""
    token_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    return f"{TOKEN_PREFIX}_{token_id}_{secret}", token_id, hash_secret(secret)


def split_token(token: str) -> tuple[str, str] | None:
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX or not parts[1] or not parts[2]:
        return None
    return parts[1], parts[2]


SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        computed = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n),
                                  r=int(r), p=int(p), dklen=len(digest) // 2)
    except (ValueError, UnicodeEncodeError):
        return False
    return hmac.compare_digest(computed.hex(), digest)


# A hash to check against when the user does not exist, so a wrong name costs the same time.
_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def create_token(store: Store, name: str, scope: str, user: str | None = None,
                 days: int | None = None) -> str:
    return issue_token(store, name, scope, user, days)[0]


def issue_token(store: Store, name: str, scope: str, user: str | None = None,
                days: int | None = None) -> tuple[str, db.Token]:
    """(the token, shown once; its stored row)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
    if user is not None and db.get_user(store, user) is None:
        raise ValueError(f"no user {user!r}")
    token, token_id, secret_hash = new_token()
    expires = utcnow() + timedelta(days=days) if days else None
    return token, db.add_token(store, token_id, name, scope, user, secret_hash, expires)


def add_user(store: Store, name: str, role: str, password: str) -> None:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise ValueError("the password must have at least 8 characters")
    if not db.add_user(store, name, role, hash_password(password)):
        raise ValueError(f"user {name!r} exists already")


# -- where the engine listens ------------------------------------------------------------

def allowed_hosts(config: Config) -> frozenset[str]:
    """The Host names the API answers to: the configured list, else the loopback names, the
    bind host and, when it binds every interface, this machine's names."""
    if config.api_allowed_hosts:
        return frozenset(config.api_allowed_hosts)
    names = set(LOOPBACK_NAMES) | {config.api_host.lower()}
    if config.api_host in ("0.0.0.0", "::"):
        names |= {socket.gethostname().lower(), socket.getfqdn().lower()}
    return frozenset(names)


def exposure_problem(config: Config, store: Store) -> str | None:
    """Why the engine must not start where it is configured to listen, or None. Beyond
    loopback it needs at least one API token or dashboard user; then it warns."""
    if is_loopback(config.api_host):
        return None
    tokens, users = db.credentials_configured(store)
    if not tokens and not users:
        return (f"[api] host = {config.api_host!r} listens beyond loopback, but no API token "
                "or dashboard user exists, so anyone reaching the port could read and change "
                "data. Create one first: `python -m subtext tokens create NAME --scope read` "
                "or `python -m subtext users add NAME --role admin` (with the engine "
                "stopped), or listen on 127.0.0.1.")
    log.warning("the API listens on %s beyond loopback: every request but /health needs a "
                "token (%d active, %d dashboard users). Tokens travel in a header: put TLS "
                "(a reverse proxy) in front.", config.api_host, tokens, users)
    return None


# -- the guard ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Identity:
    name: str
    scope: str


class Refused(Exception):
    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


class Policy:
    """What the guard checks, from the config; tokens are looked up in the store each time,
    so a revoked token stops working at once."""

    def __init__(self, config: Config, store: Store, internal_token: str | None = None):
        self.store = store
        self.hosts = allowed_hosts(config)
        self.required = config.api_require_token or not is_loopback(config.api_host)
        self.max_body = config.api_max_body_mb * 1024 * 1024
        internal = internal_token or os.environ.get(INTERNAL_TOKEN_ENV)
        parts = split_token(internal) if internal else None
        self.internal = (parts[0], hash_secret(parts[1])) if parts else None

    def identify(self, token: str) -> Identity:
        parts = split_token(token)
        if parts is None:
            raise Refused(401, "malformed API token", {"WWW-Authenticate": "Bearer"})
        token_id, secret = parts
        if self.internal and token_id == self.internal[0]:
            if hmac.compare_digest(hash_secret(secret), self.internal[1]):
                return Identity("dashboard", "admin")
        row = db.get_token(self.store, token_id)
        expected = row.secret_hash if row else hash_secret(secrets.token_hex(8))
        good = hmac.compare_digest(hash_secret(secret), expected)
        now = utcnow()
        if row is None or not good or not row.active(now):
            raise Refused(401, "invalid, expired or revoked API token",
                          {"WWW-Authenticate": "Bearer"})
        if row.last_used_at is None or now - row.last_used_at > LAST_USED_EVERY:
            db.note_use(self.store, row.id, now)  # at most a write a minute per token
        return Identity(row.name, row.scope)


class Guard:
    """ASGI middleware: Host allow-list, cross-site refusal, body cap, token and scope."""

    def __init__(self, app: ASGIApp, policy: Policy):
        self.app, self.policy = app, policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            identity = await self._check(scope)
        except Refused as refused:
            await _send_error(send, refused)
            return
        if identity is not None:
            scope.setdefault("state", {})["identity"] = identity
        await self.app(scope, _capped(receive, self.policy.max_body), send)

    async def _check(self, scope: Scope) -> Identity | None:
        headers, method, path = Headers(scope=scope), scope["method"], scope["path"]
        host = headers.get("host", "")
        if _host_name(host) not in self.policy.hosts:
            raise Refused(400, f"Host {_short(host)!r} is not allowed; the API answers to "
                          f"{', '.join(sorted(self.policy.hosts))} ([api] allowed_hosts)")
        if method not in SAFE_METHODS and (why := _cross_site(headers, host)):
            raise Refused(403, why)
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.policy.max_body):
            raise Refused(413, too_large(self.policy.max_body))
        if path in OPEN_PATHS:
            return None
        token = _bearer(headers)
        if token is None:
            if self.policy.required:
                raise Refused(401, "an API token is required: send 'Authorization: Bearer "
                              "<token>' (create one with `python -m subtext tokens create`)",
                              {"WWW-Authenticate": "Bearer"})
            return None
        identity = await anyio.to_thread.run_sync(self.policy.identify, token)
        needed = needed_scope(method, path)
        if not allows(identity.scope, needed):
            raise Refused(403, f"this token's scope is {identity.scope!r}; {method} {path} "
                          f"needs {needed!r}")
        return identity


def too_large(cap: int) -> str:
    return (f"request body over the cap of {cap // (1024 * 1024)} MB ([api] max_body_mb); send "
            "fewer posts per request")


def _capped(receive: Receive, cap: int) -> Receive:
    """The request body, refused with a 413 once it passes the cap (a chunked body has no
    Content-Length to check up front)."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > cap:
                raise HTTPException(413, too_large(cap))
        return message

    return wrapped


def _host_name(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):  # [::1]:8765
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cross_site(headers: Headers, host: str) -> str | None:
    site = headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return f"cross-site request refused (Sec-Fetch-Site: {_short(site)})"
    origin = headers.get("origin")
    if origin is not None and (origin == "null" or urlsplit(origin).netloc.lower()
                               != host.strip().lower()):
        return f"cross-origin request refused (Origin: {_short(origin)})"
    return None


def _bearer(headers: Headers) -> str | None:
    value = headers.get("authorization")
    if not value:
        return None
    kind, _, token = value.partition(" ")
    return token.strip() if kind.lower() == "bearer" and token.strip() else "-"


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


async def _send_error(send: Send, refused: Refused) -> None:
    body = json.dumps({"detail": refused.detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in refused.headers.items()]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# -- the dashboard's login check -----------------------------------------------------------

class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=1024)
    client: str | None = Field(None, max_length=64, description="the address the sign-in "
                               "came from (the dashboard passes its browser's); counted "
                               "against the failed sign-in limit. Default: the caller's")


def router(store: Store, limiter: LoginLimiter | None = None) -> APIRouter:
    """/v1/auth: the dashboard checks a login here (admin scope: only the dashboard's own
    token may test passwords) and asks whether any users exist. Wrong passwords are limited
    per name and per client (subtext/login_limit.py): a 429 saying when to try again."""
    routes = APIRouter(prefix="/v1/auth", tags=["access"])
    limiter = LoginLimiter() if limiter is None else limiter  # (an empty one is falsy)

    @routes.post("/login")
    def login(body: LoginIn, request: Request) -> dict:
        client = body.client or (request.client.host if request.client else "unknown")
        _refuse_if_locked(limiter, body.name, client)
        user = db.get_user(store, body.name)
        good = verify_password(body.password, user.password_hash if user else _DUMMY_HASH)
        if user is None or not good:
            log.warning("dashboard login refused for %r", _short(body.name, 40))
            if limiter.failed(body.name, client):
                log.warning("failed sign-ins: %r or client %r locked out for %d s",
                            _short(body.name, 40), _short(client, 64), limiter.lockout_s)
            raise HTTPException(401, "wrong user name or password")
        limiter.succeeded(body.name)
        return {"name": user.name, "role": user.role, "scope": ROLES[user.role]}

    @routes.get("/status")
    def status() -> dict:
        tokens, users = db.credentials_configured(store)
        return {"users": users, "tokens": tokens}

    return routes


def _refuse_if_locked(limiter: LoginLimiter, name: str, client: str) -> None:
    # Checked before the password: while locked, even the right one is refused, and an
    # existing name answers exactly as a made-up one.
    if wait := limiter.retry_after(name, client):
        raise HTTPException(429, f"too many failed sign-ins; try again in {wait} s",
                            headers={"Retry-After": str(wait)})


def describe_token(row: db.Token, now: datetime) -> str:
    state = ("revoked" if row.revoked_at else "expired" if not row.active(now) else "active")
    expires = row.expires_at.isoformat(timespec="minutes") if row.expires_at else "never"
    return (f"{row.id}  {row.scope:<5}  {state:<7}  expires {expires:<16}  "
            f"{row.name}" + (f" (user {row.user_name})" if row.user_name else ""))
