"""Which imports the process predicts a respin for, and which one (ctsd.respin_predictions)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ctsd.envelopes import Outcome
from ctsd.respin_predictions import RespinPredictions
from handlers.commands import ImportCompose
from handlers.composeinfo import stream_of
from handlers.identity import Roles
from tests.conftest import compose_info
from tests.relaying import ADMIN

STREAM = stream_of("p", "1.0", "20200526")


def _import(respin: int = 0, **fields: Any) -> ImportCompose:
    return ImportCompose(compose_info(short="p", respin=respin), **fields)


def _answer(respin: int) -> dict[str, Any]:
    return compose_info(short="p", respin=respin)


def _with_variant_arches() -> ImportCompose:
    info = compose_info(short="p")
    info["payload"]["variants"] = {"Server": {"id": "Server", "uid": "Server", "name": "S",
                                              "type": "variant", "arches": ["x86_64"]}}
    return ImportCompose(info)


@pytest.mark.parametrize("command", [
    _import(parent_compose_ids=("p-1.0-20200101.0",)),
    _import(respin_of="p-1.0-20200101.0"),
    _import(compose_url="https://example.com/compose"),
    _with_variant_arches(),
    ImportCompose({"payload": "not a ComposeInfo"}),
], ids=["parents", "respin_of", "location", "variant-arches", "unreadable"])
def test_an_import_that_writes_more_than_its_row_is_not_predicted(command):
    assert RespinPredictions(Roles()).predict(command, ADMIN) is None


def test_a_new_stream_is_predicted_the_respin_asked_for():
    predicted = RespinPredictions(Roles()).predict(_import(respin=3), ADMIN)
    assert predicted is not None and predicted.predicted
    assert (predicted.stream, predicted.requested, predicted.allocation.respin) == (STREAM, 3, 3)
    assert predicted.allocation.pk is None, "its row takes its pk at commit"


def test_a_stream_in_flight_is_not_predicted_again_until_settled():
    predictions = RespinPredictions(Roles())
    first = predictions.predict(_import(), ADMIN)
    assert first is not None
    assert predictions.predict(_import(), ADMIN) is None
    predictions.settled(first, None)  # refused: nothing learnt
    again = predictions.predict(_import(), ADMIN)
    assert again is not None and again.allocation.respin == 0


def test_the_respin_after_the_last_one_seen_unless_a_higher_one_is_asked_for():
    predictions = RespinPredictions(Roles())
    first = predictions.predict(_import(), ADMIN)
    assert first is not None
    predictions.settled(first, _answer(4))  # allocated 4 after all
    second = predictions.predict(_import(), ADMIN)
    assert second is not None and second.allocation.respin == 5
    predictions.settled(second, _answer(5))
    higher = predictions.predict(_import(respin=9), ADMIN)
    assert higher is not None and higher.allocation.respin == 9


def test_only_the_most_recently_seen_streams_are_remembered():
    predictions = RespinPredictions(Roles(), remembered=2)
    for short in ("a", "b", "c"):
        seen = predictions.predict(ImportCompose(compose_info(short=short)), ADMIN)
        assert seen is not None
        predictions.settled(seen, compose_info(short=short, respin=7))
    forgotten = predictions.predict(ImportCompose(compose_info(short="a")), ADMIN)
    kept = predictions.predict(ImportCompose(compose_info(short="c")), ADMIN)
    assert forgotten is not None and forgotten.allocation.respin == 0
    assert kept is not None and kept.allocation.respin == 8


async def test_a_stream_stays_in_flight_until_its_command_is_answered():
    predictions = RespinPredictions(Roles())
    predicted = predictions.predict(_import(), ADMIN)
    assert predicted is not None
    answered: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
    predictions.settle_when_answered(predicted, answered)  # its caller went away
    assert predictions.predict(_import(), ADMIN) is None, "its group may still write it"
    answered.set_result(Outcome(_answer(0)))
    await asyncio.sleep(0)  # done callbacks run on the loop's next turn
    after = predictions.predict(_import(), ADMIN)
    assert after is not None and after.allocation.respin == 1
