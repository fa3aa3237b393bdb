"""One call for an entry point (`ctsd serve|relay|consume|...`, or a gunicorn config):
logging as `[logging]` says, then tracing as the `OTEL_*` variables say."""

from __future__ import annotations

from ctsd.config import Settings
from ctsd.observability.logs import setup_logging
from ctsd.observability.tracing import configure_tracing


def setup_observability(settings: Settings) -> None:
    """Call once per process, before creating the app or any engine; with several
    workers, before forking them. Raises TracingConfigError for an unknown exporter."""
    setup_logging(settings.log)
    configure_tracing()
