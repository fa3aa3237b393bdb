"""Outbox rows become fedora-messaging wire messages that a fedora-messaging consumer reads."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from fedora_messaging import message as fm_message

from ctsd.relay.wire import InvalidMessage, OutboxRow, envelope_for
from schemas import ComposeTaggedV1
from tests.examples import published_example as example

NOW = datetime(2026, 11, 24, 12, 0, 0, 123456, tzinfo=UTC)


def row(body, topic="cts.compose-tagged", **kwargs) -> OutboxRow:
    return OutboxRow(id=7, message_id=str(uuid.uuid4()), topic=topic, body=body,
                     ordering_key="test-1.0-20200526.0", **kwargs)


def test_properties_follow_fedora_messaging_with_the_outbox_message_id():
    source = row(example("compose-tagged"), in_reply_to="request-42")
    envelope = envelope_for(source, NOW)
    props = envelope.properties
    assert envelope.routing_key == "cts.compose-tagged"
    assert json.loads(envelope.body) == source.body
    assert props.message_id == source.message_id
    assert props.delivery_mode == 2
    assert (props.content_type, props.content_encoding) == ("application/json", "utf-8")
    assert props.correlation_id == "request-42"
    assert props.headers == {
        "fedora_messaging_schema": "cts.compose.tagged",
        "fedora_messaging_schema_package": "ctsd",
        "fedora_messaging_severity": 20,
        "sent-at": "2026-11-24T12:00:00+00:00",
        "priority": 0,
        "fedora_messaging_user_alice": True,
        "fedora_messaging_user_pungi": True,
    }


def test_the_same_row_gets_the_same_id_on_every_attempt():
    source = row(example("compose-tagged"))
    assert envelope_for(source).properties.message_id == envelope_for(source).properties.message_id


def test_a_fedora_messaging_consumer_reads_it_back():
    source = row(example("compose-tagged"), topic="stage.cts.compose-tagged")
    envelope = envelope_for(source, NOW)
    received = fm_message.get_message(envelope.routing_key, envelope.properties, envelope.body)
    assert isinstance(received, ComposeTaggedV1)
    assert received.id == source.message_id
    assert received.body == source.body
    assert received.topic == "stage.cts.compose-tagged"


def test_invalid_body_is_refused():
    body = example("compose-tagged")
    del body["compose"]
    with pytest.raises(InvalidMessage, match="compose"):
        envelope_for(row(body))


def test_event_without_schema_goes_out_as_base_message():
    body = {"event": "compose-frobnicated", "compose": {}, "agent": "alice"}
    envelope = envelope_for(row(body, topic="cts.compose-frobnicated"))
    assert envelope.properties.headers["fedora_messaging_schema"] == "base.message"
    received = fm_message.get_message(envelope.routing_key, envelope.properties, envelope.body)
    assert type(received) is fm_message.Message
