"""A tag change reads its tag's gates with the tag (ctsd.db.tag_store): on PostgreSQL in
the same statement, on SQLite in a statement of their own. Either way the gates a tag
change obeys are those of its own transaction, also right after it replaced them."""

from __future__ import annotations

import pytest

from ctsd.config import Settings
from ctsd.db.engine import create_write_engine
from ctsd.service import BusCommand, CommandBus
from handlers.commands import CreateTag, ImportCompose, SetTagGates, TagCompose
from handlers.errors import Conflict
from handlers.identity import Roles
from tests.conftest import compose_info
from tests.relaying import ADMIN, command_bus, logged_statements

COMPOSE_ID = "test-1.0-20200526.0"


async def _prepared(bus: CommandBus) -> None:
    await bus.execute(ImportCompose(compose_info()), ADMIN)
    for name in ("installability-passed", "qa-passed", "broken"):
        await bus.execute(CreateTag(name, "d", "https://docs"), ADMIN)


async def test_gates_hold_on_either_backend(database_url):
    async with command_bus(Settings(database_url=database_url)) as bus:
        await _prepared(bus)
        await bus.execute(SetTagGates("qa-passed", ("installability-passed",), ("broken",)),
                          ADMIN)
        with pytest.raises(Conflict, match="requires installability-passed"):
            await bus.execute(TagCompose(COMPOSE_ID, "qa-passed"), ADMIN)
        await bus.execute(TagCompose(COMPOSE_ID, "broken"), ADMIN)
        await bus.execute(TagCompose(COMPOSE_ID, "installability-passed"), ADMIN)
        with pytest.raises(Conflict, match="while it has broken"):
            await bus.execute(TagCompose(COMPOSE_ID, "qa-passed"), ADMIN)


async def test_gates_replaced_in_the_transaction_hold_for_its_next_tag(database_url):
    async with command_bus(Settings(database_url=database_url)) as bus:
        await _prepared(bus)
        # One transaction: the tag is read (with its gates, none) before they change.
        batch = [TagCompose(COMPOSE_ID, "broken"),
                 SetTagGates("qa-passed", ("installability-passed",), ()),
                 TagCompose(COMPOSE_ID, "qa-passed")]
        with pytest.raises(Conflict, match="requires installability-passed"):
            await bus.execute_batch([BusCommand(command, ADMIN, f"m-{n}")
                                     for n, command in enumerate(batch)])


async def test_on_postgresql_the_gates_come_with_the_tag(pg_url):
    settings = Settings(database_url=pg_url)
    engine = create_write_engine(settings)
    statements = logged_statements(engine)
    try:
        bus = CommandBus(engine, Roles(),
                         settings.topic_prefix)
        await _prepared(bus)
        await bus.execute(SetTagGates("qa-passed", ("installability-passed",), ()), ADMIN)
        await bus.execute(TagCompose(COMPOSE_ID, "installability-passed"), ADMIN)
        statements.clear()
        outcome = await bus.execute(TagCompose(COMPOSE_ID, "qa-passed"), ADMIN)
    finally:
        await engine.dispose()
    assert outcome.body["tags"] == ["installability-passed", "qa-passed"]
    reading_gates = [sql for sql in statements if "tag_gates" in sql]
    assert len(reading_gates) == 1 and "tag_permissions" in reading_gates[0]
