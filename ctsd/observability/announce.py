"""What `serve`, `relay` and `consume` say when they start and stop: what they serve,
where, and with which configuration, without passwords."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy.engine import make_url

from ctsd.config import DEFAULT_CONFIG_PATHS, Settings
from ctsd.observability import tracing

log = logging.getLogger("ctsd")


def config_file_used(explicit: str | None) -> str:
    """The file load_settings read (same search order), or a note that none was."""
    candidate = explicit or os.environ.get("CTSD_CONFIG")
    if candidate:
        return str(Path(candidate).resolve())
    for default in DEFAULT_CONFIG_PATHS:
        if Path(default).is_file():
            return str(Path(default).resolve())
    return "none (defaults and environment)"


def safe_database_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def safe_amqp_url(url: str) -> str:
    """The broker URL without its password (user and host stay: they say which)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def describe(settings: Settings, config_file: str) -> str:
    broker = (f"broker {safe_amqp_url(settings.amqp_url)}" if settings.amqp_url
              else "no broker configured (events wait in the outbox)")
    return (f"database {safe_database_url(settings.database_url)}, config file "
            f"{config_file}, auth backend {settings.auth_backend}, {broker}, tracing "
            f"{'on' if tracing.enabled() else 'off'}, log level {settings.log.level}")


@contextmanager
def announced(command: str, what: str, settings: Settings,
              config_file: str) -> Iterator[None]:
    """Log the start of `ctsd <command>` (`what` it serves and where) and its stop."""
    log.info("ctsd %s starting: %s; %s", command, what, describe(settings, config_file))
    try:
        yield
    finally:
        log.info("ctsd %s stopped", command)
