"""The in-memory unit of work keeps to the ports and to the SQL stores' rules."""

from __future__ import annotations

import inspect

import pytest

from ctsd.db.stores import SqlComposeStore
from ctsd.db.tag_store import SqlTagStore
from handlers.ports import ComposeStore, TagStore, UnitOfWork
from tests.unit.fakes import (
    FakeComposeStore,
    FakeDatabase,
    FakeIntegrityError,
    FakeTagStore,
    FakeUnitOfWork,
)


def port_methods(protocol: type) -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(member)
        for name, member in vars(protocol).items()
        if callable(member) and not name.startswith("_")
    }


@pytest.mark.parametrize(("port", "implementations"), [
    (ComposeStore, (FakeComposeStore, SqlComposeStore)),
    (TagStore, (FakeTagStore, SqlTagStore)),
    (UnitOfWork, (FakeUnitOfWork,)),
])
def test_fake_and_sql_stores_implement_every_port_method(port, implementations):
    for name, signature in port_methods(port).items():
        for implementation in implementations:
            method = getattr(implementation, name, None)
            assert method is not None, f"{implementation.__name__} lacks {name}"
            assert list(inspect.signature(method).parameters) == list(signature.parameters), (
                f"{implementation.__name__}.{name}"
            )
            assert inspect.iscoroutinefunction(method) == inspect.iscoroutinefunction(
                getattr(port, name)), f"{implementation.__name__}.{name}"


async def test_next_respin_rule_matches_the_sql_upsert():
    store = FakeComposeStore(FakeDatabase())
    handed_out = [await store.next_respin("a", requested) for requested in (0, 0, 4, 4, 1)]
    assert handed_out == [0, 1, 4, 5, 6]
    assert await store.next_respin("b", 3) == 3


async def test_a_unit_of_work_that_does_not_commit_changes_nothing():
    db = FakeDatabase()
    uow = FakeUnitOfWork(db)
    await uow.composes.next_respin("a", 0)
    await uow.tags.create("nightly", "d", "doc")
    await uow.emit("compose-created", {"event": "compose-created"}, None)
    assert db == FakeDatabase()
    uow.commit()
    assert db.respin_counters == {"a": 0}
    assert [t.name for t in db.tags.values()] == ["nightly"]
    assert len(db.outbox) == 1


async def test_constraints_of_the_schema_are_enforced():
    uow = FakeUnitOfWork(FakeDatabase())
    await uow.tags.create("nightly", "d", "doc")
    with pytest.raises(FakeIntegrityError, match="duplicate"):
        await uow.tags.create("nightly", "d", "doc")
    with pytest.raises(FakeIntegrityError, match="too long"):
        await uow.tags.create("n" * 256, "d", "doc")
    with pytest.raises(FakeIntegrityError, match="does not exist"):
        await uow.composes.add_parents(1, [2])
