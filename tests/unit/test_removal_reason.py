"""The removal-reason rule lives in the handlers: a removal someone decides
(RemoveCompose, what POST .../removal sends) needs a reason; a build service's report
that the data is gone (MarkRemoved: ODCS, cts.request.mark_removed) does not."""

from __future__ import annotations

import pytest

from handlers.commands import ImportCompose, MarkRemoved, RemoveCompose
from handlers.errors import InvalidInput
from tests.conftest import compose_info
from tests.unit.conftest import ADMIN, ROLES
from tests.unit.fakes import FakeDatabase, execute
from tests.unit.test_lifecycle import COMPOSE_ID, actions, run


@pytest.fixture
async def db_with_compose(db: FakeDatabase) -> FakeDatabase:
    await execute(db, ImportCompose(compose_info()), ADMIN, ROLES)
    return db


@pytest.mark.parametrize("reason", [None, "", "   ", 3])
async def test_a_decided_removal_without_a_reason_is_refused(db_with_compose, reason):
    with pytest.raises(InvalidInput, match='"reason" is required'):
        await run(db_with_compose, RemoveCompose(COMPOSE_ID, reason))
    assert actions(db_with_compose) == ["created"]


async def test_a_decided_removal_records_its_reason(db_with_compose):
    answer = await run(db_with_compose, RemoveCompose(COMPOSE_ID, "superseded"))
    assert (answer["removed"], answer["removed_reason"]) == (True, "superseded")
    assert db_with_compose.changes_of(COMPOSE_ID)[-1].message == "Removed: superseded"


async def test_a_reported_removal_needs_no_reason(db_with_compose):
    answer = await run(db_with_compose, MarkRemoved(COMPOSE_ID))
    assert (answer["removed"], answer["removed_reason"]) == (True, None)
    assert db_with_compose.changes_of(COMPOSE_ID)[-1].message == "Removed"
