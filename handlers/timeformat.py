"""Timestamps in answers and messages: UTC, ISO 8601, with a Z (seconds only). Here,
below every layer, so that handlers (promotion objects in messages) and views share it."""

from __future__ import annotations

from datetime import UTC, datetime


def iso_utc(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None, microsecond=0).isoformat() + "Z"
