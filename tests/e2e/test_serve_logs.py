"""`ctsd serve` as an operator runs it: JSON log lines (read from the real process's
output, line by line), the access log, request and trace ids on a request's lines,
what it logs at start and stop, and its spans exported over OTLP."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tests.e2e.conftest import HOST, ServerGroup, stop
from tests.observability.otlp_receiver import otlp_receiver
from tests.observability.spans import new_traceparent

CONFIG = """
[logging]
level = "INFO"
format = "json"
access_log = true
"""


async def test_json_lines_with_request_and_trace_ids_and_otlp_export(tmp_path: Path,
                                                                    pg_database_url, http):
    config = tmp_path / "ctsd.toml"
    config.write_text(CONFIG)
    # A password the log must not show (the test cluster trusts local connections).
    database_url = pg_database_url.replace("postgres@", "postgres:hunter2@")
    traceparent, trace_id, caller_span = new_traceparent()
    async with otlp_receiver() as receiver:
        group = ServerGroup(tmp_path / "servers")
        # In a thread: this loop must go on answering the exporter meanwhile.
        [server] = await asyncio.to_thread(
            group.start, CTSD_CONFIG=str(config), CTSD_DATABASE_URL=database_url,
                               OTEL_TRACES_EXPORTER="otlp",
                               OTEL_EXPORTER_OTLP_ENDPOINT=receiver.url.rstrip("/"),
                               OTEL_SERVICE_NAME="ctsd-under-test",
                               OTEL_BSP_SCHEDULE_DELAY="100")
        async with http.get(f"{server.base_url}/api/1/composes/",
                            headers={"X-Request-ID": "req-test-1",
                                     "traceparent": traceparent}) as response:
            assert response.status == 200
            assert response.headers["X-Request-ID"] == "req-test-1"
        assert await asyncio.to_thread(stop, server) == 0
        deadline = time.monotonic() + 10
        while not any(s.trace_id == trace_id for s in receiver.spans) and (
                time.monotonic() < deadline):
            await asyncio.sleep(0.1)
    lines = server.stderr().splitlines()
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    [access] = [r for r in records if r["logger"] == "ctsd.access"
                and "/api/1/composes/" in r["message"]]
    assert access["request_id"] == "req-test-1"
    assert access["trace_id"] == trace_id
    assert f"{HOST} GET /api/1/composes/ 200" in access["message"]
    [start] = [r for r in records if r["message"].startswith("ctsd serve starting")]
    assert f"HTTP API on {HOST}:" in start["message"]
    assert "postgresql://postgres:***@127.0.0.1" in start["message"]
    assert f"config file {config}" in start["message"]
    assert "auth backend noauth" in start["message"] and "tracing on" in start["message"]
    assert "hunter2" not in server.stderr()
    assert records[-1]["message"] == "ctsd serve stopped"
    # The request's server span reached the collector, child of the caller's span.
    in_trace = [s for s in receiver.spans if s.trace_id == trace_id]
    [span] = [s for s in in_trace if s.name == "GET /api/1/composes/"]
    assert span.parent_span_id == caller_span and span.service_name == "ctsd-under-test"
    # ... and so did its statements, as its children.
    assert [s for s in in_trace if s.parent_span_id == span.span_id and s.name == "SELECT"]
