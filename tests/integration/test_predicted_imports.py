"""PostgreSQL: HTTP imports whose respin the process predicts (ctsd.respin_predictions)
are allocated by their group's one commit statement (ctsd.db.predicted_imports). What
is stored and answered must be what allocating ahead gave; a wrong prediction, or a kept
answer to claim, undoes the statement and the group runs again the usual way."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import create_engine, text

from ctsd.config import to_driver_url
from ctsd.jsonio import loads
from ctsd.observability import tracing
from ctsd.observability.registry import REGISTRY
from ctsd.service import CommandBus
from handlers.commands import ImportCompose
from handlers.composeinfo import stream_of
from tests.conftest import compose_info, read_database
from tests.integration.consumer_harness import events, history
from tests.integration.test_composes_at_commit import _counter, _write
from tests.integration.test_tag_changes_at_commit import _assert_stored_answers_are_live
from tests.observability.spans import spans
from tests.relaying import ADMIN, grouping_bus

__all__ = ["spans"]  # a fixture this module uses
PREDICTED = "cts_respin_prediction_failed"


async def _one_import(bus: CommandBus) -> None:
    await bus.execute(ImportCompose(compose_info(short="first")), ADMIN)


async def _together(bus: CommandBus, commands: list[Any], **kwargs: Any) -> list[Any]:
    return await asyncio.gather(*(bus.execute(command, ADMIN, **kwargs)
                                  for command in commands), return_exceptions=True)


def _id(result: Any) -> str:
    assert not isinstance(result, BaseException), result
    return str(result.body["payload"]["compose"]["id"])


def _created(url: str, compose_id: str) -> int:
    return sum(1 for event in events(url) if event.topic.endswith("compose-created")
               and event.body["compose"]["compose_info"]["payload"]["compose"]["id"]
               == compose_id)


async def test_new_streams_are_allocated_by_their_groups_one_statement(pg_url):
    async with grouping_bus(pg_url, _one_import) as (bus, statements):
        results = await _together(bus, [ImportCompose(compose_info(short=f"new{n}"))
                                        for n in range(4)])
    ids = sorted(_id(result) for result in results)
    assert ids == [f"new{n}-1.0-20200526.0" for n in range(4)]
    # Nothing but the groups' statements, each allocating its imports itself.
    assert 1 <= len(statements) <= 4, statements
    assert all(PREDICTED in sql and "INSERT INTO composes" in sql for sql in statements)
    # Each counter was bumped by the transaction that inserted its compose.
    same = read_database(pg_url, "SELECT c.compose_id, c.xmin::text = r.xmin::text AS same "
                                 "FROM composes c JOIN respin_counters r ON r.stream = "
                                 "c.release_short || chr(31) || c.release_version "
                                 "|| chr(31) || c.date WHERE c.release_short LIKE 'new%'")
    assert sorted((row.compose_id, row.same) for row in same) == [
        (compose_id, True) for compose_id in ids]
    for result in results:
        compose_id = _id(result)
        assert history(pg_url, compose_id) == ["created"]
        assert _created(pg_url, compose_id) == 1
        (row,) = read_database(pg_url, "SELECT rendered FROM composes WHERE compose_id = :id",
                               id=compose_id)
        assert loads(row.rendered)["compose_info"] == result.body
    await _assert_stored_answers_are_live(pg_url)


async def test_a_wrong_prediction_runs_the_group_again_with_allocated_respins(pg_url):
    await _wrong_prediction(pg_url)


async def test_a_wrong_prediction_is_told_apart_on_sqlalchemys_path_too(pg_url, spans):
    # Traced, the statement goes through SQLAlchemy (ctsd.db.driver_rows), whose error
    # wraps the driver's differently.
    assert tracing.enabled()
    await _wrong_prediction(pg_url)


def _predictions(outcome: str) -> float:
    """cts_respin_predictions_total{outcome} in this process's registry so far."""
    value = REGISTRY.get_sample_value("cts_respin_predictions_total", {"outcome": outcome})
    return value or 0.0


async def test_predictions_are_counted_held_or_undone(pg_url):
    held, undone = _predictions("held"), _predictions("undone")
    # The bus's first import (held); then a group of two (undone, then allocated).
    await _wrong_prediction(pg_url)
    assert (_predictions("held") - held, _predictions("undone") - undone) == (1, 2)


async def _wrong_prediction(pg_url: str) -> None:
    async with grouping_bus(pg_url, _one_import) as (bus, statements):
        # Another process took respin 0 of this stream; this one has not seen it.
        _write(pg_url, "INSERT INTO respin_counters (stream, last_respin) VALUES (:s, 0)",
               s=stream_of("taken", "1.0", "20200526"))
        results = await _together(bus, [ImportCompose(compose_info(short="taken")),
                                        ImportCompose(compose_info(short="fine"))])
    assert sorted(_id(result) for result in results) == [
        "fine-1.0-20200526.0", "taken-1.0-20200526.1"]
    assert PREDICTED in statements[0], "the first try predicted"
    assert not any(PREDICTED in sql for sql in statements[1:]), "the second allocated"
    for compose_id in ("fine-1.0-20200526.0", "taken-1.0-20200526.1"):
        assert history(pg_url, compose_id) == ["created"], "once each"
        assert _created(pg_url, compose_id) == 1
    assert (_counter(pg_url, "taken"), _counter(pg_url, "fine")) == (1, 0), "no gap"
    await _assert_stored_answers_are_live(pg_url)


async def test_a_kept_answer_is_claimed_instead_of_a_predicted_respin(pg_url):
    async with grouping_bus(pg_url, _one_import) as (bus, statements):
        (first,) = await _together(bus, [ImportCompose(compose_info(short="kept"))])
        # Its caller went away; the answer is kept for the identical retry.
        await bus.keep_lost_answer(ADMIN, "body-hash", first.body)
        statements.clear()
        (retry,) = await _together(bus, [ImportCompose(compose_info(short="kept"))],
                                   lost_answer_of="body-hash")
    assert retry.replayed and retry.body == first.body
    assert any(PREDICTED in sql for sql in statements), "the retry's stream was predicted"
    composes = read_database(pg_url, "SELECT compose_id FROM composes "
                                     "WHERE release_short = 'kept'")
    assert [row.compose_id for row in composes] == ["kept-1.0-20200526.0"]
    assert _counter(pg_url, "kept") == 0
    assert not read_database(pg_url, "SELECT key FROM idempotency_keys"), "claimed once"


async def test_the_next_respin_of_a_stream_this_process_saw_is_predicted(pg_url):
    async with grouping_bus(pg_url, _one_import) as (bus, statements):
        await bus.execute(ImportCompose(compose_info(short="again")), ADMIN)
        statements.clear()
        second = await bus.execute(ImportCompose(compose_info(short="again")), ADMIN)
    assert _id(second) == "again-1.0-20200526.1"
    assert len(statements) == 1 and PREDICTED in statements[0], statements
    assert history(pg_url, "again-1.0-20200526.1") == ["created"]


async def _until(condition: Any, what: str) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"never happened: {what}")


async def test_a_group_run_again_keeps_the_respins_allocated_on_arrival(pg_url):
    """Imports allocated on arrival that share a group with a wrong prediction get the
    respins allocated for them when the group runs again: given back and allocated
    anew, they would leave a gap, since another process took the stream's next one."""
    url = "https://example.com/compose"
    async with grouping_bus(pg_url, _one_import) as (bus, _):
        # Stream r's respin 0 is taken elsewhere: the prediction for it will be wrong.
        _write(pg_url, "INSERT INTO respin_counters (stream, last_respin) VALUES (:s, 0)",
               s=stream_of("r", "1.0", "20200526"))
        holder = create_engine(to_driver_url(pg_url, asynchronous=False))
        with holder.connect() as held:
            # A transaction elsewhere creating stream p's counter: the first group (p
            # alone) waits for it, and the imports below queue behind that group.
            held.execute(text("INSERT INTO respin_counters VALUES (:s, 0)"),
                         {"s": stream_of("p", "1.0", "20200526")})
            first = asyncio.ensure_future(
                bus.execute(ImportCompose(compose_info(short="p")), ADMIN))
            await _until(lambda: read_database(
                pg_url, "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock'"),
                "the first group waits")
            # Allocated on arrival (a URL: not predicted), respins 0 and 1; then r.
            queued = [asyncio.ensure_future(bus.execute(ImportCompose(
                compose_info(short="q"), compose_url=url), ADMIN)) for _ in range(2)]
            await _until(lambda: _counter(pg_url, "q") == 1, "both allocated")
            queued.append(asyncio.ensure_future(
                bus.execute(ImportCompose(compose_info(short="r")), ADMIN)))
            await asyncio.sleep(0.1)  # r joins the queue
            _write(pg_url, "UPDATE respin_counters SET last_respin = 2 WHERE stream = :s",
                   s=stream_of("q", "1.0", "20200526"))  # another process took q's next
            held.commit()
        holder.dispose()
        results = await asyncio.gather(first, *queued)
    assert _id(results[0]) == "p-1.0-20200526.1"
    assert sorted(_id(result) for result in results[1:3]) == [
        "q-1.0-20200526.0", "q-1.0-20200526.1"], "the respins allocated on arrival"
    assert _id(results[3]) == "r-1.0-20200526.1"
    assert _counter(pg_url, "q") == 2
    for result in results:
        assert history(pg_url, _id(result)) == ["created"], "once each"
