"""Which imports the process predicts a respin for, and which one (ctsd.respin_predictions)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ctsd.envelopes import Outcome
from ctsd.respin_predictions import RespinPredictions
from handlers.commands import ImportCompose
from handlers.composeinfo import stream_of
from tests.conftest import compose_info

STREAM = stream_of("p", "1.0", "20200526")


def _import(**fields: Any) -> ImportCompose:
    return ImportCompose(compose_info(short="p"), **fields)


def _predicted(predictions: RespinPredictions, stream: str = STREAM,
               requested: int = 0) -> int | None:
    """The respin predicted for a plain import of `stream`, or None (not predicted)."""
    ahead = predictions.predict(_import(), stream, requested)
    return None if ahead is None else ahead.allocation.respin


def _pending() -> asyncio.Future[Outcome]:
    """A command's answer, not there yet."""
    return asyncio.get_running_loop().create_future()


def _answered(respin: int | None, *, replayed: bool = False) -> asyncio.Future[Outcome]:
    """A command's answer: the compose it created (respin), or an error (None)."""
    answer = _pending()
    if respin is None:
        answer.set_exception(ValueError("refused"))
    else:
        answer.set_result(Outcome(compose_info(short="p", respin=respin), replayed))
    return answer


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
], ids=["parents", "respin_of", "location", "variant-arches"])
def test_an_import_that_writes_more_than_its_row_is_not_predicted(command):
    assert RespinPredictions().predict(command, STREAM, 0) is None


def test_a_new_stream_is_predicted_the_respin_asked_for():
    predicted = RespinPredictions().predict(_import(), STREAM, 3)
    assert predicted is not None and predicted.predicted
    assert (predicted.stream, predicted.requested, predicted.allocation.respin) == (STREAM, 3, 3)
    assert predicted.allocation.pk is None, "its row takes its pk at commit"


async def test_no_prediction_while_an_import_of_the_stream_is_in_flight():
    predictions = RespinPredictions()
    assert _predicted(predictions) == 0
    # Not predicted (it names a parent), but in flight on the stream all the same.
    assert predictions.predict(_import(parent_compose_ids=("x",)), STREAM, 0) is None
    predictions.settle_when_answered(STREAM, _answered(None))  # the first, refused
    assert _predicted(predictions) is None, "the other is in flight"
    predictions.settle_when_answered(STREAM, None)  # the third never got an answer
    predictions.settle_when_answered(STREAM, _answered(0))  # the other created respin 0
    assert _predicted(predictions) == 1


async def test_a_stream_stays_in_flight_until_its_command_is_answered():
    predictions = RespinPredictions()
    assert _predicted(predictions) == 0
    answered = _pending()
    predictions.settle_when_answered(STREAM, answered)  # its caller went away
    assert _predicted(predictions) is None, "its group may still write it"
    predictions.settle_when_answered(STREAM, None)
    answered.set_result(Outcome(compose_info(short="p", respin=0)))
    await asyncio.sleep(0)  # done callbacks run on the loop's next turn
    assert _predicted(predictions) == 1


async def test_the_respin_after_the_last_one_seen_unless_a_higher_one_is_asked_for():
    predictions = RespinPredictions()
    assert _predicted(predictions) == 0
    predictions.settle_when_answered(STREAM, _answered(4))  # allocated 4 after all
    assert _predicted(predictions) == 5
    predictions.settle_when_answered(STREAM, _answered(5))
    assert _predicted(predictions, requested=9) == 9


async def test_a_replayed_answer_teaches_nothing():
    predictions = RespinPredictions()
    assert _predicted(predictions) == 0
    predictions.settle_when_answered(STREAM, _answered(7, replayed=True))
    assert _predicted(predictions) == 0


async def test_only_the_most_recently_seen_streams_are_remembered():
    predictions = RespinPredictions(remembered=2)
    for stream in ("a", "b", "c"):
        assert _predicted(predictions, stream) == 0
        predictions.settle_when_answered(stream, _answered(7))
    assert _predicted(predictions, "a") == 0, "forgotten"
    assert _predicted(predictions, "c") == 8, "remembered"
