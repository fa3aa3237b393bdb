"""Build status and removal handlers, on the in-memory unit of work (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest

from handlers import HANDLERS
from handlers.commands import ImportCompose, MarkRemoved, RecordBuildStatus
from handlers.errors import Forbidden, InvalidInput, NotFound
from handlers.identity import Actor
from tests.conftest import compose_info
from tests.unit.conftest import ADMIN, ALICE, BUILDER, ROLES
from tests.unit.fakes import FakeComposeStore, FakeDatabase, FakeUnitOfWork, execute

COMPOSE_ID = "test-1.0-20200526.0"


class LifecycleComposeStore(FakeComposeStore):
    """The fake compose store plus the lifecycle columns, kept in the compose's columns
    so that they commit and roll back with the rest of the fake database."""

    async def set_build_status(self, compose_pk: int, status: str) -> bool:
        columns = self._db.composes[compose_pk].columns
        if columns.get("build_status") == status:
            return False
        columns["build_status"] = status
        return True

    async def mark_removed(self, compose_pk: int, reason: str | None) -> bool:
        columns = self._db.composes[compose_pk].columns
        if columns.get("removed_at") is not None:
            return False
        columns.update(removed_at=self._db.now, removed_reason=reason)
        return True

    async def representation(self, compose_pk: int) -> dict[str, Any]:
        columns = self._db.composes[compose_pk].columns
        return {**await super().representation(compose_pk),
                "build_status": columns.get("build_status"),
                "removed": columns.get("removed_at") is not None,
                "removed_reason": columns.get("removed_reason")}


class LifecycleUnitOfWork(FakeUnitOfWork):
    def __init__(self, db: FakeDatabase) -> None:
        super().__init__(db)
        self.composes = LifecycleComposeStore(self._db)


async def run(db: FakeDatabase, command: Any, actor: Actor = BUILDER) -> Any:
    uow = LifecycleUnitOfWork(db)
    result = await HANDLERS[type(command)](command, uow, actor, ROLES)
    uow.commit()
    return result


@pytest.fixture
async def db_with_compose(db: FakeDatabase) -> FakeDatabase:
    await execute(db, ImportCompose(compose_info()), ADMIN, ROLES)
    return db


def actions(db: FakeDatabase) -> list[str]:
    return [change.action for change in db.changes_of(COMPOSE_ID)]


async def test_status_is_stored_with_history_and_one_event(db_with_compose):
    db = db_with_compose
    answer = await run(db, RecordBuildStatus(COMPOSE_ID, "STARTED"))
    assert answer["build_status"] == "STARTED"
    assert actions(db) == ["created", "build_status"]
    assert [e.event for e in db.outbox] == ["compose-created", "compose-changed"]
    assert db.outbox[-1].body["compose"]["build_status"] == "STARTED"
    assert db.outbox[-1].body["agent"] == "pungi"


async def test_same_status_again_changes_nothing(db_with_compose):
    db = db_with_compose
    await run(db, RecordBuildStatus(COMPOSE_ID, "FINISHED"))
    await run(db, RecordBuildStatus(COMPOSE_ID, "FINISHED"))
    assert actions(db) == ["created", "build_status"]
    assert len(db.outbox) == 2


async def test_url_location_sets_compose_url_in_the_same_single_event(db_with_compose):
    db = db_with_compose
    url = "https://kojipkgs.example.com/compose/test-1.0-20200526.0"
    answer = await run(db, RecordBuildStatus(COMPOSE_ID, "FINISHED", url))
    assert answer["compose_url"] == url
    assert actions(db) == ["created", "build_status", "url_changed"]
    changed = [e for e in db.outbox if e.event == "compose-changed"]
    assert len(changed) == 1
    assert changed[0].body["compose"]["compose_url"] == url
    assert changed[0].body["compose"]["build_status"] == "FINISHED"


async def test_filesystem_location_leaves_the_url_alone(db_with_compose):
    db = db_with_compose
    answer = await run(db, RecordBuildStatus(COMPOSE_ID, "DOOMED", "/mnt/koji/compose/x"))
    assert answer["compose_url"] is None
    assert answer["build_status"] == "DOOMED"


async def test_malformed_url_location_is_refused(db_with_compose):
    with pytest.raises(InvalidInput):
        await run(db_with_compose, RecordBuildStatus(COMPOSE_ID, "FINISHED", "https://"))


async def test_unknown_status_is_refused_and_nothing_changes(db_with_compose):
    db = db_with_compose
    with pytest.raises(InvalidInput, match="FINISHED_INCOMPLETE"):
        await run(db, RecordBuildStatus(COMPOSE_ID, "ALMOST"))
    assert actions(db) == ["created"]


async def test_callers_who_cannot_set_urls_cannot_record_status_or_removal(db_with_compose):
    with pytest.raises(Forbidden):
        await run(db_with_compose, RecordBuildStatus(COMPOSE_ID, "STARTED"), ALICE)
    with pytest.raises(Forbidden):
        await run(db_with_compose, MarkRemoved(COMPOSE_ID, "gone"), ALICE)


async def test_unknown_compose_is_not_found(db_with_compose):
    with pytest.raises(NotFound):
        await run(db_with_compose, RecordBuildStatus("nope-1.0-20200101.0", "STARTED"))
    with pytest.raises(NotFound):
        await run(db_with_compose, MarkRemoved("nope-1.0-20200101.0"))


async def test_mark_removed_once_then_no_op(db_with_compose):
    db = db_with_compose
    answer = await run(db, MarkRemoved(COMPOSE_ID, "Compose is expired."))
    assert answer["removed"] is True
    assert answer["removed_reason"] == "Compose is expired."
    again = await run(db, MarkRemoved(COMPOSE_ID, "another reason"))
    assert again["removed_reason"] == "Compose is expired."
    assert actions(db) == ["created", "removed"]
    assert [e.event for e in db.outbox] == ["compose-created", "compose-removed"]
    assert db.changes_of(COMPOSE_ID)[-1].message == "Removed: Compose is expired."


async def test_over_long_reason_is_refused(db_with_compose):
    with pytest.raises(InvalidInput):
        await run(db_with_compose, MarkRemoved(COMPOSE_ID, "x" * 5000))
