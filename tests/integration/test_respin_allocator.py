"""The separate respin allocator (PostgreSQL) runs its statement on asyncpg's pool
(ctsd.db.driver_statements) and falls back to SQLAlchemy on any failure there: both
paths hand out the same counter, and both claim a kept answer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest

from ctsd.config import Settings
from ctsd.db import kept_answers
from ctsd.db.engine import create_allocator_engine, create_engine
from ctsd.db.kept_answers import KeptAnswerClaim
from ctsd.db.respin_batches import WantedRespin
from ctsd.db.respins import Allocation, SeparateTransactionRespins


@pytest.fixture
async def allocator(pg_url: str) -> AsyncIterator[tuple[SeparateTransactionRespins, Any]]:
    """The separate allocator, and an engine of the main pool to keep answers with."""
    settings = Settings(database_url=pg_url)
    engine = create_allocator_engine(settings)
    assert engine is not None
    respins = SeparateTransactionRespins(engine)
    main = create_engine(settings)
    try:
        yield respins, main
    finally:
        await respins.dispose()
        await main.dispose()


async def test_both_paths_share_the_counter_and_claim_kept_answers(allocator):
    respins, main = allocator
    stream = "pgr\x1f1.0\x1f20250101"
    first = await respins.allocate(None, stream, 0, None)  # type: ignore[arg-type]
    assert first.respin == 0 and respins._pool is not None, "ran on the driver"
    await respins._pool.close()  # every later driver call fails
    second = await respins.allocate(None, stream, 0, None)  # type: ignore[arg-type]
    assert second.respin == 1, "the SQLAlchemy path continues the same counter"

    now = datetime.now(UTC)
    claim = KeptAnswerClaim("alice", "h1")
    async with main.begin() as conn:
        await kept_answers.keep(conn, "alice", "h1", {"answer": 1}, now)
    kept = await respins.allocate(None, stream, 0,  # type: ignore[arg-type]
                                  claim.parameters(now))
    assert kept.respin is None and kept.kept_answer == {"answer": 1}
    after = await respins.allocate(None, stream, 0,  # type: ignore[arg-type]
                                   claim.parameters(now))
    assert after.respin == 2, "claimed once; then a respin as usual"


async def test_the_driver_path_claims_kept_answers_too(allocator):
    respins, main = allocator
    now = datetime.now(UTC)
    async with main.begin() as conn:
        await kept_answers.keep(conn, "bob", "h2", ["kept"], now)
    claim = KeptAnswerClaim("bob", "h2").parameters(now)
    kept = await respins.allocate(None, "s", 3, claim)  # type: ignore[arg-type]
    assert kept.kept_answer == ["kept"] and respins._pool is not None
    fresh = await respins.allocate(None, "s", 3, claim)  # type: ignore[arg-type]
    assert fresh.respin == 3 and fresh.kept_answer is None


async def test_a_batch_allocates_as_one_allocation_each_would(allocator):
    respins, main = allocator
    now = datetime.now(UTC)
    async with main.begin() as conn:
        await kept_answers.keep(conn, "carol", "h3", {"kept": 3}, now)
    for stream, requested in (("b-old", 0), ("b-old", 0), ("b-high", 0)):
        await respins.allocate(None, stream, requested, None)
    claim = KeptAnswerClaim("carol", "h3").parameters(now)
    other = KeptAnswerClaim("carol", "other").parameters(now)
    got = await respins.allocate_batch([
        WantedRespin("b-old", 0),            # last 1: next 2
        WantedRespin("b-high", 5),           # asks above the last: 5
        WantedRespin("b-new", 0, other),     # new stream, nothing kept: 0
        WantedRespin("b-kept", 0, claim),    # its kept answer instead
    ])
    assert all(isinstance(result, Allocation) for result in got), got
    allocations = [result for result in got if isinstance(result, Allocation)]
    assert [a.respin for a in allocations] == [2, 5, 0, None]
    assert allocations[3].kept_answer == {"kept": 3}
    pks = [a.pk for a in allocations[:3]]
    assert all(pk is not None for pk in pks) and len(set(pks)) == 3
    again = await respins.allocate(None, "b-kept", 0, claim)
    assert again.respin == 0, "the kept answer was claimed once; no counter was bumped"


async def test_a_failing_batch_allocates_each_the_usual_way(allocator):
    respins, _ = allocator
    # One stream twice: an upsert cannot change a row twice, so the statement fails
    # (the batcher never sends that); each is then allocated on its own.
    got = await respins.allocate_batch([WantedRespin("twice", 0), WantedRespin("twice", 0)])
    assert [result.respin for result in got if isinstance(result, Allocation)] == [0, 1]
