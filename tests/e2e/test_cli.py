"""`ctsd serve` refuses unsafe or impossible start-ups with a clear message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import terminate


def run_ctsd(*args: str, cwd: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("CTSD_")}
    return subprocess.run([sys.executable, "-m", "ctsd.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "cts.example.com"])
def test_noauth_is_refused_on_a_network_address(tmp_path, host):
    result = run_ctsd("serve", "--host", host, "--port", "1", cwd=str(tmp_path))
    assert result.returncode == 2
    assert "noauth" in result.stderr and host in result.stderr
    # Refused before touching anything: no database was created.
    assert not (tmp_path / "ctsd.sqlite").exists()


def test_port_in_use_is_one_line_not_a_traceback(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_ctsd("serve", "--host", "127.0.0.1", "--port", str(port),
                          cwd=str(tmp_path))
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def children_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_sigterm_to_serve_stops_its_workers_too(start_ctsd, e2e_database_url):
    # systemd and scripts stop `ctsd serve` with SIGTERM to the main process; its
    # workers must not stay behind serving the port.
    [server] = start_ctsd(1, CTSD_DATABASE_URL=e2e_database_url, CTSD_HTTP_WORKERS="2")
    workers = children_of(server.process.pid)
    assert len(workers) == 2 and all(running(pid) for pid in workers)

    assert terminate(server.process) == 0
    deadline = time.monotonic() + 15
    while any(running(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(running(pid) for pid in workers), server.stderr()
