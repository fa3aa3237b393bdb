"""Issue #15: driver errors are mapped once (ctsd.db.errors): the database away → 503
JSON with Retry-After on reads and writes, HTTP and CLI; a value it refuses → 400."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from sqlalchemy import text

from ctsd.api.app import create_app
from ctsd.config import Settings
from ctsd.db.compose_statements import LOCK_COMPOSE
from ctsd.db.driver_rows import rows_of
from ctsd.db.engine import create_engine, create_write_engine
from ctsd.db.errors import is_data_error, is_outage
from tests.conftest import compose_info


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


REQUESTS = [
    ("GET", "/api/1/composes/", None),
    ("GET", "/api/1/composes/x-1-20200101.0", None),
    ("GET", "/api/1/tags/", None),
    ("GET", "/api/1/tags/qa", None),
    ("GET", "/api/1/promotions/", None),
    ("GET", "/api/1/events/", None),
    ("GET", "/api/1/composes/latest/?release_short=x", None),
    ("POST", "/api/1/composes/", {"compose_info": compose_info()}),
    ("POST", "/api/1/tags/", {"name": "qa", "description": "d", "documentation": "https://d"}),
    ("PATCH", "/api/1/composes/x-1-20200101.0", {"action": "tag", "tag": "qa"}),
]


@pytest.mark.parametrize(("method", "path", "body"), REQUESTS)
async def test_database_away_is_503_json_with_retry_after(aiohttp_client, method, path, body):
    url = f"postgresql://postgres@127.0.0.1:{closed_port()}/cts"
    client = await aiohttp_client(create_app(Settings(database_url=url)))
    response = await client.request(method, path, json=body)
    text_body = await response.text()
    assert response.status == 503, text_body
    assert response.content_type == "application/json"
    assert int(response.headers["Retry-After"]) > 0
    error = json.loads(text_body)
    assert error["status"] == 503 and error["error"] == "Service Unavailable"
    assert "unavailable" in error["message"]


def test_cli_reports_an_outage_without_a_traceback(tmp_path):
    env = {**os.environ, "CTSD_DATABASE_URL":
           f"postgresql://postgres@127.0.0.1:{closed_port()}/cts"}
    done = subprocess.run([sys.executable, "-m", "ctsd.cli", "tag", "create", "qa",
                           "--description", "d", "--documentation", "https://d"],
                          capture_output=True, text=True, env=env, timeout=60, check=False)
    assert done.returncode == 75, (done.returncode, done.stderr)
    assert "unavailable" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("sql", "params"), [
    ("SELECT CAST(:v AS integer)", {"v": "²"}),
    ("SELECT CAST(:v AS integer)", {"v": "2147483648"}),
    ("SELECT CAST(:v AS text)", {"v": "\ud800"}),
    ("SELECT CAST(:v AS text)", {"v": "a\x00b"}),
    ("SELECT 1 / CAST(:v AS integer)", {"v": "0"}),
])
async def test_real_driver_data_errors_are_data_errors(pg_url, sql, params):
    engine = create_engine(Settings(database_url=pg_url))
    try:
        with pytest.raises(Exception) as raised:
            async with engine.connect() as conn:
                await conn.execute(text(sql), params)
    finally:
        await engine.dispose()
    assert is_data_error(raised.value), repr(raised.value)
    assert not is_outage(raised.value)


async def test_a_refused_connection_is_an_outage():
    engine = create_engine(Settings(
        database_url=f"postgresql://postgres@127.0.0.1:{closed_port()}/cts"))
    try:
        with pytest.raises(Exception) as raised:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()
    assert is_outage(raised.value) and not is_data_error(raised.value)


async def test_a_closed_connection_met_on_the_driver_is_an_outage(pg_url):
    """A statement sent on the driver (ctsd.db.driver_rows) that finds its connection
    closed (the database went away while it sat in the pool) raises the asyncpg
    adapter's own error: still an outage (503), not a bug (500)."""
    engine = create_write_engine(Settings(database_url=pg_url))
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            await raw.driver_connection.close()
            await conn.begin()
            with pytest.raises(Exception) as raised:
                await rows_of(conn, LOCK_COMPOSE, {"compose_id": "x-1-20200101.0"})
    finally:
        await engine.dispose()
    assert is_outage(raised.value) and not is_data_error(raised.value), repr(raised.value)


async def test_logged_database_errors_carry_no_parameters(pg_url):
    """A 500 logs the statement's error; the caller's values must not be in it."""
    engine = create_engine(Settings(database_url=pg_url))
    try:
        with pytest.raises(Exception) as raised:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT * FROM no_such_table WHERE x = :v"),
                                   {"v": "secret-token-value"})
    finally:
        await engine.dispose()
    assert "no_such_table" in str(raised.value)
    assert "secret-token-value" not in str(raised.value)
