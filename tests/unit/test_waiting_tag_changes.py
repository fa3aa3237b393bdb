"""Tag changes that wait for commit (ctsd.db.waiting_tag_changes): what a transaction's
changes come to is what it writes, however many times it changed a compose's tag."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from ctsd.db.waiting_tag_changes import StaleStoredAnswer, WaitingTagChanges, check_written

NIGHTLY, QA = 1, 2


def _waiting() -> WaitingTagChanges:
    waiting = WaitingTagChanges()
    waiting.names.update({NIGHTLY: "nightly", QA: "qa-passed"})
    return waiting


def _answer(*tags: str) -> dict[str, Any]:
    return {"compose_info": {}, "tags": list(tags), "parents": []}


def test_a_change_answers_the_representation_after_it_as_a_new_dict():
    waiting = _waiting()
    current = _answer("qa-passed")
    after = waiting.change(7, NIGHTLY, current, added=True)
    assert after == _answer("nightly", "qa-passed")
    assert current == _answer("qa-passed"), "the representation it was given is kept"
    assert waiting.change(7, NIGHTLY, after, added=True) is None, "already in effect"
    assert waiting.change(7, QA, after, added=False) == _answer("nightly")
    assert waiting.take() == ([(7, NIGHTLY)], [(7, QA)])
    assert waiting.take() == ([], []), "taken once"


def test_changes_that_cancel_out_write_nothing():
    waiting = _waiting()
    tagged = waiting.change(3, NIGHTLY, _answer(), added=True)
    assert tagged is not None
    assert waiting.change(3, NIGHTLY, tagged, added=False) == _answer()
    untagged = waiting.change(4, QA, _answer("qa-passed"), added=False)
    assert untagged is not None
    assert waiting.change(4, QA, untagged, added=True) == _answer("qa-passed")
    assert waiting.take() == ([], [])


def test_rows_are_written_in_order():
    waiting = _waiting()
    for pk in (9, 2, 5):
        waiting.change(pk, QA, _answer(), added=True)
    assert waiting.take() == ([(2, QA), (5, QA), (9, QA)], [])


def test_a_commit_that_wrote_other_than_expected_names_the_composes():
    check_written([(2, QA)], [(5, NIGHTLY)], SimpleNamespace(added=1, removed=1))
    with pytest.raises(StaleStoredAnswer, match="wrote 1 of 2 additions") as raised:
        check_written([(2, QA), (2, NIGHTLY)], [(5, NIGHTLY)],
                      SimpleNamespace(added=1, removed=1))
    assert raised.value.compose_pks == [2, 5]
