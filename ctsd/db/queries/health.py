"""Database probes of GET /health/ready: does the database answer, and how far behind
is the outbox (unpublished rows and the age of the oldest)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.db.tables import outbox

DATABASE_TIMEOUT = 2.0


def describe(exc: BaseException) -> str:
    """One short line: the driver's own error rather than SQLAlchemy's wrapper text."""
    inner = getattr(exc, "orig", None) or exc
    if isinstance(inner, TimeoutError):
        return "timed out"
    message = str(inner).strip().splitlines()[0] if str(inner).strip() else ""
    return f"{type(inner).__name__}: {message}"[:300] if message else type(inner).__name__


async def check_database(engine: AsyncEngine) -> dict[str, Any]:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        return {"ok": False, "error": describe(exc)}
    return {"ok": True}


async def outbox_state(engine: AsyncEngine, now: datetime | None = None) -> dict[str, Any]:
    """Unpublished rows and the age of the oldest; None for both if it cannot be read."""
    unsent = outbox.c.sent_at.is_(None)
    query = select(func.count(), func.min(outbox.c.created_at)).where(unsent)
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT), engine.connect() as conn:
            backlog, oldest = (await conn.execute(query)).one()
    except Exception:
        return {"backlog": None, "oldest_unsent_age_seconds": None}
    age = 0.0
    if oldest is not None:
        oldest = oldest if oldest.tzinfo else oldest.replace(tzinfo=UTC)  # SQLite: naive
        age = max(0.0, ((now or datetime.now(UTC)) - oldest).total_seconds())
    return {"backlog": backlog, "oldest_unsent_age_seconds": round(age, 3)}
