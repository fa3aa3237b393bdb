"""What an operator sees of ctsd: traces (OpenTelemetry), metrics (Prometheus) and logs.

Everything here is off or cheap by default: tracing costs nothing until an
`OTEL_TRACES_EXPORTER` is set, metrics are process-local until `ctsd serve` runs
several workers, and logging is plain text at INFO unless `[logging]` says otherwise.
"""
