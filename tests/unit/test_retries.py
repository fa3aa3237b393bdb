"""The write path's retry policy (ctsd.db.retries): how often a transaction runs."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.exc import DBAPIError

from ctsd.db import retries


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _database_error(sqlstate: str) -> DBAPIError:
    # The shape SQLAlchemy gives a driver's error: what ctsd.db.failures reads.
    return DBAPIError("UPDATE ...", {}, _Orig(sqlstate))


class _Flaky:
    """Fails with `error` `failures` times, then answers "done"."""

    def __init__(self, failures: int, error: BaseException) -> None:
        self.failures, self.error, self.runs = failures, error, 0

    async def __call__(self) -> str:
        self.runs += 1
        if self.runs <= self.failures:
            raise self.error
        return "done"


def test_a_serialization_failure_runs_again_until_it_passes():
    flaky = _Flaky(3, _database_error("40001"))
    assert asyncio.run(retries.with_retries(flaky)) == "done"
    assert flaky.runs == 4


def test_no_more_than_four_runs_in_all():
    flaky = _Flaky(10, _database_error("40P01"))
    with pytest.raises(DBAPIError):
        asyncio.run(retries.with_retries(flaky))
    assert flaky.runs == retries.ATTEMPTS == 4


def test_another_error_is_raised_at_once():
    flaky = _Flaky(1, _database_error("22001"))
    with pytest.raises(DBAPIError):
        asyncio.run(retries.with_retries(flaky))
    assert flaky.runs == 1
    value_error = _Flaky(1, ValueError("bad"))
    with pytest.raises(ValueError, match="bad"):
        asyncio.run(retries.with_retries(value_error))
    assert value_error.runs == 1

