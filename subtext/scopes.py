"""Who may do what: API token scopes, dashboard roles, and the scope each request needs.

Kept free of server imports: the dashboard uses the same rules to hide what a role may not do.
"""

from __future__ import annotations

import ipaddress

SCOPES = ("read", "write", "admin")  # each includes the ones before it
ROLES = {"viewer": "read", "analyst": "write", "admin": "admin"}  # dashboard role -> scope
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths (and everything under them) that need the admin scope whatever the method. Routers
# that manage users, tokens or settings go under /v1/admin.
ADMIN_PATHS = ("/v1/admin", "/v1/auth/login")
OPEN_PATHS = frozenset({"/health"})  # answered without a token


def needed_scope(method: str, path: str) -> str:
    if any(path == p or path.startswith(p + "/") for p in ADMIN_PATHS):
        return "admin"
    return "read" if method.upper() in SAFE_METHODS else "write"


def allows(scope: str, needed: str) -> bool:
    return scope in SCOPES and SCOPES.index(scope) >= SCOPES.index(needed)


def is_loopback(host: str) -> bool:
    """Whether a bind address is reachable from this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
