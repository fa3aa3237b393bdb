"""The `noauth` backend: every caller is one anonymous user with every permission.

Development only: `ctsd serve` refuses it on a non-loopback address unless given
--allow-noauth-on-network.
"""

from __future__ import annotations

from aiohttp import web

from handlers.identity import ANONYMOUS, Actor


class NoAuth:
    async def authenticate(self, request: web.Request) -> Actor | None:
        return ANONYMOUS

    async def close(self) -> None:
        return None
