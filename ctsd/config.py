"""Configuration: a TOML file, then environment overrides, then defaults.

With no file and no environment, the daemon runs on a SQLite file in the current
directory with the `noauth` backend, which is what a newcomer expects."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ctsd.auth.settings import (
    AuthConfigError,
    AuthSettings,
    auth_settings_from_toml,
    backend_names,
    parse_backends,
    validate_auth,
)
from ctsd.broker import settings as broker_config
from ctsd.config_values import (
    ConfigError,
    principals_from_toml,
    require_whole_number,
    to_driver_url,
    translate_paths,
)
from ctsd.contents_fetch.settings import (
    ContentsConfigError,
    ContentsFetchSettings,
    parse_contents,
)
from ctsd.observability.logs import LoggingConfigError, LoggingSettings, parse_logging
from ctsd.promotion_settings import WorkflowConfigError, WorkflowSettings, parse_workflow
from handlers.identity import PrincipalSet

# ConfigError, principals_from_toml and to_driver_url live in ctsd.config_values and are
# re-exported: callers import them from here.
__all__ = ["DEFAULT_CONFIG_PATHS", "ConfigError", "Principals", "Settings", "load_settings",
           "principals_from_toml", "settings_from_toml", "to_driver_url"]

DEFAULT_CONFIG_PATHS = ("ctsd.toml", "/etc/ctsd/ctsd.toml")


# A set of users and groups that hold one role (admins, allowed builders): the handlers'
# own type, so the configuration hands it over as it is.
Principals = PrincipalSet


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///ctsd.sqlite"
    database_pool_size: int = 16
    # Concurrent HTTP imports and tag changes of one process share transactions
    # (ctsd.group_commit).
    group_commit: bool = True
    # How many group transactions one process runs at once: more hides round trips
    # when the machine has CPU to spare, fewer makes bigger groups (see config/ctsd.toml).
    group_commit_transactions: int = 1
    http_host: str = "127.0.0.1"
    http_port: int = 5005
    http_workers: int = 1
    max_body_bytes: int = 1024 * 1024
    # A JSON body not complete by then (shorter than its Content-Length, or trickled)
    # answers 408 instead of holding the connection for as long as the client likes.
    http_body_timeout_seconds: int = 60
    # PUT /api/1/composes/{id}/rpms|images and the automatic fetch (after gunzip).
    contents_max_bytes: int = 100 * 1024 * 1024
    per_page_default: int = 10
    # Scripts of the existing CTS (no limit there) ask for 500 or 1,000 at a time.
    per_page_max: int = 1000
    trusted_proxies: frozenset[str] = frozenset()
    auth_backend: str = "noauth"
    # The real backends and group sources: ctsd.auth.settings, [auth.*] tables.
    auth: AuthSettings = field(default_factory=AuthSettings)
    tls_cert: str = ""  # HTTPS served by ctsd itself; tls_client_ca asks for client certs
    tls_key: str = ""
    tls_client_ca: str = ""
    admins: PrincipalSet = field(default_factory=PrincipalSet)
    allowed_builders: PrincipalSet = field(default_factory=PrincipalSet)
    topic_prefix: str = "cts."
    amqp_url: str = ""
    publish_exchange: str = "amq.topic"
    # TLS, SASL, heartbeat, client properties ([messaging], ctsd/broker/settings.py).
    broker: broker_config.BrokerSettings = field(default_factory=broker_config.BrokerSettings)
    idempotency_ttl_hours: int = 24
    # Published outbox rows older than this are deleted by `ctsd serve`; 0 keeps them.
    outbox_retention_days: int = 14
    # The bus consumer (`ctsd consume`); see [consumer] in config/ctsd.toml. Prefetch is
    # twice the batch: while one batch is being applied, the next one is on its way.
    consumer_queue: str = "ctsd"
    consumer_exchange: str = "amq.topic"
    consumer_prefetch: int = 100
    consumer_batch_size: int = 50
    # Queue type, single active consumer, senders named by topic: ctsd/broker/settings.py.
    consumer_queue_type: str = "classic"
    consumer_single_active: bool = True
    consumer_sender_from_topic: bool = False
    pungi_topics: tuple[str, ...] = ("org.fedoraproject.prod.pungi.compose.status.change",
                                     "pungi.compose.status.change")
    odcs_topics: tuple[str, ...] = ("org.fedoraproject.prod.odcs.compose.state-changed",
                                    "odcs.compose.state-changed")
    pungi_user: str = "pungi"
    odcs_user: str = "odcs"
    translate_paths: tuple[tuple[str, str], ...] = ()
    # Promotion ladder, reminders, expiry ([workflow], ctsd/promotion_settings.py).
    workflow: WorkflowSettings = field(default_factory=WorkflowSettings)
    # [logging]: level, text or JSON lines, access log (ctsd/observability/logs.py).
    log: LoggingSettings = field(default_factory=LoggingSettings)
    # The automatic fetch of compose contents ([contents], ctsd/contents_fetch/).
    contents: ContentsFetchSettings = field(default_factory=ContentsFetchSettings)

    @property
    def async_database_url(self) -> str:
        """The URL with the asyncio driver the HTTP server uses."""
        return to_driver_url(self.database_url, asynchronous=True)

    @property
    def sync_database_url(self) -> str:
        """The URL with the blocking driver that alembic migrations use."""
        return to_driver_url(self.database_url, asynchronous=False)

    @property
    def auth_backends(self) -> tuple[str, ...]:
        """The enabled backends, tried in this order."""
        return backend_names(self.auth_backend)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def settings_from_toml(raw: dict[str, Any]) -> dict[str, Any]:
    """Map the documented TOML layout (see config/ctsd.toml) onto Settings fields."""
    known = {"database", "http", "auth", "messaging", "consumer", "workflow", "logging",
             "contents"}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"unknown configuration sections: {sorted(unknown)}")
    db, http = _table(raw, "database"), _table(raw, "http")
    auth, msg = _table(raw, "auth"), _table(raw, "messaging")
    values: dict[str, Any] = {}
    mapping = [
        (db, "url", "database_url"), (db, "pool_size", "database_pool_size"),
        (db, "group_commit", "group_commit"),
        (db, "group_commit_transactions", "group_commit_transactions"),
        (http, "host", "http_host"), (http, "port", "http_port"),
        (http, "workers", "http_workers"), (http, "max_body_bytes", "max_body_bytes"),
        (http, "body_timeout_seconds", "http_body_timeout_seconds"),
        (http, "per_page_default", "per_page_default"), (http, "per_page_max", "per_page_max"),
        (http, "idempotency_ttl_hours", "idempotency_ttl_hours"),
        (http, "tls_cert", "tls_cert"), (http, "tls_key", "tls_key"),
        (http, "tls_client_ca", "tls_client_ca"),
        (http, "contents_max_bytes", "contents_max_bytes"),
        (msg, "outbox_retention_days", "outbox_retention_days"),
    ]
    for table, key, attr in mapping:
        if key in table:
            values[attr] = table[key]
    try:
        values.update(broker_config.messaging_values(msg))
    except broker_config.BrokerConfigError as exc:
        raise ConfigError(str(exc)) from exc
    if "trusted_proxies" in http:
        values["trusted_proxies"] = frozenset(http["trusted_proxies"])
    values.update(_consumer_settings(_table(raw, "consumer")))
    try:
        values["workflow"] = parse_workflow(_table(raw, "workflow"))
        values["log"] = parse_logging(_table(raw, "logging"))
    except (WorkflowConfigError, LoggingConfigError) as exc:
        raise ConfigError(str(exc)) from exc
    try:
        values["contents"] = parse_contents(_table(raw, "contents"))
    except (ContentsConfigError, TypeError) as exc:
        raise ConfigError(str(exc)) from exc
    values.update(_auth_settings(auth))
    values["admins"] = principals_from_toml(auth.get("admins"), "[auth.admins]")
    values["allowed_builders"] = principals_from_toml(
        auth.get("allowed_builders"), "[auth.allowed_builders]"
    )
    return values


def _auth_settings(auth: dict[str, Any]) -> dict[str, Any]:
    try:
        values: dict[str, Any] = {"auth": auth_settings_from_toml(auth)}
        if "backend" in auth:
            values["auth_backend"] = parse_backends(auth["backend"])
    except (AuthConfigError, TypeError) as exc:
        raise ConfigError(str(exc)) from exc
    return values


def _consumer_settings(consumer: dict[str, Any]) -> dict[str, Any]:
    unknown = set(consumer) - {"queue", "exchange", "prefetch_count", "batch_size",
                               "pungi_topics", "odcs_topics", "pungi_user", "odcs_user",
                               "translate_paths", *broker_config.CONSUMER_BROKER_KEYS}
    if unknown:
        raise ConfigError(f"unknown [consumer] keys: {sorted(unknown)}")
    values: dict[str, Any] = {}
    for key, attr in [("queue", "consumer_queue"), ("exchange", "consumer_exchange"),
                      ("prefetch_count", "consumer_prefetch"),
                      ("batch_size", "consumer_batch_size"), ("pungi_user", "pungi_user"),
                      *broker_config.CONSUMER_BROKER_KEYS.items(),
                      ("odcs_user", "odcs_user")]:
        if key in consumer:
            values[attr] = consumer[key]
    for key in ("pungi_topics", "odcs_topics"):
        if key in consumer:
            topics = consumer[key]
            if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
                raise ConfigError(f"[consumer] {key} must be a list of topic strings")
            values[key] = tuple(topics)
    if "translate_paths" in consumer:
        values["translate_paths"] = translate_paths(consumer["translate_paths"])
    return values


ENVIRONMENT_OVERRIDES = {
    "CTSD_DATABASE_URL": ("database_url", str),
    "CTSD_HTTP_HOST": ("http_host", str),
    "CTSD_HTTP_PORT": ("http_port", int),
    "CTSD_HTTP_WORKERS": ("http_workers", int),
    "CTSD_AMQP_URL": ("amqp_url", str),
    "CTSD_TOPIC_PREFIX": ("topic_prefix", str),
    "CTSD_AUTH_BACKEND": ("auth_backend", str),
    "CTSD_CONSUMER_QUEUE": ("consumer_queue", str),
}


def load_settings(path: str | os.PathLike[str] | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Read the TOML file (explicit path, $CTSD_CONFIG, or the default places) and env."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    candidate = path or env.get("CTSD_CONFIG")
    if candidate:
        values.update(_read_toml(Path(candidate)))
    else:
        for default in DEFAULT_CONFIG_PATHS:
            if Path(default).is_file():
                values.update(_read_toml(Path(default)))
                break
    for name, (attr, convert) in ENVIRONMENT_OVERRIDES.items():
        if name in env:
            try:
                values[attr] = convert(env[name])
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from exc
    settings = Settings(**values)
    _validate(settings)
    return settings


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return settings_from_toml(tomllib.load(handle))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _validate(settings: Settings) -> None:
    to_driver_url(settings.database_url, asynchronous=True)
    try:
        validate_auth(settings.auth_backends, settings.auth, tls_cert=settings.tls_cert,
                      tls_client_ca=settings.tls_client_ca,
                      trusted_proxies=settings.trusted_proxies)
    except AuthConfigError as exc:
        raise ConfigError(str(exc)) from exc
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ConfigError("[http] tls_cert and tls_key go together")
    if not 1 <= settings.per_page_default <= settings.per_page_max:
        raise ConfigError("per_page_default must be between 1 and per_page_max")
    require_whole_number(settings.group_commit_transactions, 1,
                         "[database] group_commit_transactions")
    require_whole_number(settings.http_body_timeout_seconds, 1, "[http] body_timeout_seconds")
    require_whole_number(settings.outbox_retention_days, 0,
                         "[messaging] outbox_retention_days",
                         " (days; 0 keeps published events forever)")
    if not settings.consumer_queue or settings.consumer_prefetch < 1:
        raise ConfigError("[consumer] queue must be non-empty and prefetch_count at least 1")
    if settings.consumer_batch_size < 1:
        raise ConfigError("[consumer] batch_size must be at least 1")
    try:
        broker_config.validate_broker(settings.amqp_url, settings.broker,
                                      settings.consumer_queue_type)
    except broker_config.BrokerConfigError as exc:
        raise ConfigError(str(exc)) from exc
