"""Keyset ("cursor") pagination: the opaque cursor (its SQL is ctsd/db/queries/seek.py).

OFFSET pages cost as much as every row they skip; a keyset page starts right after the
sort values of the previous page's last row, so page 10,000 costs what page 1 costs.

The cursor carries those values, the order_by keys and a digest of the filters it was
made for, so that it cannot silently continue a different listing. It is checked, not
secret: a blake2b digest detects an edited or truncated cursor (400), and each value is
validated against its field anyway, since a forged cursor only chooses where a listing
starts, which the filters allow too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Iterable, Sequence
from typing import Any

from ctsd import jsonio
from ctsd.db.queries.seek import SortKey
from handlers.errors import InvalidInput

CURSOR_VERSION = 1
_DIGEST_KEY = b"ctsd keyset cursor v1"
_DATE = re.compile(r"^[0-9]{8}$")
_INT_LIMIT = 2**31
_TEXT_LIMIT = 1000
_CURSOR_LIMIT = 4000


def filters_digest(items: Iterable[tuple[str, str]]) -> str:
    """Stable over parameter order: the same filters always give the same digest."""
    canonical = jsonio.dumps(sorted([key, value] for key, value in items))
    return hashlib.blake2b(canonical, digest_size=8).hexdigest()


def encode_cursor(keys: Sequence[SortKey], filters: str, values: Sequence[Any]) -> str:
    payload = jsonio.dumps({"v": CURSOR_VERSION, "o": [key.spelled for key in keys],
                            "f": filters, "k": list(values)})
    return f"{_b64(payload)}.{_b64(_digest(payload))}"


def decode_cursor(cursor: str, keys: Sequence[SortKey], filters: str) -> list[Any]:
    """The sort values a cursor continues after, or 400 saying why it cannot be used."""
    payload = _verified_payload(cursor)
    if not isinstance(payload, dict) or payload.get("v") != CURSOR_VERSION:
        raise InvalidInput("Invalid cursor: unknown format; start again without one")
    order = [key.spelled for key in keys]
    if payload.get("o") != order:
        raise InvalidInput(
            f"This cursor was made for order_by {payload.get('o')!r}, not {order!r}; "
            "keep the order_by of the listing it came from")
    if payload.get("f") != filters:
        raise InvalidInput("This cursor was made for different filters; keep the filters "
                           "of the listing it came from")
    values = payload.get("k")
    if not isinstance(values, list) or len(values) != len(keys):
        raise InvalidInput("Invalid cursor: wrong number of sort values")
    for key, value in zip(keys, values, strict=True):
        _check_value(key, value)
    return values


def _verified_payload(cursor: str) -> Any:
    if len(cursor) > _CURSOR_LIMIT or cursor.count(".") != 1:
        raise InvalidInput("Invalid cursor: pass the cursor from a `next` link unchanged")
    body, digest = cursor.split(".")
    try:
        payload, given = _unb64(body), _unb64(digest)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput("Invalid cursor: not the encoding of a cursor") from exc
    if not hmac.compare_digest(given, _digest(payload)):
        raise InvalidInput("Invalid cursor: it was changed or truncated")
    try:
        return jsonio.loads(payload)
    except ValueError as exc:
        raise InvalidInput("Invalid cursor: not the encoding of a cursor") from exc


def _check_value(key: SortKey, value: Any) -> None:
    if not _valid_value(key, value):
        raise InvalidInput(f"Invalid cursor: bad value for {key.name}")


def _valid_value(key: SortKey, value: Any) -> bool:
    if value is None:
        return key.nullable
    kind = key.field.kind
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < _INT_LIMIT
    if kind == "bool":
        return isinstance(value, bool)
    if not isinstance(value, str) or len(value) > _TEXT_LIMIT or "\x00" in value:
        return False
    return kind != "date" or bool(_DATE.match(value))


def _digest(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=12, key=_DIGEST_KEY).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    if not text or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
