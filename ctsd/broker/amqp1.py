"""Connections to an AMQP 1.0 broker with python-qpid-proton (the library UMB clients
use): TLS with a CA bundle and a client certificate (SASL EXTERNAL), else the URL's
login (SASL PLAIN); several URLs are tried in turn.

proton's BlockingConnection blocks, so callers run it on one thread of their own
(`Amqp1Worker`), never on the event loop and never from two threads at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from proton import Link, SSLDomain, Terminus
from proton.reactor import LinkOption
from proton.utils import BlockingConnection

from ctsd.broker.amqp1_settings import Amqp1Settings
from ctsd.broker.connection import APP_NAME

CONNECT_TIMEOUT = 10.0
HEARTBEAT = 10.0
T = TypeVar("T")


def ssl_domain(settings: Amqp1Settings) -> SSLDomain:
    domain = SSLDomain(SSLDomain.MODE_CLIENT)
    if settings.ca_cert:
        domain.set_trusted_ca_db(settings.ca_cert)
    domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, settings.ca_cert or None)
    if settings.certfile:
        domain.set_credentials(settings.certfile, settings.keyfile, None)
    return domain


def connect(settings: Amqp1Settings, container_id: str) -> tuple[BlockingConnection, str]:
    """A connection to the first URL that accepts, and that URL; raises the last
    error when none does."""
    error: Exception | None = None
    for url in settings.urls:
        try:
            return _connect_one(settings, url, container_id), url
        except Exception as exc:  # proton raises ConnectionException, Timeout, OSError...
            error = exc
    assert error is not None
    raise error


def _connect_one(settings: Amqp1Settings, url: str, container_id: str) -> BlockingConnection:
    tls = urlsplit(url).scheme == "amqps"
    options: dict[str, Any] = {"timeout": CONNECT_TIMEOUT, "heartbeat": HEARTBEAT,
                               "reconnect": False, "container_id": container_id,
                               "properties": {"app": APP_NAME}}  # what broker UIs show
    if tls:
        options["ssl_domain"] = ssl_domain(settings)
    if tls and settings.certfile and not urlsplit(url).password:
        options["allowed_mechs"] = "EXTERNAL"  # the certificate is the login
    else:
        options["allow_insecure_mechs"] = not tls  # PLAIN over loopback in tests
    return BlockingConnection(url, **options)


class DurableTerminus(LinkOption):
    """Ask for a durable queue node: RabbitMQ's plugin declares `/queue/<name>` with
    the terminus's durability and refuses (precondition failed) to attach a link to
    an existing durable queue otherwise."""

    def apply(self, link: Link) -> None:
        terminus = link.source if link.is_receiver else link.target
        terminus.durability = Terminus.DELIVERIES


class Amqp1Worker:
    """One thread that runs every blocking proton call of one user, in order."""

    def __init__(self, name: str) -> None:
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix=name)

    async def run(self, call: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, call, *args)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False)
