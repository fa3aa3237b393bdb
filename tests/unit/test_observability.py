"""Observability pieces without I/O: [logging] parsing, the log formats, trace context
on the wire and off it, and what start-up lines show of secrets."""

from __future__ import annotations

import io
import json
import logging

import pytest
from pika.spec import BasicProperties

from ctsd.amqp import Delivery
from ctsd.config import ConfigError, settings_from_toml
from ctsd.observability.announce import safe_amqp_url, safe_database_url
from ctsd.observability.bus_tracing import delivery_traceparent
from ctsd.observability.logs import REQUEST_ID, LoggingSettings, parse_logging, setup_logging
from ctsd.observability.metrics_setup import _pid_of
from ctsd.observability.tracing import TracingConfigError, exporter_from_environment
from ctsd.relay.wire import OutboxRow, envelope_for
from tests.examples import published_example as example

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_logging_table_is_parsed_and_checked():
    assert parse_logging({}) == LoggingSettings("INFO", "text", False)
    assert parse_logging({"level": "debug", "format": "json", "access_log": True}) == (
        LoggingSettings("DEBUG", "json", True))
    for bad in ({"level": "LOUD"}, {"format": "xml"}, {"access_log": "yes"}, {"colour": 1}):
        with pytest.raises(ConfigError):
            settings_from_toml({"logging": bad})


@pytest.fixture
def restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_format_is_one_object_per_line_with_the_request_id(restore_root_logger):
    stream = io.StringIO()
    setup_logging(LoggingSettings(format="json"), stream)
    token = REQUEST_ID.set("req-1")
    try:
        logging.getLogger("ctsd.test").warning("two\nlines")
    finally:
        REQUEST_ID.reset(token)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("ctsd.test").exception("failed")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["message"] == "two\nlines" and first["request_id"] == "req-1"
    assert first["level"] == "WARNING" and first["logger"] == "ctsd.test" and first["time"]
    assert "request_id" not in second and "ValueError: boom" in second["exc_info"]


def test_text_format_appends_the_ids(restore_root_logger):
    stream = io.StringIO()
    setup_logging(LoggingSettings(level="WARNING"), stream)
    logging.getLogger("ctsd.test").info("hidden")
    token = REQUEST_ID.set("req-2")
    logging.getLogger("ctsd.test").warning("shown")
    REQUEST_ID.reset(token)
    [line] = stream.getvalue().splitlines()
    assert line.endswith("ctsd.test WARNING shown request_id=req-2")


def test_tracing_switch_is_otel_traces_exporter():
    assert exporter_from_environment({}) is None
    assert exporter_from_environment({"OTEL_TRACES_EXPORTER": "none"}) is None
    assert exporter_from_environment({"OTEL_TRACES_EXPORTER": "otlp",
                                      "OTEL_SDK_DISABLED": "true"}) is None
    assert exporter_from_environment({"OTEL_TRACES_EXPORTER": "console"}) is not None
    with pytest.raises(TracingConfigError):
        exporter_from_environment({"OTEL_TRACES_EXPORTER": "zipkin"})


def test_a_stored_traceparent_goes_out_as_body_key_and_header():
    body = example("compose-created")
    envelope = envelope_for(OutboxRow(1, "id-1", "cts.compose-created", body,
                                      "c", traceparent=TRACEPARENT))
    assert json.loads(envelope.body)["traceparent"] == TRACEPARENT
    assert envelope.properties.headers["traceparent"] == TRACEPARENT
    untraced = envelope_for(OutboxRow(2, "id-2", "cts.compose-created", body, "c"))
    assert "traceparent" not in json.loads(untraced.body)
    assert "traceparent" not in untraced.properties.headers


def delivery(body: bytes, headers: dict | None = None) -> Delivery:
    return Delivery(1, "amq.topic", "t", BasicProperties(headers=headers), body, False)


def test_a_delivery_traceparent_comes_from_the_header_else_the_body():
    other = "00-" + "1" * 32 + "-" + "2" * 16 + "-01"
    body = json.dumps({"traceparent": other}).encode()
    headers = {"traceparent": TRACEPARENT.encode()}  # pika may hand header values as bytes
    assert delivery_traceparent(delivery(body, headers)) == TRACEPARENT
    assert delivery_traceparent(delivery(body)) == other
    assert delivery_traceparent(delivery(b'{"a": 1}')) is None
    assert delivery_traceparent(delivery(b'"traceparent" but not json')) is None


def test_start_up_lines_hide_passwords():
    assert safe_database_url("postgresql://cts:secret@db/cts") == "postgresql://cts:***@db/cts"
    assert safe_amqp_url("amqps://cts:secret@mq:5671/%2F") == "amqps://cts:***@mq:5671/%2F"
    assert safe_amqp_url("amqp://mq/") == "amqp://mq/"


def test_worker_pids_are_read_from_metric_file_names():
    assert _pid_of("counter_4087.db") == 4087
    assert _pid_of("gauge_livesum_4088.db") == 4088
    assert _pid_of("notes.db") is None
