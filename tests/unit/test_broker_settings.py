"""[messaging] broker settings, a fedora-messaging file as their source, connection
parameters, and who a request's sender is."""

from __future__ import annotations

import ssl
from pathlib import Path

import pika.credentials
import pytest
from cryptography.x509.oid import NameOID

from ctsd.broker.connection import connection_parameters, describe_failure, refusal_in
from ctsd.broker.settings import BrokerSettings, broker_urls, safe_url
from ctsd.config import ConfigError, Settings, load_settings, settings_from_toml
from ctsd.consumer.sender import SenderRefused, request_sender, split_request_topic
from tests.auth_support import CertificateAuthority

FEDORA_MESSAGING_FILE = """\
amqp_url = "amqps://rabbitmq.example.org/%2Fpubsub"
publish_exchange = "amq.topic"
topic_prefix = "org.example.prod"
[tls]
ca_cert = "{ca}"
keyfile = "{key}"
certfile = "{cert}"
[client_properties]
app = "CTS"
app_contacts_email = "admins@example.org"
"""


@pytest.fixture
def tls_files(tmp_path: Path) -> dict[str, Path]:
    authority = CertificateAuthority("test CA")
    cert, key = authority.write(tmp_path, "client", [(NameOID.COMMON_NAME, "cts.example.org")])
    return {"ca": authority.write_ca(tmp_path / "ca.pem"), "cert": cert, "key": key}


def test_a_fedora_messaging_file_supplies_url_tls_properties_exchange_and_prefix(
        tmp_path: Path, tls_files: dict[str, Path]) -> None:
    path = tmp_path / "fm.toml"
    path.write_text(FEDORA_MESSAGING_FILE.format(**tls_files))
    settings = Settings(**settings_from_toml(
        {"messaging": {"fedora_messaging_config": str(path)}}))
    assert settings.amqp_url == "amqps://rabbitmq.example.org/%2Fpubsub"
    assert settings.topic_prefix == "org.example.prod.cts."
    assert settings.broker.certfile == str(tls_files["cert"])
    assert dict(settings.broker.client_properties)["app"] == "CTS"

    params = connection_parameters(settings.amqp_url, settings.broker, "ctsd consumer")
    assert isinstance(params.credentials, pika.credentials.ExternalCredentials)
    assert params.ssl_options is not None and params.ssl_options.server_hostname == \
        "rabbitmq.example.org"
    assert params.client_properties["connection_name"] == "ctsd consumer"
    assert params.client_properties["app"] == "CTS"
    assert params.heartbeat == 10 and params.connection_attempts == 1


def test_keys_in_messaging_win_over_the_fedora_messaging_file(
        tmp_path: Path, tls_files: dict[str, Path]) -> None:
    path = tmp_path / "fm.toml"
    path.write_text(FEDORA_MESSAGING_FILE.format(**tls_files))
    values = settings_from_toml({"messaging": {
        "fedora_messaging_config": str(path), "topic_prefix": "cts.",
        "amqp_url": ["amqps://a.example.org", "amqps://b.example.org"],
        "heartbeat": 5, "sasl_mechanism": "plain"}})
    settings = Settings(**values)
    assert settings.topic_prefix == "cts."
    assert broker_urls(settings.amqp_url) == ("amqps://a.example.org", "amqps://b.example.org")
    params = connection_parameters("amqps://u:p@a.example.org", settings.broker, "x")
    assert isinstance(params.credentials, pika.credentials.PlainCredentials)
    assert params.heartbeat == 5


@pytest.mark.parametrize(("messaging", "error"), [
    ({"tls": {"certfile": "/c.pem"}}, "certfile and keyfile go together"),
    ({"sasl_mechanism": "EXTERNAL"}, "needs a client certificate"),
    ({"sasl_mechanism": "GSSAPI"}, "EXTERNAL or PLAIN"),
    ({"heartbeat": -1}, "heartbeat"),
    ({"tls": {"cafile": "/x"}}, "unknown [messaging.tls] keys"),
    ({"fedora_messaging_config": "/nonexistent/fm.toml"}, "cannot read"),
    ({"amqp_url": 5}, "a URL or a list of URLs"),
])
def test_bad_broker_settings_name_the_key(messaging: dict, error: str) -> None:
    with pytest.raises(ConfigError, match=error.replace("[", r"\[").replace("]", r"\]")):
        settings_from_toml({"messaging": messaging})


def test_a_certificate_needs_amqps_and_queue_type_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "ctsd.toml"
    config.write_text('[messaging]\namqp_url = "amqp://h"\n'
                      '[messaging.tls]\ncertfile = "/c"\nkeyfile = "/k"\n')
    with pytest.raises(ConfigError, match="needs an amqps:// URL"):
        load_settings(config, environ={})
    config.write_text('[consumer]\nqueue_type = "stream"\n')
    with pytest.raises(ConfigError, match="queue_type"):
        load_settings(config, environ={})


def test_urls_split_and_lose_their_password() -> None:
    assert broker_urls(" amqp://a, amqp://b\namqp://c ") == ("amqp://a", "amqp://b", "amqp://c")
    assert safe_url("amqps://user:secret@h:5671/%2F") == "amqps://h:5671/%2F"


def test_a_tls_refusal_is_found_behind_pikas_wrappers() -> None:
    inner = ssl.SSLError(1, "[SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca")
    wrapped = pika.exceptions.AMQPConnectionError(inner)
    outer = RuntimeError("cannot connect")
    outer.__cause__ = wrapped
    assert refusal_in(outer) in (inner, wrapped)
    assert "TLS handshake failed" in describe_failure(outer)
    assert refusal_in(ConnectionRefusedError(111, "refused")) is None


def test_the_urls_own_heartbeat_wins() -> None:
    params = connection_parameters("amqp://h/%2F?heartbeat=30", BrokerSettings(), "x")
    assert params.heartbeat == 30


def test_plain_amqp_gets_no_tls() -> None:
    params = connection_parameters("amqp://guest:guest@127.0.0.1:5672/%2F",
                                   BrokerSettings(), "x")
    assert params.ssl_options is None


@pytest.mark.parametrize(("suffix", "expected"), [
    ("request.tag", ("request.tag", None)),
    ("request.tag.alice", ("request.tag", "alice")),
    ("request.set_url.host.example.org", ("request.set_url", "host.example.org")),
])
def test_request_topics_split_into_action_and_sender(suffix: str, expected: tuple) -> None:
    assert split_request_topic(suffix) == expected


def test_the_sender_is_the_user_id_or_a_trusted_topic() -> None:
    assert request_sender("alice", None, False) == "alice"
    assert request_sender("alice", "alice", False) == "alice"
    assert request_sender(None, "bob", True) == "bob"
    for args, reason in [(("alice", "bob", True), "sender mismatch"),
                         ((None, None, True), "no authenticated sender"),
                         ((None, "bob", False), "no authenticated sender")]:
        with pytest.raises(SenderRefused) as refused:
            request_sender(*args)
        assert refused.value.reason == reason
