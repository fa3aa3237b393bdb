"""Row identifiers as callers write them: ASCII decimal digits within the column's range.

`str.isdigit()` accepts characters such as "²" that `int()` refuses, and a number past
the column's range makes the database driver fail; both must be a plain "no such row"
(or a 400 where the caller promised an id), so every id from outside goes through here.
"""

from __future__ import annotations

import re

# The integer primary keys (tags.id, promotion_requests.id, composes.pk) are 32-bit.
INT32_MAX = 2**31 - 1
_ASCII_DECIMAL = re.compile(r"[0-9]{1,10}")


def row_id_from_text(text: str, maximum: int = INT32_MAX) -> int | None:
    """The id `text` spells (ASCII digits, 1..maximum), or None if it spells none."""
    if not isinstance(text, str) or not _ASCII_DECIMAL.fullmatch(text):
        return None
    value = int(text)
    return value if 1 <= value <= maximum else None


def is_row_id(value: object, maximum: int = INT32_MAX) -> bool:
    """Whether `value` is an integer (not a bool) that a row id column can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= maximum
