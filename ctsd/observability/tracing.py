"""OpenTelemetry tracing, off unless `OTEL_TRACES_EXPORTER` names an exporter.

The one switch is the standard `OTEL_TRACES_EXPORTER`: `otlp` (OTLP over HTTP/protobuf,
configured by the standard `OTEL_EXPORTER_OTLP_*` variables) or `console`; unset or
`none` leaves tracing off, and so does `OTEL_SDK_DISABLED=true`. `OTEL_SERVICE_NAME`
and `OTEL_RESOURCE_ATTRIBUTES` name the service (default `ctsd`).

While tracing is off nothing here installs a middleware or an engine listener, and
`current_traceparent` answers None after one attribute read, so the hot paths pay
nothing. The W3C `traceparent` of a traced change is stored with its outbox row; the
relay and the consumer continue those traces (ctsd.observability.bus_tracing).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aiohttp_server import AioHttpServerInstrumentor
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.metrics import NoOpMeter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ParentBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

EXPORTER_VARIABLE = "OTEL_TRACES_EXPORTER"
DEFAULT_SERVICE_NAME = "ctsd"
_W3C = TraceContextTextMapPropagator()

# Bus commands applied in one transaction each keep their own message's trace: the
# consumer maps message id -> traceparent here, and the unit of work looks its
# command's up by the id it answers (`outbox_traceparent`).
MESSAGE_TRACES: ContextVar[Mapping[str, str] | None] = ContextVar("cts_message_traces",
                                                                  default=None)


class TracingConfigError(ValueError):
    """OTEL_TRACES_EXPORTER names an exporter ctsd does not have."""


@dataclass
class _State:
    provider: TracerProvider | None = None
    tracer: trace.Tracer | None = None
    # For statement spans: kept only inside a request, publish or consumed message.
    statements: trace.Tracer | None = None


_STATE = _State()


def enabled() -> bool:
    return _STATE.tracer is not None


def tracer() -> trace.Tracer:
    """The tracer of ctsd's own spans; only call while `enabled()`."""
    assert _STATE.tracer is not None, "tracing is off"
    return _STATE.tracer


def exporter_from_environment(environ: Mapping[str, str]) -> SpanExporter | None:
    """The exporter OTEL_TRACES_EXPORTER asks for, or None: tracing stays off."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    name = environ.get(EXPORTER_VARIABLE, "").strip().lower()
    if name in ("", "none"):
        return None
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        return OTLPSpanExporter()  # configured by OTEL_EXPORTER_OTLP_* itself
    raise TracingConfigError(f"{EXPORTER_VARIABLE}={name!r}: ctsd exports traces with "
                             "'otlp' (HTTP/protobuf) or 'console', or 'none'")


def configure_tracing(environ: Mapping[str, str] | None = None) -> bool:
    """Turn tracing on if the environment asks for it (once per process, before any
    app or engine is created); True if it is on."""
    exporter = exporter_from_environment(os.environ if environ is None else environ)
    if exporter is None:
        return False
    enable(BatchSpanProcessor(exporter), global_provider=True)
    return True


def enable(processor: SpanProcessor, *, global_provider: bool = False) -> TracerProvider:
    """Trace through `processor` from now on (tests pass an in-memory exporter's)."""
    attributes: dict[str, Any] = {}
    if not os.environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = DEFAULT_SERVICE_NAME
    resource = Resource.create(attributes)
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(processor)
    # A statement outside any span (the relay polling an idle outbox every second, a
    # scrape's counts) would start a one-span trace of its own each time, filling the
    # trace store: statements get a provider that never starts a trace, only joins one.
    statements = TracerProvider(resource=resource, shutdown_on_exit=False,
                                sampler=ParentBased(root=ALWAYS_OFF))
    statements.add_span_processor(processor)
    if global_provider:
        trace.set_tracer_provider(provider)
    # The instrumentation adds its server-span middleware (outermost) to every
    # aiohttp Application created from now on: the app factory needs no change.
    with warnings.catch_warnings():
        # It subclasses web.Application to do so, which aiohttp frowns upon (a warning).
        warnings.simplefilter("ignore", DeprecationWarning)
        AioHttpServerInstrumentor().instrument(tracer_provider=provider)
    _STATE.provider = provider
    _STATE.tracer = provider.get_tracer("ctsd")
    _STATE.statements = statements.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    return provider


def disable() -> None:
    """Stop tracing what starts from now on (tests); spans already open still end."""
    if _STATE.provider is not None:
        _STATE.provider.force_flush()
        AioHttpServerInstrumentor().uninstrument()
    _STATE.provider = None
    _STATE.tracer = None
    _STATE.statements = None


def instrument_engine(engine: AsyncEngine) -> AsyncEngine:
    """A span per statement on `engine` while tracing is on, inside whatever span is
    current (none outside one); returns the engine."""
    if _STATE.statements is None:
        return engine
    connections = NoOpMeter("ctsd").create_up_down_counter("db.client.connections.usage")
    EngineTracer(  # type: ignore[no-untyped-call]
        _STATE.statements, engine.sync_engine, connections)
    return engine


def traceparent_of(context: trace.SpanContext) -> str | None:
    if not context.is_valid:
        return None
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None (tracing off, or no span)."""
    if _STATE.tracer is None:
        return None
    return traceparent_of(trace.get_current_span().get_span_context())


def outbox_traceparent(in_reply_to: str | None) -> str | None:
    """The traceparent to store with an event: its bus message's, else the current one."""
    if _STATE.tracer is None:
        return None
    traces = MESSAGE_TRACES.get()
    if traces is not None and in_reply_to is not None and in_reply_to in traces:
        return traces[in_reply_to]
    return current_traceparent()


def context_from(traceparent: str | None, tracestate: str | None = None) -> Context | None:
    """The remote parent a W3C traceparent names (None if absent or malformed)."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    context = _W3C.extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None
