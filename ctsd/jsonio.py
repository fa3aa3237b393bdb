"""Fast JSON for answers and stored documents (orjson), with the standard library as a
fallback for the rare value orjson refuses (integers beyond 64 bits). HTTP answers are
made by ctsd/api/responses.py; this module is below every layer and needs no aiohttp."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value)
    except TypeError:
        return json.dumps(value).encode()


def loads(text: str | bytes) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)

