"""Fixtures that run `ctsd serve` as a real process and reach it over real HTTP.

Each server runs in its own empty working directory with a scrubbed environment (no
CTSD_* variables from the caller), so only what a test passes in configures it. Its
stderr goes to a file there: a server that does not come up fails the test with it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import create_engine, text

from ctsd.config_values import to_driver_url
from tests.conftest import read_database

READY_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0
HOST = "127.0.0.1"
LAUNCH_ATTEMPTS = 3
PORT_TAKEN = "address already in use"


@dataclass
class Server:
    """One `ctsd serve` process and where to reach it."""

    process: subprocess.Popen[bytes]
    base_url: str
    workdir: Path
    stderr_path: Path

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def server_environment(**ctsd_vars: str) -> dict[str, str]:
    """The caller's environment without any CTSD_* variable, plus `ctsd_vars`."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("CTSD_")}
    env.update(ctsd_vars)
    return env


def launch(workdir: Path, env: dict[str, str]) -> Server:
    """Start `ctsd serve` on a free local port in `workdir`; does not wait for it."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    stderr_path = workdir / f"ctsd-{port}.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "ctsd.cli", "serve", "--host", HOST, "--port", str(port)],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
        )
    return Server(process, f"http://{HOST}:{port}", workdir, stderr_path)


def wait_until_ready(server: Server, timeout: float = READY_TIMEOUT) -> bool:
    """Wait until this process answers GET /api/1/about/ (True).

    False if it exited because its port was taken meanwhile (free_port() can only pick
    a port, not hold it); any other failure fails the test with the server's stderr.
    Being ready also needs this process's own "Running on" line, so that another
    program that happened to grab the port is never mistaken for it.
    """
    deadline = time.monotonic() + timeout
    url = f"{server.base_url}/api/1/about/"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            if PORT_TAKEN in server.stderr().lower():
                return False
            pytest.fail(f"ctsd serve exited with {server.process.returncode} before "
                        f"answering:\n{server.stderr()}")
        if f"Running on {server.base_url}" in server.stderr():
            try:
                with urllib.request.urlopen(url, timeout=1) as response:  # only 127.0.0.1
                    if response.status == 200:
                        return True
            except (OSError, urllib.error.URLError):
                pass
        time.sleep(0.1)
    stop(server)
    pytest.fail(f"ctsd serve did not answer {url} within {timeout} s:\n{server.stderr()}")


def terminate(process: subprocess.Popen[Any]) -> int:
    """SIGTERM, then SIGKILL if it lingers; return the exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(STOP_TIMEOUT)
    return process.returncode


def stop(server: Server) -> int:
    return terminate(server.process)


class ServerGroup:
    """Starts servers under one directory and stops them all at the end of a fixture."""

    def __init__(self, base: Path) -> None:
        self._base = base
        self.started: list[Server] = []

    def start(self, count: int = 1, **ctsd_vars: str) -> list[Server]:
        """Start `count` servers at once with these CTSD_* variables; wait for all.

        Starting them together also exercises concurrent start-up migrations on one
        database.
        """
        env = server_environment(**ctsd_vars)
        first = len(self.started)
        servers = [launch(self._base / f"server-{first + i}", env) for i in range(count)]
        self.started.extend(servers)
        return [self._ready(server, env) for server in servers]

    def _ready(self, server: Server, env: dict[str, str]) -> Server:
        for _ in range(LAUNCH_ATTEMPTS):
            if wait_until_ready(server):
                return server
            server = launch(server.workdir, env)
            self.started.append(server)
        pytest.fail(f"no free port after {LAUNCH_ATTEMPTS} attempts:\n{server.stderr()}")

    def stop_all(self) -> None:
        for server in self.started:
            stop(server)


ServerFactory = Callable[..., list[Server]]


@pytest.fixture
def start_ctsd(tmp_path: Path) -> Iterator[ServerFactory]:
    """`start_ctsd(count=1, **CTSD_vars)` -> servers, all stopped when the test ends."""
    group = ServerGroup(tmp_path)
    yield group.start
    group.stop_all()


@pytest.fixture
def e2e_database_url(pg_database_url: str) -> str:
    """A fresh, empty PostgreSQL database: `ctsd serve` must create its schema itself."""
    return pg_database_url


@pytest.fixture
def ctsd_pair(start_ctsd: ServerFactory, e2e_database_url: str) -> list[Server]:
    """Two `ctsd serve` processes (two ports, two pools) on one PostgreSQL database."""
    return start_ctsd(2, CTSD_DATABASE_URL=e2e_database_url)


@contextmanager
def applying_held(pg_url: str) -> Iterator[None]:
    """Hold every consumer's commit until the block ends: the test keeps a lock that
    conflicts with recording a processed message. A stream published meanwhile waits
    as a backlog, so a consumer killed after a part of it is killed mid-stream however
    slowly the test publishes and polls (a consumer that kept pace with the publisher
    had applied all of it before the kill on a busy machine)."""
    engine = create_engine(to_driver_url(pg_url, asynchronous=False))
    try:
        with engine.begin() as conn:
            conn.execute(text("LOCK TABLE processed_messages IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


def query(database_url: str, sql: str, **params: Any) -> list[Any]:
    """Run one read-only SQL statement against the server's database (for checks)."""
    return read_database(database_url, sql, **params)


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP client with a hard per-request time limit and room for many connections."""
    connector = aiohttp.TCPConnector(limit=500)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        yield session
