"""A local OTLP/HTTP trace sink for benchmarking with tracing on: it accepts what
ctsd's exporter sends (decoding it, as a collector would) and counts the spans.

    .venv/bin/python bench/otlp_sink.py --port 4318 &
    OTEL_TRACES_EXPORTER=otlp OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 \\
        .venv/bin/python bench/run_bench.py ...

It prints the span count when stopped (SIGINT/SIGTERM).
"""

from __future__ import annotations

import argparse
import gzip
import signal

from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

RECEIVED = web.AppKey("received", list)


async def traces(request: web.Request) -> web.Response:
    payload = await request.read()
    if request.headers.get("Content-Encoding") == "gzip":
        payload = gzip.decompress(payload)
    export = ExportTraceServiceRequest.FromString(payload)
    request.app[RECEIVED][0] += sum(len(scope.spans) for resource in export.resource_spans
                                    for scope in resource.scope_spans)
    return web.Response(body=ExportTraceServiceResponse().SerializeToString(),
                        content_type="application/x-protobuf")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4318)
    args = parser.parse_args()
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app[RECEIVED] = [0]
    app.router.add_post("/v1/traces", traces)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        web.run_app(app, host="127.0.0.1", port=args.port, print=None)
    finally:
        print(f"spans received: {app[RECEIVED][0]}", flush=True)


if __name__ == "__main__":
    main()
