"""Authentication for HTTP callers: turns a request into an Actor.

Only the `noauth` backend exists so far; real backends plug in behind `Authenticator`.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from ctsd.api.errors import Handler
from ctsd.api.keys import ACTOR
from handlers.identity import ANONYMOUS, Actor


class Authenticator(Protocol):
    async def authenticate(self, request: web.Request) -> Actor | None: ...


class NoAuth:
    """Every caller is one anonymous user with every permission (development only)."""

    async def authenticate(self, request: web.Request) -> Actor | None:
        return ANONYMOUS


def auth_middleware(authenticator: Authenticator) -> Handler:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        request[ACTOR] = await authenticator.authenticate(request)
        return await handler(request)

    return middleware
