"""[messaging] transports and [messaging.amqp1], and how two transports' results combine."""

from __future__ import annotations

import pytest
from fedora_messaging.message import Message
from pika.spec import BasicProperties

from ctsd.config import ConfigError, Settings, settings_from_toml
from ctsd.relay.amqp import BatchResult, BrokerError
from ctsd.relay.transports import BothPublishers, relay_configured
from ctsd.relay.wire import Envelope


def settings(messaging: dict) -> Settings:
    return Settings(**settings_from_toml({"messaging": messaging}))


def test_amqp1_settings_map_topics_to_addresses_and_inherit_tls() -> None:
    configured = settings({"transports": ["amqp1"], "tls": {"ca_cert": "/ca.pem"},
                           "amqp1": {"url": "amqps://umb.example.com:5671"}})
    amqp1 = configured.broker.amqp1
    assert amqp1 is not None and amqp1.ca_cert == "/ca.pem"
    assert amqp1.address_for("cts.compose-tagged", "cts.") == (
        "topic://VirtualTopic.eng.cts.compose-tagged")
    assert relay_configured(configured)
    assert not relay_configured(Settings())


@pytest.mark.parametrize(("messaging", "error"), [
    ({"transports": ["amqp1"]}, "no \\[messaging.amqp1\\] table"),
    ({"transports": ["kafka"]}, "transports must be"),
    ({"amqp1": {"url": "http://x"}}, "amqp\\(s\\):// URLs"),
    ({"amqp1": {"url": "amqp://x", "address": "{nope}"}}, "only {topic} and {event}"),
    ({"amqp1": {"url": "amqp://x", "consume_from": "/queue/q"}}, "dead_letter_address"),
])
def test_bad_amqp1_settings_name_the_key(messaging: dict, error: str) -> None:
    with pytest.raises(ConfigError, match=error):
        settings_from_toml({"messaging": messaging})


class Answering:
    """Injects one transport's outcome (a broker refusing a message cannot be caused
    on demand on a real one)."""

    def __init__(self, results: list[BatchResult]) -> None:
        self.results = results

    async def publish_batch(self, envelopes: list[Envelope]) -> list[BatchResult]:
        return self.results

    async def keepalive(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def test_a_row_is_sent_only_when_every_transport_took_it() -> None:
    failure = BrokerError("refused")
    both = BothPublishers([Answering([True, True, False]),
                           Answering([True, failure, True])])
    envelope = Envelope("t", b"{}", BasicProperties(), Message())
    assert await both.publish_batch([envelope] * 3) == [True, failure, False]
