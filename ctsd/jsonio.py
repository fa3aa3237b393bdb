"""Fast JSON for answers and stored documents (orjson), with the standard library as a
fallback for the rare value orjson refuses (integers beyond 64 bits). HTTP answers are
made by ctsd/api/responses.py; this module is below every layer and needs no aiohttp."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import orjson


class StoredJson:
    """JSON text already made (a compose's stored answer): `dumps` puts it into the
    document as it is, without parsing and encoding it again."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StoredJson) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def value(self) -> Any:
        return loads(self.text)


def _as_fragment(value: Any) -> Any:
    if isinstance(value, StoredJson):
        return orjson.Fragment(value.text)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _as_value(value: Any) -> Any:
    if isinstance(value, StoredJson):
        return value.value()
    if isinstance(value, datetime):
        # As orjson writes it: rows sent to PostgreSQL as JSON carry their timestamps
        # (ctsd.db.flush_statements.rows_parameter), also when the fallback writes them.
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=_as_fragment)
    except TypeError:
        return json.dumps(value, default=_as_value).encode()


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)

