"""The keyset cursor (ctsd/api/keyset.py; its SQL in ctsd/db/queries/seek.py): round
trip, tamper and mismatch detection, value validation, and the SQL shape of the seek
condition."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql

from ctsd.api.keyset import decode_cursor, encode_cursor, filters_digest
from ctsd.db.queries.filters import COMPOSE_FIELDS
from ctsd.db.queries.seek import seek_condition, sort_keys_of
from handlers.errors import InvalidInput

DEFAULT = sort_keys_of([("date", True), ("id", True)], COMPOSE_FIELDS)
BY_LABEL = sort_keys_of([("label", False), ("id", False)], COMPOSE_FIELDS)
DIGEST = filters_digest([("release_short", "rhel"), ("tag", "qa")])


def sql(condition) -> str:
    return str(condition.compile(dialect=postgresql.dialect()))


def test_a_cursor_decodes_to_the_values_it_was_made_from():
    cursor = encode_cursor(DEFAULT, DIGEST, ["20250101", "rhel-10-20250101.0"])
    assert decode_cursor(cursor, DEFAULT, DIGEST) == ["20250101", "rhel-10-20250101.0"]
    # NULL is a value of a nullable key (label).
    cursor = encode_cursor(BY_LABEL, DIGEST, [None, "x"])
    assert decode_cursor(cursor, BY_LABEL, DIGEST) == [None, "x"]


def test_filter_digest_ignores_parameter_order_but_not_values():
    assert filters_digest([("a", "1"), ("b", "2")]) == filters_digest([("b", "2"), ("a", "1")])
    assert filters_digest([("a", "1")]) != filters_digest([("a", "2")])
    assert filters_digest([("tag", "x"), ("tag", "y")]) != filters_digest([("tag", "x")])


@pytest.mark.parametrize("edit", [
    lambda c: c[:-1],                         # truncated digest
    lambda c: "A" + c[1:] if c[0] != "A" else "B" + c[1:],  # edited payload
    lambda c: c.replace(".", ""),             # no separator
    lambda c: c + ".x",                       # two separators
    lambda c: "+/" + c,                       # not base64url
    lambda c: "",
])
def test_an_edited_cursor_is_refused(edit):
    cursor = encode_cursor(DEFAULT, DIGEST, ["20250101", "x"])
    with pytest.raises(InvalidInput, match=r"(?i)cursor"):
        decode_cursor(edit(cursor), DEFAULT, DIGEST)


def test_a_cursor_only_fits_its_order_and_filters():
    cursor = encode_cursor(DEFAULT, DIGEST, ["20250101", "x"])
    with pytest.raises(InvalidInput, match="order_by"):
        decode_cursor(cursor, BY_LABEL, DIGEST)
    with pytest.raises(InvalidInput, match="filters"):
        decode_cursor(cursor, DEFAULT, filters_digest([]))


@pytest.mark.parametrize(("keys", "values"), [
    (DEFAULT, ["2025-01-01", "x"]), (DEFAULT, [20250101, "x"]), (DEFAULT, [None, "x"]),
    (DEFAULT, ["20250101"]), (DEFAULT, ["20250101", "x", "y"]), (DEFAULT, ["20250101", 5]),
    (DEFAULT, ["20250101", "nul\x00"]),
    (sort_keys_of([("respin", False), ("id", False)], COMPOSE_FIELDS), [True, "x"]),
    (sort_keys_of([("respin", False), ("id", False)], COMPOSE_FIELDS), [2**31, "x"]),
    (sort_keys_of([("final", False), ("id", False)], COMPOSE_FIELDS), [1, "x"]),
])
def test_well_encoded_but_wrong_values_are_refused(keys, values):
    cursor = encode_cursor(keys, DIGEST, values)
    with pytest.raises(InvalidInput, match="Invalid cursor"):
        decode_cursor(cursor, keys, DIGEST)


def test_one_direction_without_nulls_seeks_with_a_row_comparison():
    text = sql(seek_condition(DEFAULT, ["20250101", "x"]))
    assert "(composes.date, composes.compose_id) < (" in text
    ascending = sort_keys_of([("date", False), ("id", False)], COMPOSE_FIELDS)
    assert "(composes.date, composes.compose_id) > (" in sql(
        seek_condition(ascending, ["20250101", "x"]))


def test_nullable_or_mixed_keys_seek_with_the_expanded_form():
    # label ascending, NULLs last: after "RC" comes a greater label or NULL.
    text = sql(seek_condition(BY_LABEL, ["RC", "x"]))
    assert "composes.label > " in text and "composes.label IS NULL" in text
    # After NULL (the last label) only the tie on label continues.
    text = sql(seek_condition(BY_LABEL, [None, "x"]))
    assert "composes.label IS NULL AND composes.compose_id > " in text
    mixed = sort_keys_of([("date", True), ("id", False)], COMPOSE_FIELDS)
    text = sql(seek_condition(mixed, ["20250101", "x"]))
    assert "composes.date < " in text and "composes.date = " in text
    assert "composes.compose_id > " in text
