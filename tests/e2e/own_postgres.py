"""A PostgreSQL cluster of a test's own (initdb into a temp dir, a free port), for tests
that stop and start the database: the shared server other tests use is never touched."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg2

from tests.conftest import service_missing
from tests.e2e.conftest import free_port

PG_BIN = Path(os.environ.get("CTS_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))


class OwnPostgres:
    def __init__(self) -> None:
        if not (PG_BIN / "initdb").exists():
            service_missing("PostgreSQL server binaries", FileNotFoundError(str(PG_BIN)))
        # Its own directory under /tmp: pytest's tmp_path is private to root, and the
        # server runs as the postgres user when the tests run as root.
        root = Path(tempfile.mkdtemp(prefix="cts-own-pg-"))
        self.root = root
        self.data = root / "pgdata"
        self.socket_dir = root / "pgsock"
        self.port = free_port()
        self.log = root / "postgres.log"
        self._as_postgres = os.geteuid() == 0  # initdb refuses to run as root

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if self._as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        self.socket_dir.mkdir(parents=True)
        if self._as_postgres:
            for path in (self.root, self.socket_dir):
                shutil.chown(path, "postgres")
            self.log.touch()
            shutil.chown(self.log, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "--no-sync")
        self.start()

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off")
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options,
                  "-w", "start")
        self._wait_ready()

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        """Stop it if it runs, and remove its files."""
        if (self.data / "postmaster.pid").exists():
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg2.connect(self.url.replace("postgresql://", "postgres://"),
                                 connect_timeout=2).close()
                return
            except psycopg2.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
