"""Shared fixtures: throw-away PostgreSQL databases, SQLite files, the app under test.

Tests need the real PostgreSQL of this machine. Outside CI a missing server skips them;
in CI (CI=true) it fails them, so a broken environment can never pass as green.
"""

from __future__ import annotations

import copy
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import create_engine, text

from ctsd.api.app import create_app
from ctsd.config import Principals, Settings, to_driver_url
from ctsd.db import migrate
from tests.event_checks import events_validated_when_raised  # noqa: F401  (autouse)

PG_ADMIN_DSN = os.environ.get(
    "CTS_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
PG_URL_BASE = os.environ.get("CTS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432")
IN_CI = os.environ.get("CI", "").lower() == "true"


def service_missing(what: str, exc: Exception) -> None:
    message = f"{what} is not reachable: {exc}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


def _admin_connection() -> Any:
    try:
        conn = psycopg2.connect(PG_ADMIN_DSN, connect_timeout=3)
    except psycopg2.OperationalError as exc:
        service_missing("PostgreSQL", exc)
    conn.autocommit = True
    return conn


def create_pg_database(template: str | None = None) -> str:
    name = f"cts_test_{uuid.uuid4().hex[:12]}"
    conn = _admin_connection()
    with conn.cursor() as cur:
        suffix = f' TEMPLATE "{template}"' if template else ""
        cur.execute(f'CREATE DATABASE "{name}"{suffix}')
    conn.close()
    return name


MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "ctsd" / "db" / "migrations" / "versions"


def migrated_template() -> str:
    """A migrated database to copy per test: copying is ~10x faster than migrating.

    Its name carries a hash of the migration files, so a changed migration gets a new
    template; an advisory lock keeps parallel test runs from building it twice.
    """
    digest = hashlib.sha1()
    for path in sorted(MIGRATIONS_DIR.glob("*.py")):
        digest.update(path.read_bytes())
    name = f"cts_template_{digest.hexdigest()[:12]}"
    conn = _admin_connection()
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(4242)")
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if cur.fetchone() is None:
            cur.execute(f'CREATE DATABASE "{name}"')
            migrate.upgrade(Settings(database_url=f"{PG_URL_BASE}/{name}"))
        cur.execute("SELECT pg_advisory_unlock(4242)")
    conn.close()
    return name


@pytest.fixture(scope="session")
def pg_template() -> str:
    return migrated_template()


def drop_pg_database(name: str) -> None:
    conn = _admin_connection()
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@pytest.fixture
def pg_database_url() -> Iterator[str]:
    """An empty PostgreSQL database (no schema) that is dropped afterwards."""
    name = create_pg_database()
    yield f"{PG_URL_BASE}/{name}"
    drop_pg_database(name)


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database on each backend; PostgreSQL is the production path."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cts.sqlite'}"
        migrate.upgrade(Settings(database_url=url))
        yield url
        return
    yield from _migrated_pg_database(request.getfixturevalue("pg_template"))


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """A migrated PostgreSQL database, for tests that only make sense there."""
    yield from _migrated_pg_database(pg_template)


def _migrated_pg_database(template: str) -> Iterator[str]:
    name = create_pg_database(template)
    yield f"{PG_URL_BASE}/{name}"
    drop_pg_database(name)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url, per_page_max=100)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> AsyncIterator[TestClient]:
    yield await aiohttp_client(create_app(settings))


@pytest.fixture
async def pg_client(aiohttp_client: Any, pg_url: str) -> AsyncIterator[TestClient]:
    yield await aiohttp_client(create_app(Settings(database_url=pg_url)))


def read_database(url: str, statement: Any, **params: Any) -> list[Any]:
    """Rows of one read (SQL text or a SQLAlchemy select) on a test database, for checks
    that look behind the API."""
    engine = create_engine(to_driver_url(url, asynchronous=False))
    try:
        with engine.connect() as conn:
            query = text(statement) if isinstance(statement, str) else statement
            return list(conn.execute(query, params))
    finally:
        engine.dispose()


def restricted_settings(database_url: str, **kwargs: Any) -> Settings:
    """Settings with an empty admin/builder list, for permission tests."""
    return Settings(database_url=database_url, admins=Principals(), **kwargs)


COMPOSE_INFO: dict[str, Any] = {
    "header": {"type": "productmd.composeinfo", "version": "1.2"},
    "payload": {
        "compose": {"date": "20200526", "id": "test-1.0-20200526.0", "respin": 0,
                    "type": "production"},
        "release": {"internal": False, "name": "Test", "short": "test", "type": "ga",
                    "version": "1.0"},
        "variants": {},
    },
}


def compose_info(short: str = "test", version: str = "1.0", date: str = "20200526",
                 type_: str = "production", respin: int = 0, **compose: Any) -> dict[str, Any]:
    """A valid productmd ComposeInfo body like the one Pungi sends."""
    info = copy.deepcopy(COMPOSE_INFO)
    info["payload"]["release"].update(short=short, version=version, name=short.title())
    info["payload"]["compose"].update(date=date, type=type_, respin=respin, **compose)
    return info


async def import_compose(client: TestClient, **kwargs: Any) -> dict[str, Any]:
    body = {"compose_info": compose_info(**{k: v for k, v in kwargs.items()
                                            if k not in ("parent_compose_ids", "respin_of",
                                                         "compose_url")})}
    body.update({k: v for k, v in kwargs.items()
                 if k in ("parent_compose_ids", "respin_of", "compose_url")})
    response = await client.post("/api/1/composes/", json=body)
    assert response.status == 200, await response.text()
    return await response.json()


async def create_tag(client: TestClient, name: str) -> dict[str, Any]:
    response = await client.post("/api/1/tags/", json={
        "name": name, "description": f"{name} description", "documentation": "https://docs"})
    assert response.status == 200, await response.text()
    return await response.json()
