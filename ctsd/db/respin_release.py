"""Removing a respin counter row that only a failed import ever used."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, exists, select

from ctsd.db.tables import composes, respin_counters


def unused_counter_deletion(stream: str, last_respin: int) -> Any | None:
    """DELETE the stream's counter if it still stands at `last_respin` (nobody took a
    respin since it was handed back) and no compose of the stream exists: then the row
    exists only because a failed import created it. Streams are
    "short\\x1fversion\\x1fdate" (handlers.composeinfo.ParsedCompose.stream)."""
    parts = stream.split("\x1f")
    if len(parts) != 3:
        return None  # not a stream of composes (none can exist for it)
    short, version, date = parts
    stored = exists(select(composes.c.pk).where(
        composes.c.release_short == short, composes.c.release_version == version,
        composes.c.date == date))
    return delete(respin_counters).where(respin_counters.c.stream == stream,
                                         respin_counters.c.last_respin == last_respin,
                                         ~stored)
