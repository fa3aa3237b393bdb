"""CPU per import of the write path alone, by group size, in one process (no HTTP).

Imports like the harness's create (each a new stream, so their respins are predicted)
go through `CommandBus.execute` with group commit on, on a fresh PostgreSQL database,
`--group` at a time: a group of G is G imports submitted together, which the group
committer writes in one statement. Printed per group size: this process's CPU
(`time.process_time`), PostgreSQL's (every `postgres` process on the machine, from
/proc: run it on a quiet machine) and wall time, per import.

Per-group costs (the statement, its commit, the unit of work around it) are what
separates group sizes 1 and 8; per-import costs are what remains at 8. Under
`valgrind --tool=callgrind` the process's instruction count is repeatable whatever
the machine is doing: the difference between two runs with different `-n` is the
instructions of that many more imports (how the JSON-parameter change was measured):

    valgrind --tool=callgrind --callgrind-out-file=/dev/null \\
        .venv/bin/python bench/write_path_bench.py -n 100 --groups 2 --database DB
    (again with -n 400; (total_400 - total_100) / 600 is per import)

    .venv/bin/python bench/write_path_bench.py [-n 2000] [--groups 1,2,4,8] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run_bench import admin
from ctsd.bootstrap import open_write_path
from ctsd.config import Settings
from ctsd.db import migrate
from ctsd.db.kept_answers import body_hash
from ctsd.service import CommandBus
from handlers.commands import ImportCompose
from handlers.identity import ANONYMOUS


def postgres_cpu_ms() -> float:
    """CPU time of every PostgreSQL process on the machine, in ms."""
    ticks = 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read()
        except OSError:
            continue  # gone since listed
        name, rest = fields.split("(", 1)[1].rsplit(")", 1)
        if "postgres" in name:
            values = rest.split()
            ticks += int(values[11]) + int(values[12])  # utime, stime
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


def compose_info(short: str, date: str) -> dict[str, Any]:
    """A ComposeInfo like the harness's create sends: a stream of its own, no variants."""
    return {"header": {"type": "productmd.composeinfo", "version": "1.2"},
            "payload": {"compose": {"id": f"{short}-1-{date}.0", "type": "production",
                                    "date": date, "respin": 0},
                        "release": {"name": "Bench Create", "version": "1", "short": short,
                                    "type": "ga", "internal": False, "is_layered": False},
                        "variants": {}}}


class Importer:
    def __init__(self, bus: CommandBus) -> None:
        self.bus = bus
        self.run = uuid.uuid4().hex[:6]
        self.count = 0

    async def one(self) -> None:
        self.count += 1
        body = {"compose_info": compose_info(f"wpb{self.run}x{self.count}", "20300101")}
        # As the HTTP view does it: no key, so the body's hash names a kept answer.
        await self.bus.execute(ImportCompose(compose_info=body["compose_info"]), ANONYMOUS,
                               lost_answer_of=body_hash(body))

    async def groups(self, size: int, count: int) -> None:
        for _ in range(count):
            await asyncio.gather(*(self.one() for _ in range(size)))


async def measure(settings: Settings, imports: int, sizes: list[int], rounds: int) -> None:
    async with open_write_path(settings, group_commit=True) as path:
        importer = Importer(path.bus)
        await importer.groups(1, 50)  # connections, prepared statements, caches
        for _ in range(rounds):
            for size in sizes:
                groups = imports // size
                cpu, postgres, wall = time.process_time(), postgres_cpu_ms(), time.perf_counter()
                await importer.groups(size, groups)
                done = groups * size
                print(f"group of {size:2d}: {done} imports, per import: "
                      f"this process {1000 * (time.process_time() - cpu) / done:.3f} ms CPU, "
                      f"PostgreSQL {(postgres_cpu_ms() - postgres) / done:.3f} ms CPU, "
                      f"wall {1000 * (time.perf_counter() - wall) / done:.3f} ms", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--imports", type=int, default=2000,
                        help="imports per group size and round")
    parser.add_argument("--groups", default="1,2,4,8", help="group sizes, comma-separated")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--database", help="an existing database to use (kept); "
                        "default: a fresh one, dropped afterwards")
    args = parser.parse_args(argv)
    database = args.database or f"write_path_bench_{uuid.uuid4().hex[:8]}"
    if args.database is None:
        admin(f'CREATE DATABASE "{database}"')
    try:
        settings = Settings(database_url=f"postgresql://postgres@127.0.0.1/{database}")
        migrate.upgrade(settings)
        asyncio.run(measure(settings, args.imports,
                            [int(size) for size in args.groups.split(",")], args.rounds))
    finally:
        if args.database is None:
            admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
