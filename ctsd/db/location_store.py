"""SQL implementation of the compose location port (handlers.ports): each URL a compose
was given, with time and user (GET /api/1/composes/{id}/locations/ reads them)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.tables import compose_locations


class SqlLocationStore:
    def __init__(self, conn: AsyncConnection, now: Callable[[], datetime]) -> None:
        self._conn = conn
        self._now = now

    async def add(self, compose_pk: int, url: str, user: str) -> None:
        await self._conn.execute(compose_locations.insert().values(
            compose_pk=compose_pk, url=url, time=self._now(), user=user))
