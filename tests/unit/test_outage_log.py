"""During a database outage the 503s are logged as one line per window plus one count,
not one line each (ctsd/api/outage_log.py)."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ctsd.api.outage_log import OutageLog

LOGGER = "test.outage"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def outage_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER]


async def test_a_burst_of_503s_is_one_line_then_one_count(caplog):
    caplog.set_level(logging.WARNING, LOGGER)
    clock = Clock()
    outages = OutageLog(logging.getLogger(LOGGER), window_seconds=0.2, clock=clock)
    for n in range(800):
        clock.now = 100.0 + n * 0.0001  # 800 refusals within 0.08 s
        outages.record(f"GET /api/1/composes/{n}: ConnectionRefusedError")
    assert outage_lines(caplog) == [
        "database unavailable on GET /api/1/composes/0: ConnectionRefusedError (503; more "
        "within 0.2 s are counted, then logged as one line)"]
    await asyncio.sleep(0.3)  # the window ends with no further request: its count is logged
    lines = outage_lines(caplog)
    assert len(lines) == 2
    assert lines[1].startswith("database unavailable: 799 more requests answered 503")


async def test_each_window_starts_with_a_line_of_its_own(caplog):
    caplog.set_level(logging.WARNING, LOGGER)
    clock = Clock()
    outages = OutageLog(logging.getLogger(LOGGER), window_seconds=10, clock=clock)
    outages.record("GET /a: OSError")
    outages.record("GET /b: OSError")
    clock.now += 11  # the next window: its first refusal is logged at once, after the count
    outages.record("GET /c: OSError")
    lines = outage_lines(caplog)
    assert [line.split(" (")[0].split(":")[0] for line in lines] == [
        "database unavailable on GET /a", "database unavailable",
        "database unavailable on GET /c"]
    assert "1 more requests" in lines[1]
