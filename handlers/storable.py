"""Strings PostgreSQL cannot store, found anywhere in a decoded JSON value.

PostgreSQL text holds neither NUL nor a lone UTF-16 surrogate (JSON's "\\ud800" decodes
to one, and UTF-8 cannot encode it), and no legitimate value contains either. The walk is
iterative with a depth bound, so deeply nested input is refused instead of exhausting the
interpreter's recursion limit.
"""

from __future__ import annotations

import json
import re

# Far deeper than any composeinfo or request body CTS accepts (those are < 10 levels).
MAX_JSON_DEPTH = 64

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# The JSON escapes that decode to one: \u0000 and \ud800-\udfff.
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def text_problem(text: str) -> str | None:
    """Why PostgreSQL cannot store `text`, or None if it can."""
    found = _UNSTORABLE.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain NUL characters"
    return "must not contain unpaired UTF-16 surrogates"


def may_have_json_problem(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> bool:
    """False when `raw`, UTF-8 JSON text that json.loads accepted, surely decodes to a
    value json_problem finds nothing in, which most request bodies do: a decoded string
    can hold NUL or a lone surrogate only through a \\u0000 or \\ud800-\\udfff escape
    (json.loads refuses raw control characters, and UTF-8 cannot encode a surrogate),
    and the value cannot be nested deeper than it has brackets. Scans in C instead of a
    walk in Python (3 % of a worker's samples under create at c=8)."""
    if json.detect_encoding(raw) != "utf-8":
        return True  # UTF-16 or -32 spell escapes and brackets in other bytes
    return (_RISKY_ESCAPE.search(raw) is not None
            or raw.count(b"{") + raw.count(b"[") > max_depth)


def json_problem(value: object, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a decoded JSON value cannot be stored (too deep, or an unstorable string in a
    key or value), or None. Iterative: no recursion however deep the value is."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return problem
        elif isinstance(item, dict | list):
            if depth > max_depth:
                return f"is nested more than {max_depth} levels deep"
            if isinstance(item, dict):
                pending.extend((key, depth) for key in item)
                pending.extend((child, depth + 1) for child in item.values())
            else:
                pending.extend((child, depth + 1) for child in item)
    return None
