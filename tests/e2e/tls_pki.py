"""Certificates for a broker's AMQPS listener and its clients, made up per test module,
and the ctsd.toml [messaging] table that uses them."""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.x509.oid import NameOID

from tests.auth_support import CertificateAuthority
from tests.e2e.broker import BrokerTls

RELAY_LOGIN = "ctsd-relay"  # the common names RabbitMQ logs the clients in as
CONSUMER_LOGIN = "ctsd-consumer"


@dataclass(frozen=True)
class ClientCertificate:
    certfile: Path
    keyfile: Path


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    broker: BrokerTls
    relay: ClientCertificate
    consumer: ClientCertificate
    # Same common name as the relay's, but signed by a CA the broker does not trust.
    untrusted: ClientCertificate

    @classmethod
    def create(cls) -> Pki:
        # Readable by the rabbitmq user (PrivateBroker copies the broker's files anyway).
        directory = Path(tempfile.mkdtemp(prefix="ctsd-test-pki-"))
        authority, stranger = CertificateAuthority("CTS test CA"), CertificateAuthority("other")
        ca_cert = authority.write_ca(directory / "ca.pem")
        server = authority.write(directory, "broker", [(NameOID.COMMON_NAME, "127.0.0.1")],
                                 server=True)

        def client(ca: CertificateAuthority, stem: str, login: str) -> ClientCertificate:
            return ClientCertificate(*ca.write(directory, stem, [(NameOID.COMMON_NAME, login)]))

        return cls(ca_cert, BrokerTls(ca_cert, *server),
                   client(authority, "relay", RELAY_LOGIN),
                   client(authority, "consumer", CONSUMER_LOGIN),
                   client(stranger, "untrusted", RELAY_LOGIN))


def messaging_table(amqp_url: str, ca_cert: Path, client: ClientCertificate) -> str:
    """[messaging] for amqps with a client certificate (SASL EXTERNAL by default).
    JSON spells these strings exactly as TOML does."""
    return "\n".join([
        "[messaging]", f"amqp_url = {json.dumps(amqp_url)}", "heartbeat = 5",
        "[messaging.client_properties]", 'app = "ctsd e2e test"',
        "[messaging.tls]", f"ca_cert = {json.dumps(str(ca_cert))}",
        f"certfile = {json.dumps(str(client.certfile))}",
        f"keyfile = {json.dumps(str(client.keyfile))}", ""])
