"""Prometheus metrics that are right with N worker processes (multiprocess mode).

Each worker writes its samples to memory-mapped files in one directory,
`PROMETHEUS_MULTIPROC_DIR`; a scrape, whichever worker answers it, merges every
worker's files (counters and histograms summed, live gauges per worker), so
successive scrapes agree. The process that starts the workers must call, in order:

1. `prepare_multiprocess_metrics()` before it starts (forks) any worker: it creates
   the directory (or empties the one `PROMETHEUS_MULTIPROC_DIR` names) and exports it;
2. `worker_exited(pid)` whenever a worker process has exited (gunicorn: `child_exit`);
3. `remove_multiprocess_metrics(path)` once all workers are gone.

A single process needs none of it: metrics then stay in memory.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, values
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
# Marks a directory ctsd made itself (and may therefore delete when done).
_OWNED_MARK = ".ctsd-owned"


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def prepare_multiprocess_metrics() -> Path:
    """Before the first worker starts: a clean metrics directory, exported to workers.

    Uses `$PROMETHEUS_MULTIPROC_DIR` if set (emptied: files of an earlier run would
    count again), else a new temporary directory.
    """
    given = multiprocess_dir()
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    else:
        path = Path(tempfile.mkdtemp(prefix="ctsd-metrics-"))
        (path / _OWNED_MARK).touch()
        os.environ[MULTIPROC_ENV] = str(path)
    # prometheus_client picks its value store when it is first imported, which in this
    # process was before the directory existed; metrics created from now on (the
    # workers' labelled ones, see ctsd.api.metrics) must write to the files.
    values.ValueClass = values.MultiProcessValue(  # type: ignore[no-untyped-call]
        process_identifier=_this_pid)
    return path


# prometheus_client asks for the pid at every sample it records, to notice a fork; each
# os.getpid() is a system call (2 % of a worker's samples under create at c=8). The pid
# is kept here instead, and taken again in every child as it is forked.
_pid = os.getpid()


def _this_pid() -> int:
    return _pid


def _forked() -> None:
    global _pid  # noqa: PLW0603 - the one value every fork must renew
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def worker_exited(pid: int | None) -> None:
    """A worker is gone: its live gauges stop counting (its counters stay summed)."""
    if pid is not None and multiprocess_dir():
        mark_process_dead(pid)  # type: ignore[no-untyped-call]


def remove_multiprocess_metrics(path: Path) -> None:
    """After the last worker: delete the directory if ctsd made it."""
    if (path / _OWNED_MARK).exists():
        shutil.rmtree(path, ignore_errors=True)


class WorkerProcessCollector(Collector):
    """process_* metrics of every live worker, labelled by pid.

    prometheus_client's ProcessCollector reads /proc for one pid; the workers are the
    processes that have files in the metrics directory (each writes one at start).
    """

    def __init__(self, directory: str) -> None:
        self._directory = directory

    def collect(self) -> Iterator[Metric]:
        merged: dict[str, Metric] = {}
        for pid in sorted(live_worker_pids(self._directory)):
            collector = ProcessCollector(pid=functools.partial(int, pid), registry=None)
            for family in collector.collect():
                target = merged.setdefault(family.name, Metric(
                    family.name, family.documentation, family.type, family.unit))
                target.samples.extend(Sample(s.name, {**s.labels, "pid": str(pid)}, s.value)
                                      for s in family.samples)
        return iter(merged.values())


def live_worker_pids(directory: str) -> set[int]:
    pids = {_pid_of(name) for name in os.listdir(directory) if name.endswith(".db")}
    return {pid for pid in pids if pid is not None and Path(f"/proc/{pid}").exists()}


def _pid_of(filename: str) -> int | None:
    tail = filename.removesuffix(".db").rsplit("_", 1)[-1]
    return int(tail) if tail.isdigit() else None


_SINGLE_PROCESS = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=_SINGLE_PROCESS)


def exposition_registries(process_registry: CollectorRegistry) -> Iterable[CollectorRegistry]:
    """What a scrape shows of the process metrics: this process's registry and its
    process_* metrics, or, with several workers, the merge of all of them."""
    directory = multiprocess_dir()
    if directory is None:
        return (process_registry, _SINGLE_PROCESS)
    merged = CollectorRegistry(auto_describe=False)
    MultiProcessCollector(merged, path=directory)  # type: ignore[no-untyped-call]
    merged.register(WorkerProcessCollector(directory))
    return (merged,)
