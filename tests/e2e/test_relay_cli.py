"""`ctsd relay` as a real process: publishes what the service writes, stops on SIGTERM."""

from __future__ import annotations

import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ctsd.config import Settings
from handlers.commands import ImportCompose
from tests.conftest import compose_info
from tests.e2e.conftest import server_environment
from tests.relaying import ADMIN, AMQP_URL, BoundQueue, command_bus, outbox_rows

pytestmark = pytest.mark.e2e


def start_relay(workdir: Path, **ctsd_vars: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "ctsd.cli", "relay"], cwd=workdir,
                            env=server_environment(**ctsd_vars), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


async def test_relay_process_publishes_and_stops_on_sigterm(pg_url, tmp_path):
    prefix = f"t{uuid.uuid4().hex[:10]}.cts."
    queue = BoundQueue(prefix)
    process = start_relay(tmp_path, CTSD_DATABASE_URL=pg_url, CTSD_AMQP_URL=AMQP_URL,
                          CTSD_TOPIC_PREFIX=prefix)
    try:
        settings = Settings(database_url=pg_url, topic_prefix=prefix)
        async with command_bus(settings) as bus:
            await bus.execute(ImportCompose(compose_info()), ADMIN)
        received = await queue.wait_for(1)
        assert [m.message_id for m in received] == [outbox_rows(pg_url)[0].message_id]
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=15)[0].decode()
        queue.close()
    assert process.returncode == 0, output


def test_relay_without_amqp_url_refuses_to_start(tmp_path):
    process = start_relay(tmp_path, CTSD_DATABASE_URL=f"sqlite:///{tmp_path / 'x.sqlite'}")
    output = process.communicate(timeout=15)[0].decode()
    assert process.returncode == 2
    assert "amqp_url" in output
