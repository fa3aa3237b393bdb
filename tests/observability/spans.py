"""Tracing under test: an in-memory exporter for this process's spans, W3C traceparents
made up for a test, and a trace printed as a tree."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ctsd.observability import tracing


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """Tracing on for this test (apps and engines created inside it are traced)."""
    exporter = InMemorySpanExporter()
    tracing.enable(SimpleSpanProcessor(exporter))
    yield exporter
    tracing.disable()


def new_traceparent() -> tuple[str, str, str]:
    """(traceparent, trace id, span id) of a made-up remote caller."""
    trace_id, span_id = os.urandom(16).hex(), os.urandom(8).hex()
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def trace_id_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.trace_id:032x}"


def span_id_of(span: ReadableSpan) -> str:
    assert span.context is not None
    return f"{span.context.span_id:016x}"


def parent_id_of(span: ReadableSpan) -> str | None:
    return f"{span.parent.span_id:016x}" if span.parent is not None else None


def tree(spans: Sequence[ReadableSpan], root_parent: str | None) -> str:
    """The spans as an indented tree under the (remote) parent `root_parent`."""
    children: dict[str | None, list[ReadableSpan]] = {}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        children.setdefault(parent_id_of(span), []).append(span)
    lines = [f"(caller span {root_parent})"]

    def walk(parent: str | None, depth: int) -> None:
        for span in children.get(parent, []):
            ms = ((span.end_time or 0) - (span.start_time or 0)) / 1e6
            lines.append(f"{'  ' * depth}- {span.name} [{span.kind.name.lower()}] {ms:.1f} ms")
            walk(span_id_of(span), depth + 1)

    walk(root_parent, 1)
    return "\n".join(lines)
