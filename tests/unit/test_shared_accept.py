"""The turn-taking accept loop of `ctsd serve --workers N` (ctsd.api.shared_accept), on a
real listening socket: what it does when accept() fails, and that stopping it stops
accepting. How connections spread over real worker processes: tests/e2e/test_workers.py."""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from ctsd.api.shared_accept import _AcceptLoop


class Counting(asyncio.Protocol):
    made: ClassVar[list[Counting]] = []

    def connection_made(self, transport: Any) -> None:
        Counting.made.append(self)
        self.transport = transport


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    Counting.made = []
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield sock
    sock.close()


class Factory:
    """What aiohttp's server is to the loop: a protocol factory with its connections."""

    def __init__(self) -> None:
        self.connections: list[Counting] = []

    def __call__(self) -> Counting:
        protocol = Counting()
        self.connections.append(protocol)
        return protocol


async def connect(sock: socket.socket) -> asyncio.StreamWriter:
    _, writer = await asyncio.open_connection(*sock.getsockname())
    return writer


async def wait_for_connections(count: int) -> None:
    async with asyncio.timeout(5):
        while len(Counting.made) < count:
            await asyncio.sleep(0.01)


def fail_accept_once(monkeypatch: pytest.MonkeyPatch, error: OSError) -> None:
    """Fault injection: the loop's next accept() fails with `error`, later ones are real."""
    loop = asyncio.get_running_loop()
    real_accept = loop.sock_accept
    failures = [error]

    async def accept_failing_once(sock: socket.socket) -> tuple[socket.socket, Any]:
        if failures:
            raise failures.pop()
        return await real_accept(sock)

    monkeypatch.setattr(loop, "sock_accept", accept_failing_once)


async def test_out_of_descriptors_pauses_and_then_accepts_again(
        listener: socket.socket, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    fail_accept_once(monkeypatch, OSError(errno.EMFILE, "Too many open files"))
    with caplog.at_level(logging.WARNING, logger="ctsd.api.shared_accept"):
        accepting = _AcceptLoop(listener, Factory(), None, retry_pause_seconds=0.05)
        writer = await connect(listener)
        await wait_for_connections(1)
    assert "cannot accept connections now" in caplog.text
    assert accepting.is_serving()
    accepting.close()
    writer.close()


async def test_a_client_gone_before_accept_does_not_pause(
        listener: socket.socket, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    fail_accept_once(monkeypatch, OSError(errno.ECONNABORTED, "Software caused connection abort"))
    with caplog.at_level(logging.WARNING, logger="ctsd.api.shared_accept"):
        # A pause would outlast the wait below: the next connection is accepted at once.
        accepting = _AcceptLoop(listener, Factory(), None, retry_pause_seconds=60)
        writer = await connect(listener)
        await wait_for_connections(1)
    assert caplog.text == ""
    accepting.close()
    writer.close()


async def test_closed_it_accepts_nothing_more(listener: socket.socket) -> None:
    accepting = _AcceptLoop(listener, Factory(), None)
    first = await connect(listener)
    await wait_for_connections(1)
    accepting.close()
    assert not accepting.is_serving()
    second = await connect(listener)  # completed by the kernel, queued on the socket
    await asyncio.sleep(0.2)
    assert len(Counting.made) == 1
    first.close()
    second.close()


async def test_a_worker_holding_connections_leaves_a_burst_to_others(
        listener: socket.socket) -> None:
    # One process here, so nobody else takes the burst: it is accepted one connection
    # per turn, and once this "worker" holds more than one, a turn apart. (Longer turns
    # than the real millisecond, so that the wait cannot be the machine's slowness.)
    loop = asyncio.get_running_loop()
    accepting = _AcceptLoop(listener, Factory(), None, turn_seconds=0.05)
    started = loop.time()
    writers = await asyncio.gather(*(connect(listener) for _ in range(6)))
    await wait_for_connections(2)
    assert loop.time() - started < 0.05  # the first two at once
    await wait_for_connections(6)
    # A connection counts once its protocol exists, a turn after its accept: the
    # third to the fifth accepts each leave a turn before the next.
    assert loop.time() - started >= 3 * 0.05
    accepting.close()
    for writer in writers:
        writer.close()


async def test_a_worker_holding_many_connections_accepts_at_full_speed(
        listener: socket.socket) -> None:
    loop = asyncio.get_running_loop()
    accepting = _AcceptLoop(listener, Factory(), None, turn_seconds=0.05, turns_up_to=3)
    started = loop.time()
    writers = await asyncio.gather(*(connect(listener) for _ in range(12)))
    await wait_for_connections(12)
    # Turns only after the third and the fourth accepts (holding 2, then 3).
    assert 2 * 0.05 <= loop.time() - started < 4 * 0.05
    accepting.close()
    for writer in writers:
        writer.close()
