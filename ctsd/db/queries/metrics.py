"""What /metrics reads from the database at scrape time, in one round trip."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.db.tables import composes, outbox, processed_messages, tags


@dataclass(frozen=True)
class DatabaseCounts:
    composes: int
    tags: int
    backlog: int  # outbox rows not yet published
    oldest_unsent_age_seconds: float  # 0 if none waits
    published: int  # published rows still kept for the event feed
    processed: int  # bus messages whose effect is committed


def _aware(value: datetime) -> datetime:
    # SQLite hands timestamps back without a zone; everything we store is UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def database_counts(engine: AsyncEngine, now: datetime | None = None) -> DatabaseCounts:
    """Composes, tags, outbox and processed bus messages, counted by one statement."""
    unsent = outbox.c.sent_at.is_(None)
    query = select(
        select(func.count()).select_from(composes).scalar_subquery(),
        select(func.count()).select_from(tags).scalar_subquery(),
        select(func.count()).select_from(outbox).where(unsent).scalar_subquery(),
        select(func.min(outbox.c.created_at)).where(unsent).scalar_subquery(),
        select(func.count()).select_from(outbox).where(outbox.c.sent_at.is_not(None))
        .scalar_subquery(),
        select(func.count()).select_from(processed_messages).scalar_subquery(),
    )
    async with engine.connect() as conn:
        compose_count, tag_count, backlog, oldest, published, processed = (
            await conn.execute(query)).one()
    age = 0.0
    if oldest is not None:
        age = max(0.0, ((now or datetime.now(UTC)) - _aware(oldest)).total_seconds())
    return DatabaseCounts(compose_count, tag_count, backlog, age, published, processed)
