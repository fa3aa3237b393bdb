"""The OpenAPI document's patterns (ctsd/api/openapi_rules.py) allow exactly what the
checks they mirror accept: values generated from a pattern pass the check, and any
text the check accepts matches the pattern."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctsd.api.openapi_rules import CALENDAR_DATE, HTTP_URL, NOT_BLANK, TAG_NAME
from handlers.errors import InvalidInput
from handlers.tags import check_tag_name
from handlers.validation import check_http_url, check_text


def _on_calendar(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y%m%d")
    except ValueError:
        return False
    return len(text) == 8 and text.isascii() and text.isdigit()


def _accepted(check: Callable[[str], object], text: str) -> bool:
    try:
        check(text)
    except InvalidInput:
        return False
    return True


@pytest.mark.parametrize("year", ["0000", "0001", "1900", "2000", "2024", "2026", "2100",
                                  "9999"])
def test_calendar_date_is_every_real_day_and_nothing_else(year: str) -> None:
    for month_day in range(10000):
        text = f"{year}{month_day:04d}"
        assert bool(re.search(CALENDAR_DATE, text)) == _on_calendar(text), text


CHECKS = [
    (TAG_NAME, check_tag_name),
    (HTTP_URL, lambda text: check_http_url(text, "compose_url")),
    (NOT_BLANK, lambda text: check_text(text, "description")),
]


def _matches(pattern: str, text: str) -> bool:
    # schemathesis reads patterns in Python's ASCII mode, jsonschema in Unicode mode.
    unicode, ascii_ = re.search(pattern, text), re.search(pattern, text, re.ASCII)
    assert bool(unicode) == bool(ascii_), text
    return bool(unicode)


@pytest.mark.parametrize(("pattern", "check"), CHECKS, ids=["tag name", "http url", "text"])
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_pattern_and_check_agree(pattern: str, check: Callable[[str], object],
                                 data: st.DataObject) -> None:
    matching = data.draw(st.from_regex(pattern).filter(lambda t: len(t) < 2000))
    assert _matches(pattern, matching) and _accepted(check, matching), matching
    text = data.draw(st.text(max_size=30) | st.sampled_from(
        ["0", "00", "\u00b2", "-x", "x y", "a", "0-", "a\x1c", "a\x85b", "\u3000", "a\n",
         "http://h", "https://h:65536/", "http://", "ftp://h/", "http://h/a\x1fb",
         "HTTP://H:0/#"]))
    assert _matches(pattern, text) == _accepted(check, text), text
