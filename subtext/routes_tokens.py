"""Token admin while the engine runs: list, create and revoke API tokens over the API.

Under /v1/admin, so the guard (subtext/access.py) lets only an admin-scope token through; a read
or write token gets its 403 there. Because a token made here is a credential, these routes also
refuse a request that carries no token at all, even on loopback where the rest of the API is
open. The secret is in the create response only, once; listings show the rest (never the secret
or its hash). A revoked token is refused from the next request on: the guard reads the token's
row on every request.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Literal

from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from collectors.post import utcnow
from data import access as db
from data.store import Store
from subtext import access

log = logging.getLogger("subtext.access")

TOKEN_ID = r"^[0-9a-f]{8}$"  # the public part of a token (access.new_token)


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, pattern=r"^[^\x00-\x1f\x7f]+$",
                      description="what the token is for (shown in listings and logs)")
    scope: Literal["read", "write", "admin"]
    user: str | None = Field(None, min_length=1, max_length=100,
                             description="the dashboard user it is for; removing the user "
                                         "revokes it")
    days: int | None = Field(None, ge=1, le=3650, description="expires after; default never")


def describe(row: db.Token, now: datetime) -> dict:
    """A token as listings show it: everything but the secret and its hash."""
    return {"id": row.id, "name": row.name, "scope": row.scope, "user": row.user_name,
            "state": row.state(now), "created_at": row.created_at,
            "last_used_at": row.last_used_at, "expires_at": row.expires_at,
            "revoked_at": row.revoked_at}


def router(store: Store) -> APIRouter:
    routes = APIRouter(prefix="/v1/admin/tokens", tags=["access"])

    @routes.get("")
    def list_tokens(request: Request) -> dict:
        _caller(request)
        now = utcnow()
        return {"tokens": [describe(row, now) for row in db.list_tokens(store)]}

    @routes.post("", status_code=201)
    def create_token(body: TokenIn, request: Request, response: Response) -> dict:
        caller = _caller(request)
        try:
            token, row = access.issue_token(store, body.name, body.scope, body.user, body.days)
        except ValueError as exc:  # no such user
            raise HTTPException(422, str(exc)) from None
        log.info("API token %s (%s, %r) created by %s", row.id, row.scope, row.name,
                 caller.name)
        response.headers["Cache-Control"] = "no-store"  # the secret must not be kept anywhere
        return {**describe(row, utcnow()), "token": token,
                "note": "the token is shown only this once; send it as "
                        "'Authorization: Bearer <token>'"}

    @routes.delete("/{token_id}")
    def revoke_token(request: Request,
                     token_id: str = Path(max_length=8, pattern=TOKEN_ID)) -> dict:
        caller = _caller(request)
        if not db.revoke_token(store, token_id):
            raise HTTPException(404, f"no active token {token_id!r}")
        log.info("API token %s revoked by %s", token_id, caller.name)
        return describe(db.get_token(store, token_id), utcnow())

    return routes


def _caller(request: Request) -> access.Identity:
    identity = getattr(request.state, "identity", None)
    if identity is None:  # loopback without a token: the guard let it through
        raise HTTPException(401, "managing tokens needs an admin token, even on loopback: "
                                 "send 'Authorization: Bearer <token>' (create the first with "
                                 "`python -m subtext tokens create NAME --scope admin`)",
                            headers={"WWW-Authenticate": "Bearer"})
    if identity.scope != "admin":  # the guard refuses these already; never rely on one check
        raise HTTPException(403, f"this token's scope is {identity.scope!r}; managing tokens "
                                 "needs 'admin'")
    return identity
