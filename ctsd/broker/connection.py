"""Opening an AMQP 0-9-1 channel the way fedora-messaging does: TLS with a CA bundle
and an optional client certificate (SASL EXTERNAL: the certificate is the login) or
PLAIN, a heartbeat, a connection timeout and client properties naming the app; and
with several broker URLs (cluster nodes), the next one when one is down.
"""

from __future__ import annotations

import asyncio
import logging
import re
import ssl
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pika
import pika.credentials
import pika.exceptions

from ctsd.amqp import AmqpChannel, AmqpError
from ctsd.broker.settings import BrokerSettings, broker_urls, safe_url

log = logging.getLogger(__name__)

APP_NAME = "ctsd"
# Without it a broker that stops answering (memory alarm) would hang a publish forever.
BLOCKED_CONNECTION_TIMEOUT = 60.0
# Errors that say the broker (or we) refused the credentials: a configuration error
# that waiting does not cure, unlike a broker that is merely down.
_REFUSALS = (ssl.SSLError, pika.exceptions.ProbableAuthenticationError,
             pika.exceptions.AuthenticationError, pika.exceptions.ProbableAccessDeniedError)


# pika often keeps only the text of the error behind a lost stream or a protocol
# failure ("StreamLostError: ... SSLError(1, '[SSL: TLSV1_ALERT_UNKNOWN_CA] ...')").
_TLS_TEXT = re.compile(r"\[SSL: [A-Z0-9_]+\][^'\"()]*")
_LOGIN_TEXT = ("ACCESS_REFUSED", "ProbableAuthenticationError", "AuthenticationError")


class BrokerRefused(AmqpError):
    """The broker (or our TLS check of it) refused the connection's credentials."""


def connection_parameters(url: str, broker: BrokerSettings, name: str) -> pika.URLParameters:
    """pika parameters for one URL: the URL's own settings plus `broker`'s."""
    params = pika.URLParameters(url)
    params.connection_attempts = 1  # the callers back off (and try other nodes) themselves
    given = parse_qs(urlsplit(url).query)  # what the URL sets itself stays
    if "heartbeat" not in given:
        params.heartbeat = broker.heartbeat
    if "socket_timeout" not in given:
        params.socket_timeout = broker.connection_timeout
    if "stack_timeout" not in given:
        params.stack_timeout = broker.connection_timeout
    if params.blocked_connection_timeout is None:
        params.blocked_connection_timeout = BLOCKED_CONNECTION_TIMEOUT
    params.client_properties = {
        "app": APP_NAME, "connection_name": name, **dict(broker.client_properties),
        **(params.client_properties or {})}
    if urlsplit(url).scheme == "amqps":
        params.ssl_options = pika.SSLOptions(tls_context(broker), server_hostname=params.host)
    if _external(url, broker):
        params.credentials = pika.credentials.ExternalCredentials()
    return params


def tls_context(broker: BrokerSettings) -> ssl.SSLContext:
    """Verify the broker against `ca_cert` (else the system's CAs), present our
    certificate if there is one."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH,
                                         cafile=broker.ca_cert or None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if broker.certfile:
        context.load_cert_chain(broker.certfile, broker.keyfile)
    return context


def _external(url: str, broker: BrokerSettings) -> bool:
    if broker.sasl_mechanism:
        return broker.sasl_mechanism == "EXTERNAL"
    # As fedora-messaging: a client certificate is the login, unless the URL has one.
    return broker.uses_certificate and not urlsplit(url).password


def refusal_in(exc: BaseException) -> BaseException | None:
    """The credentials/TLS refusal behind `exc` (its causes and arguments), if any."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, _REFUSALS) or _refusal_text(str(item)):
            return item
        todo.extend([item.__cause__, item.__context__, *item.args])
    return None


class BrokerConnector:
    """Opens channels to the first broker URL that answers, starting with the one that
    last worked; `last_url` is where the current channel goes."""

    def __init__(self, amqp_url: str, broker: BrokerSettings, name: str) -> None:
        self._urls = broker_urls(amqp_url)
        self._broker = broker
        self._name = name
        self._start = 0
        self.last_url = ""

    async def open(self) -> AmqpChannel:
        """A channel on the first node that accepts; raise BrokerRefused if a node
        refused our credentials and none accepted, else AmqpError naming each failure."""
        if not self._urls:
            raise AmqpError("no broker URL ([messaging] amqp_url)")
        failures: list[str] = []
        refused: BaseException | None = None
        for index, url in self._rotation():
            try:
                channel = await asyncio.wait_for(
                    AmqpChannel.open(connection_parameters(url, self._broker, self._name)),
                    timeout=self._broker.connection_timeout + 5)
            except (AmqpError, TimeoutError, OSError, ssl.SSLError) as exc:
                refused = refused or refusal_in(exc)
                failures.append(f"{safe_url(url)}: {describe_failure(exc)}")
                continue
            self._start, self.last_url = index, url
            return channel
        message = "; ".join(failures)
        raise BrokerRefused(message) if refused is not None else AmqpError(message)

    def _rotation(self) -> Iterator[tuple[int, str]]:
        count = len(self._urls)
        for step in range(count):
            index = (self._start + step) % count
            yield index, self._urls[index]


def _refusal_text(text: str) -> bool:
    return bool(_TLS_TEXT.search(text)) or any(marker in text for marker in _LOGIN_TEXT)


def describe_failure(exc: BaseException) -> str:
    """One line: the refusal if there is one (say which certificate problem), else
    the error itself."""
    refusal = refusal_in(exc)
    tls_text = _TLS_TEXT.search(str(refusal)) if refusal is not None else None
    if isinstance(refusal, ssl.SSLError) or tls_text:
        reason = tls_text.group(0).strip() if tls_text else refusal
        return (f"TLS handshake failed ({reason}): check the CA bundle and that the "
                "broker trusts our client certificate")
    if refusal is not None:
        return f"the broker refused our credentials ({type(refusal).__name__})"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or repr(exc)
