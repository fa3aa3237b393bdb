"""`ctsd serve` with no configuration at all: a SQLite file in the working directory."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import pytest

from tests.conftest import compose_info
from tests.e2e.conftest import ServerFactory
from tests.e2e.test_collide import DATE, assert_gap_free, import_at_once

pytestmark = pytest.mark.e2e


def stored_compose_ids(database: Path) -> list[str]:
    with sqlite3.connect(database) as conn:
        return [row[0] for row in conn.execute("SELECT compose_id FROM composes ORDER BY pk")]


async def test_no_configuration_serves_from_a_sqlite_file_in_the_working_directory(
        http, start_ctsd: ServerFactory) -> None:
    (server,) = start_ctsd()  # no CTSD_* variables, no ctsd.toml anywhere it looks
    database = server.workdir / "ctsd.sqlite"
    assert database.is_file(), sorted(p.name for p in server.workdir.iterdir())
    with sqlite3.connect(database) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert {"alembic_version", "composes", "respin_counters", "outbox"} <= tables

    async with http.get(f"{server.base_url}/api/1/about/") as response:
        about = await response.json()
    assert about["auth_backend"] == "noauth"

    short = f"lite{uuid.uuid4().hex[:8]}"
    async with http.post(f"{server.base_url}/api/1/composes/", json={
        "compose_info": compose_info(short=short), "parent_compose_ids": None,
        "respin_of": None,
    }) as response:
        assert response.status == 200, (await response.text()) + server.stderr()
        created = await response.json()
    assert created["payload"]["compose"]["id"] == f"{short}-1.0-20200526.0"
    assert stored_compose_ids(database) == [f"{short}-1.0-20200526.0"]


async def test_sqlite_default_keeps_the_compose_id_promise_under_concurrency(
        http, start_ctsd: ServerFactory) -> None:
    (server,) = start_ctsd()
    short = f"lite{uuid.uuid4().hex[:8]}"
    body = {"compose_info": compose_info(short=short, date=DATE, respin=1)}
    count = 30
    answers, seconds = await import_at_once(
        http, [f"{server.base_url}/api/1/composes/"] * count, body)
    print(f"\n{count} colliding imports on SQLite: {seconds:.2f} s")
    assert_gap_free(answers, short, count, [server])
    assert len(stored_compose_ids(server.workdir / "ctsd.sqlite")) == count
