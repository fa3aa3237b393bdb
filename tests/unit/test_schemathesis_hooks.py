"""The long run's acceptance check lets through exactly the v1 400s no schema can state
(tests/e2e/schemathesis_hooks.py), and no other refusal of an allowed request."""

from __future__ import annotations

import pytest

from tests.e2e.schemathesis_hooks import explained_refusal

EXPLAINED = [
    'Tag "qa" does not exist',
    'Tag "\nC\u0019)" does not exist',  # the long run's one ST202: a newline in the name
    '"respin_of": unknown compose(s) x-1-20200101.0',
    "Tag qa already exists",
    '"requires": unknown tag(s) a, b',
    "Invalid cursor: it was changed or truncated",
    "page cannot be combined with cursor; follow the `next` links",
    'Cannot parse "compose_info": Compose: Field \'id\' has invalid value: x',
]
NOT_EXPLAINED = [
    '"name" must not contain whitespace',
    "date must be a date as YYYYMMDD, not '20261301'",
    "A value in the request is out of range or malformed",
    "Request body must not contain NUL characters",
    "The tag does not exist, says a view",  # only the v1 text, anchored
]


@pytest.mark.parametrize("message", EXPLAINED)
def test_refusals_no_schema_can_state_are_explained(message):
    assert explained_refusal(400, {"status": 400, "message": message})
    assert not explained_refusal(404, {"status": 404, "message": message})


@pytest.mark.parametrize("message", NOT_EXPLAINED)
def test_other_refusals_still_fail_the_check(message):
    assert not explained_refusal(400, {"status": 400, "message": message})


def test_an_answer_that_is_not_a_json_object_is_not_explained():
    assert not explained_refusal(400, None)
    assert not explained_refusal(400, ["Tag \"qa\" does not exist"])
