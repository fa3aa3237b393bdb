"""Run one `ctsd serve` process for the query benchmark and stop it afterwards."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from bench.run_bench import wait_until_up


@contextlib.contextmanager
def running_ctsd(database_url: str, port: int, workers: int = 1) -> Iterator[str]:
    """`ctsd serve` on 127.0.0.1:port over `database_url`; yields its base URL.

    One worker by default: the benchmark measures the latency of sequential requests,
    and the other core is the client's.
    """
    env = {key: value for key, value in os.environ.items() if not key.startswith("CTSD_")}
    env.update(CTSD_DATABASE_URL=database_url)
    base_url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as workdir, \
            open(Path(workdir, "ctsd.log"), "wb") as log:
        # The access log would cost the client's terminal more than the server's time.
        server = subprocess.Popen(
            [sys.executable, "-m", "ctsd.cli", "serve", "--host", "127.0.0.1",
             "--port", str(port), "--workers", str(workers)],
            cwd=workdir, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        try:
            wait_until_up(base_url, server)
            yield base_url
        finally:
            server.terminate()
            server.wait(30)
