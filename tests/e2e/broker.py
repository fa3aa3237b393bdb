"""A RabbitMQ node of the test's own, to stop and start, and a durable queue that outlives
a broker restart.

Stopping the machine's shared broker (127.0.0.1:5672) would break whatever else is
using it at that moment (other test runs, a developer's ctsd), so outage tests start a
throw-away node beside it: its own node name, AMQP port, data directory and log, all on
127.0.0.1, and `rabbitmqctl -n <node>` stops and starts only that one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pika
import pika.exceptions

from tests.conftest import service_missing
from tests.e2e.conftest import free_port
from tests.relaying import EXCHANGE, BoundQueue

STARTUP_TIMEOUT = 60.0
CTL_TIMEOUT = 60.0
BROKER_USER = "guest"  # the login of every AMQP URL here; RabbitMQ checks user_id against it


def rabbitmqctl(node: str, *args: str,
                timeout: float = CTL_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run `rabbitmqctl -n node args...` (as root, its wrapper switches to the rabbitmq user)."""
    return subprocess.run(["rabbitmqctl", "-n", node, *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@dataclass(frozen=True)
class BrokerTls:
    """PEM files for an AMQPS listener that asks every client for a certificate signed
    by `ca_cert` and logs it in by its common name (SASL EXTERNAL)."""

    ca_cert: Path
    certfile: Path
    keyfile: Path


@dataclass(frozen=True)
class NodeOptions:
    """What a private node runs beyond a plain AMQP listener on loopback."""

    tls: BrokerTls | None = None
    plugins: Sequence[str] = ()
    extra_conf: Sequence[str] = ()


class PrivateBroker:
    """A RabbitMQ node started for the tests; `shutdown()` stops it and removes its data."""

    def __init__(self, options: NodeOptions | None = None) -> None:
        self.options = options or NodeOptions()
        self.node = f"ctsdtest{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.tls_port = free_port() if self.options.tls else 0
        self.url = f"amqp://{BROKER_USER}:guest@127.0.0.1:{self.port}/%2F"
        # With TLS: the URL a client with a certificate (EXTERNAL) connects to.
        self.amqps_url = f"amqps://127.0.0.1:{self.tls_port}/%2F" if self.tls_port else ""
        # Not under pytest's tmp_path: the broker runs as the rabbitmq user, which cannot
        # enter root's private temporary directories.
        self.base = Path(tempfile.mkdtemp(prefix="ctsd-test-broker-"))

    @classmethod
    def start(cls, options: NodeOptions | None = None) -> PrivateBroker:
        server = shutil.which("rabbitmq-server")
        if server is None or shutil.which("rabbitmqctl") is None:
            service_missing("a private RabbitMQ node", RuntimeError("rabbitmq-server not found"))
        broker = cls(options)
        try:
            broker._launch(server)
            broker.await_startup()
        except BaseException:
            broker.shutdown()
            raise
        return broker

    def _config(self) -> str:
        lines = [f"listeners.tcp.local = 127.0.0.1:{self.port}",
                 # Let guest in over loopback only, as by default (it is the test's login).
                 "loopback_users.guest = true", *self.options.extra_conf]
        tls = self.options.tls
        if tls is not None:
            for name in ("ca_cert", "certfile", "keyfile"):
                shutil.copy(getattr(tls, name), self.base / f"tls-{name}.pem")
            lines += [f"listeners.ssl.local = 127.0.0.1:{self.tls_port}",
                      f"ssl_options.cacertfile = {self.base}/tls-ca_cert.pem",
                      f"ssl_options.certfile = {self.base}/tls-certfile.pem",
                      f"ssl_options.keyfile = {self.base}/tls-keyfile.pem",
                      "ssl_options.verify = verify_peer",
                      "ssl_options.fail_if_no_peer_cert = true",
                      "auth_mechanisms.1 = EXTERNAL", "auth_mechanisms.2 = PLAIN",
                      "ssl_cert_login_from = common_name"]
        return "\n".join(lines) + "\n"

    def _launch(self, server: str) -> None:
        (self.base / "rabbitmq.conf").write_text(self._config())
        plugins = list(self.options.plugins)
        if self.options.tls is not None:
            plugins.append("rabbitmq_auth_mechanism_ssl")
        # No management plugin: no HTTP port to pick.
        (self.base / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir()
        if os.geteuid() == 0:
            rabbitmq = pwd.getpwnam("rabbitmq")
            self.base.chmod(0o755)
            for path in [self.base, *self.base.rglob("*")]:
                os.chown(path, rabbitmq.pw_uid, rabbitmq.pw_gid)
        env = {**os.environ,
               "RABBITMQ_NODENAME": self.node,
               "RABBITMQ_CONFIG_FILE": str(self.base / "rabbitmq.conf"),
               "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.base / "enabled_plugins"),
               "RABBITMQ_MNESIA_BASE": str(self.base / "mnesia"),
               "RABBITMQ_LOG_BASE": str(self.base / "log"),
               "RABBITMQ_DIST_PORT": str(free_port())}
        subprocess.run([server, "-detached"], env=env, cwd=self.base, check=True,
                       capture_output=True, timeout=CTL_TIMEOUT)

    def await_startup(self, timeout: float = STARTUP_TIMEOUT) -> None:
        """Wait until the node accepts AMQP; a just-launched node is not even known yet
        to `await_startup`, which then fails at once, hence the loop."""
        deadline = time.monotonic() + timeout
        while True:
            result = rabbitmqctl(self.node, "await_startup", "--timeout",
                                 str(max(1, int(deadline - time.monotonic()))))
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ node {self.node} did not start:\n"
                                   f"{result.stderr}\n{self.log_tail()}")
            time.sleep(0.5)

    def add_user(self, name: str, password: str = "", *, topic_write: str = "") -> None:
        """A login with every permission on vhost /, and with `topic_write` as the
        regex of topics it may publish on amq.topic (RabbitMQ expands {username})."""
        self._ctl("add_user", name, password or uuid.uuid4().hex)
        self._ctl("set_permissions", "-p", "/", name, ".*", ".*", ".*")
        if topic_write:
            self._ctl("set_topic_permissions", "-p", "/", name, EXCHANGE, topic_write, ".*")

    def stop_app(self) -> None:
        self._ctl("stop_app")

    def start_app(self) -> None:
        self._ctl("start_app")

    @contextlib.asynccontextmanager
    async def stopped(self) -> AsyncIterator[None]:
        """The broker application is stopped inside the block, and always running and
        ready again after it (the Erlang node itself stays up). The event loop goes on
        meanwhile: rabbitmqctl runs in a thread."""
        await asyncio.to_thread(self.stop_app)
        try:
            yield
        finally:
            await asyncio.to_thread(self.start_app)
            await asyncio.to_thread(self.await_startup)

    def ctl(self, command: str, *args: str) -> None:
        """`rabbitmqctl -n <this node> command args...`; fails the caller if it fails."""
        self._ctl(command, *args)

    def _ctl(self, command: str, *args: str) -> None:
        result = rabbitmqctl(self.node, command, *args)
        if result.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {command} on {self.node} failed: {result.stderr}")

    def log_tail(self, lines: int = 30) -> str:
        logs = sorted((self.base / "log").glob("*.log"))
        text = "".join(path.read_text(errors="replace") for path in logs)
        return "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the node's Erlang VM: a crash, no goodbye to clients or peers."""
        self._kill_from_pid_file()

    def shutdown(self) -> None:
        """Stop the node (the whole Erlang VM) and delete its data."""
        if rabbitmqctl(self.node, "shutdown").returncode != 0:
            self._kill_from_pid_file()
        shutil.rmtree(self.base, ignore_errors=True)

    def _kill_from_pid_file(self) -> None:
        # Only this node's own pid, which the node wrote into its own data directory.
        for pid_file in (self.base / "mnesia").glob("*.pid"):
            with contextlib.suppress(ValueError, OSError):
                os.kill(int(pid_file.read_text().strip()), 9)


class DurableQueue(BoundQueue):
    """A BoundQueue that is named and durable, so it and its persistent messages survive
    a broker restart; on any broker. Delete it with `delete()`.

    Its connection dies with the broker: `fetch()` reconnects first when it has to, so
    call it only while the broker is up.
    """

    def __init__(self, prefix: str, amqp_url: str,  # not super(): no exclusive queue
                 arguments: dict[str, str] | None = None) -> None:
        """`arguments`: e.g. {"x-queue-type": "quorum"}, to outlive a cluster node."""
        self._url = amqp_url
        self.name = f"ctsd-test-watch-{uuid.uuid4().hex[:10]}"
        self.received = []
        self._open()
        self._channel.queue_declare(self.name, durable=True, arguments=arguments)
        self._channel.queue_bind(self.name, EXCHANGE, routing_key=f"{prefix}#")

    def _open(self) -> None:
        try:
            self._connection = pika.BlockingConnection(pika.URLParameters(self._url))
        except pika.exceptions.AMQPConnectionError as exc:
            service_missing("RabbitMQ", RuntimeError(f"{self._url}: {exc!r}"))
        self._channel = self._connection.channel()

    def fetch(self) -> None:
        try:
            super().fetch()
        except (pika.exceptions.AMQPError, OSError):
            # The broker was restarted since the last fetch; the queue is still there.
            self._open()
            super().fetch()

    def delete(self) -> None:
        with contextlib.suppress(pika.exceptions.AMQPError, OSError):
            if not (self._connection.is_open and self._channel.is_open):
                self._open()
            self._channel.queue_delete(self.name)
            self._connection.close()
