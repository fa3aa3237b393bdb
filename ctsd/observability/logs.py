"""Logging as `[logging]` asks: level, text or JSON lines, and the request/trace ids.

`format = "json"` writes one JSON object per line (journald and log shippers keep each
record whole, tracebacks included): `time`, `level`, `logger`, `message`, plus
`request_id`, `trace_id` and `span_id` on lines written while serving a request or
inside a span. `format = "text"` (the default) appends the same ids as `key=value`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from pythonjsonlogger.json import JsonFormatter

from ctsd.observability import tracing

# Set by the HTTP request-context middleware (ctsd.observability.http) per request.
REQUEST_ID: ContextVar[str | None] = ContextVar("cts_request_id", default=None)

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(name)s %(levelname)s %(message)s%(context)s"


class LoggingConfigError(ValueError):
    """A [logging] key has a value ctsd cannot use."""


@dataclass(frozen=True)
class LoggingSettings:
    level: str = "INFO"
    format: str = "text"
    # One line per HTTP request (logger ctsd.access) at INFO.
    access_log: bool = False


def parse_logging(table: Mapping[str, Any]) -> LoggingSettings:
    """The [logging] table (config/ctsd.toml) as settings; unknown keys are refused."""
    unknown = set(table) - {"level", "format", "access_log"}
    if unknown:
        raise LoggingConfigError(f"unknown [logging] keys: {sorted(unknown)}")
    level = str(table.get("level", "INFO")).upper()
    if level not in LEVELS:
        raise LoggingConfigError(f"[logging] level must be one of {', '.join(LEVELS)}")
    form = table.get("format", "text")
    if form not in FORMATS:
        raise LoggingConfigError('[logging] format must be "text" or "json"')
    access_log = table.get("access_log", False)
    if not isinstance(access_log, bool):
        raise LoggingConfigError("[logging] access_log must be true or false")
    return LoggingSettings(level, form, access_log)


class ContextFilter(logging.Filter):
    """Stamp each record with the request id and the current trace and span ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        context: dict[str, str] = {}
        request_id = REQUEST_ID.get()
        if request_id is not None:
            context["request_id"] = request_id
        if tracing.enabled():
            span = trace.get_current_span().get_span_context()
            if span.is_valid:
                context["trace_id"] = f"{span.trace_id:032x}"
                context["span_id"] = f"{span.span_id:016x}"
        for key, value in context.items():
            setattr(record, key, value)
        record.context = "".join(f" {key}={value}" for key, value in context.items())
        return True


class _JsonLines(JsonFormatter):
    def add_fields(self, log_record: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        super().add_fields(log_record, record, message_dict)
        log_record.pop("context", None)  # the text format's rendering of the same ids


def formatter_for(settings: LoggingSettings) -> logging.Formatter:
    if settings.format == "json":
        return _JsonLines(["levelname", "name", "message"], timestamp="time",
                          rename_fields={"levelname": "level", "name": "logger"},
                          json_ensure_ascii=False)
    return logging.Formatter(TEXT_FORMAT)


def setup_logging(settings: LoggingSettings, stream: Any = None) -> None:
    """Replace the root logger's handlers with one writing to stderr as configured."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(formatter_for(settings))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
