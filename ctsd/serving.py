"""`ctsd serve --workers N`: several processes run by gunicorn with aiohttp's worker.

gunicorn's arbiter (this process) binds the port once, without SO_REUSEPORT, and forks
the workers, which inherit the listening socket: a second instance on the same port
fails at start-up instead of silently sharing it. The workers take turns accepting a
burst of connections (ctsd.api.shared_accept), so a client's pool of keep-alive
connections is spread over them rather than held by the first to wake.

Signals are gunicorn's: SIGTERM stops gracefully (requests in flight finish within the
graceful timeout), SIGINT/SIGQUIT stop at once, SIGHUP starts fresh workers (TLS files
are read again) and then retires the old ones, TTIN/TTOU add or remove a worker.

Extension points for the parent process (e.g. prometheus-client's multiprocess mode):
`CtsGunicornApplication.on_starting` runs once before any worker is forked, and
`CtsGunicornApplication.child_exit` runs in the parent each time a worker has exited.
"""

from __future__ import annotations

import gc
import logging
import socket
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.worker import GunicornUVLoopWebWorker
from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

from ctsd.api.app import create_app
from ctsd.api.shared_accept import SharedSocketAppRunner
from ctsd.auth.tls import server_ssl_context
from ctsd.config import Settings
from ctsd.observability.metrics_setup import (
    prepare_multiprocess_metrics,
    remove_multiprocess_metrics,
    worker_exited,
)

log = logging.getLogger("ctsd")

# aiohttp lets requests in flight finish for 95 % of it on SIGTERM; systemd's
# TimeoutStopSec (30 s in systemd/ctsd.service) must stay above it.
GRACEFUL_TIMEOUT_SECONDS = 25


class CtsWebWorker(GunicornUVLoopWebWorker):
    """aiohttp's uvloop worker, serving TLS with ctsd's own context (TLS 1.2 at least,
    optional client certificates against tls_client_ca) instead of one built from
    gunicorn's ssl_* settings."""

    def _create_ssl_context(self, cfg: Any) -> ssl.SSLContext | None:  # type: ignore[override]
        # self.app is the gunicorn application below (self.wsgi is what its load() gave).
        settings: Settings = self.app.settings
        return server_ssl_context(settings)

    def run(self) -> None:
        """aiohttp's worker would serve each inherited socket with an asyncio server,
        which accepts every connection waiting at once; the runner serves them with
        sites that take turns with the other workers instead (ctsd.api.shared_accept)."""
        inherited: list[Any] = self.sockets  # gunicorn's wrappers of the sockets
        listeners: list[socket.socket] = [getattr(listener, "sock", listener)
                                          for listener in inherited]
        self.sockets: list[Any] = []
        ssl_context = self._create_ssl_context(self.cfg) if self.cfg.is_ssl else None
        make_runner: Callable[[], Awaitable[SharedSocketAppRunner]] = self.wsgi  # type: ignore[has-type]

        async def runner_taking_turns() -> web.AppRunner:
            runner: SharedSocketAppRunner = await make_runner()
            runner.serve_on(listeners, ssl_context)
            return runner

        self.wsgi = runner_taking_turns
        super().run()


class CtsGunicornApplication(BaseApplication):  # type: ignore[misc]
    """gunicorn configured in code from ctsd's Settings; no gunicorn.conf.py is read."""

    def __init__(self, settings: Settings, host: str, port: int, workers: int) -> None:
        self.settings = settings
        self.address = (host, port)
        self.workers = workers
        self._forked = 0
        self._metrics_dir: Path | None = None
        super().__init__(prog="ctsd serve")

    def load_config(self) -> None:
        host, port = self.address
        options: dict[str, Any] = {
            "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
            "workers": self.workers,
            "worker_class": CtsWebWorker,
            "reuse_port": False,
            "graceful_timeout": GRACEFUL_TIMEOUT_SECONDS,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
            # The default control socket is one path per user ($XDG_RUNTIME_DIR):
            # two instances would fight over it. ctsd is driven by signals.
            "control_socket_disable": True,
            "on_starting": self.on_starting,
            "pre_fork": self.pre_fork,
            "post_fork": self.post_fork,
            "child_exit": self.child_exit,
            "on_exit": self.on_exit,
        }
        if self.settings.tls_cert:
            # Makes the worker serve TLS; the context itself is CtsWebWorker's.
            options["certfile"] = self.settings.tls_cert
            options["keyfile"] = self.settings.tls_key
        for name, value in options.items():
            if name in self.cfg.settings:  # older gunicorn: no control socket setting
                self.cfg.set(name, value)

    def load(self) -> Callable[[], Awaitable[web.AppRunner]]:
        """Runs in each worker after the fork: its own engines, pools and tasks.

        aiohttp's worker also takes a coroutine function that returns the runner; that
        lets its connections use JsonErrorAppRunner, so that errors aiohttp raises itself
        (a malformed request line, an oversized header) are v1 JSON here too, as in
        single-process `ctsd serve`."""
        settings = self.settings

        async def runner() -> SharedSocketAppRunner:
            return SharedSocketAppRunner(serving_app(settings), access_log=None,
                                      shutdown_timeout=GRACEFUL_TIMEOUT_SECONDS * 0.95)

        return runner

    def on_starting(self, arbiter: Any) -> None:
        """In the parent, once, before the first worker is forked: the workers' metrics
        go to files that every scrape merges, so the directory must exist before them."""
        log.info("starting %d workers", self.workers)
        self._metrics_dir = prepare_multiprocess_metrics()

    def pre_fork(self, arbiter: Any, worker: Any) -> None:
        """In the parent, before each fork: count the workers forked so far (the child
        inherits the count)."""
        self._forked += 1

    def post_fork(self, arbiter: Any, worker: Any) -> None:
        """In each new worker, just after the fork. The start-up line (the same as
        single-process `ctsd serve`'s, which scripts and tests wait for) is printed by
        the last of the first workers, so that once it has printed, every worker
        process exists (printed by the parent before that fork, it could not promise
        that)."""
        if self._forked == self.workers:
            host, port = self.address
            scheme = "https" if self.settings.tls_cert else "http"
            log.info("Running on %s://%s:%s (%d workers)", scheme, host, port, self.workers)

    def child_exit(self, arbiter: Any, worker: Any) -> None:
        """In the parent, each time a worker process has exited (stopped or crashed)."""
        log.info("worker %s exited", worker.pid)
        worker_exited(worker.pid)  # its live gauges leave the merged scrape

    def on_exit(self, arbiter: Any) -> None:
        """In the parent, once, as gunicorn stops."""
        if self._metrics_dir is not None:
            remove_multiprocess_metrics(self._metrics_dir)


async def freeze_start_up_objects(_app: web.Application) -> None:
    """Move every object alive once the process has started (modules, classes, engines,
    the app: about 156,000 objects) out of the cyclic garbage collector's reach.

    They live as long as the process, yet each full (oldest-generation) pass walked them
    all again: under the harness at c=8 on SQLite that was a 95-135 ms pause of the
    event loop every 7 s, every request in flight waiting (issue #14); frozen, those
    passes took 3-17 ms."""
    gc.collect()
    gc.freeze()


def serving_app(settings: Settings) -> web.Application:
    """The API app as a serving process (`ctsd serve`, each gunicorn worker) runs it:
    once started, what start-up built is frozen (freeze_start_up_objects). Tests build
    apps with create_app: freezing in a process that makes hundreds of apps would keep
    every one of them."""
    app = create_app(settings)
    # After the cleanup_ctx entries (engines, background tasks), which aiohttp runs first.
    app.on_startup.append(freeze_start_up_objects)
    return app


def check_port_free(host: str, port: int) -> None:
    """Raise OSError (EADDRINUSE) when something listens on host:port already.

    gunicorn would retry for five seconds and then report "Can't connect"; checking
    first gives the same one-line error as single-process `ctsd serve`, at once."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def serve_workers(settings: Settings, host: str, port: int, workers: int) -> int:
    """Serve with `workers` processes until stopped; the exit status of gunicorn."""
    try:
        check_port_free(host, port)
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror or exc)
        return 1
    try:
        CtsGunicornApplication(settings, host, port, workers).run()
    except SystemExit as exc:  # the arbiter ends with sys.exit(status)
        return exc.code if isinstance(exc.code, int) else 1
    return 0
