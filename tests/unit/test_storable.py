"""The quick look at a raw JSON body (may_have_json_problem) never misses what the walk
of its decoded value (json_problem) finds."""

from __future__ import annotations

import json

import pytest

from handlers.storable import MAX_JSON_DEPTH, json_problem, may_have_json_problem

PLAIN = {"compose_info": {"payload": {"compose": {"id": "F-1.0-20200526.0"}}}, "x": ["ü"]}


def _nested(depth: int) -> object:
    value: object = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("raw", [
    json.dumps({"name": "a\x00b"}).encode(),              # NUL, escaped by json.dumps
    json.dumps({"a\udc00": 1}).encode(),                 # a lone surrogate, in a key
    b'{"name": "\\ud800"}',
    json.dumps(_nested(MAX_JSON_DEPTH + 1)).encode(),
    json.dumps({"name": "a\x00b"}).encode("utf-16"),     # the same in another encoding
], ids=["nul", "surrogate-key", "surrogate", "too-deep", "utf-16"])
def test_every_body_with_a_problem_is_looked_at(raw):
    assert json_problem(json.loads(raw)) is not None
    assert may_have_json_problem(raw)


@pytest.mark.parametrize("raw", [
    json.dumps(PLAIN).encode(),
    json.dumps(PLAIN, ensure_ascii=False).encode(),
    json.dumps(_nested(MAX_JSON_DEPTH)).encode(),
], ids=["ascii", "utf-8", "deepest-allowed"])
def test_a_plain_body_needs_no_walk(raw):
    assert json_problem(json.loads(raw)) is None
    assert not may_have_json_problem(raw)


def test_an_escape_that_is_harmless_is_still_looked_at():
    raw = json.dumps({"name": "caf\u00e9 \\u0000"}).encode()  # a backslash, then u0000
    assert may_have_json_problem(raw), "the quick look is conservative"
    assert json_problem(json.loads(raw)) is None
