"""The broker connection settings of `[messaging]`, optionally read from a standard
fedora-messaging TOML file (`fedora_messaging_config = "/etc/fedora-messaging/x.toml"`).

Keys read from that file are those fedora-messaging documents: `amqp_url`,
`publish_exchange`, `topic_prefix`, `[tls]` `ca_cert` / `keyfile` / `certfile` and
`[client_properties]`. Keys set in `[messaging]` itself win over the file's.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ctsd.broker.amqp1_settings import (
    Amqp1ConfigError,
    Amqp1Settings,
    parse_amqp1,
    parse_transports,
)

SASL_MECHANISMS = ("", "EXTERNAL", "PLAIN")  # "": EXTERNAL with a certificate, else PLAIN
DEFAULT_HEARTBEAT = 10
DEFAULT_CONNECTION_TIMEOUT = 10.0
_TLS_KEYS = ("ca_cert", "certfile", "keyfile")
# [consumer] keys about the queue's broker side, and their Settings fields:
# queue_type "quorum" is replicated (survives a cluster node's loss); with a single
# active consumer, of several `ctsd consume` on the queue one gets the messages, in
# order, and the broker hands over when it goes; sender_from_topic: a request on
# <prefix>request.<action>.<user> without user_id acts as <user>, which is safe only
# with the broker's topic permissions set (README).
CONSUMER_BROKER_KEYS = {"queue_type": "consumer_queue_type",
                        "single_active_consumer": "consumer_single_active",
                        "sender_from_topic": "consumer_sender_from_topic"}


class BrokerConfigError(ValueError):
    """The broker settings cannot be used; the message names the key."""


@dataclass(frozen=True)
class BrokerSettings:
    """How to connect: TLS files, SASL mechanism, heartbeat, timeouts, client properties.

    The URLs themselves stay in `Settings.amqp_url` (see `broker_urls`)."""

    ca_cert: str = ""
    certfile: str = ""
    keyfile: str = ""
    sasl_mechanism: str = ""
    # Seconds; a peer silent for two intervals is dead (a crashed host, a cut link).
    heartbeat: int = DEFAULT_HEARTBEAT
    connection_timeout: float = DEFAULT_CONNECTION_TIMEOUT
    client_properties: tuple[tuple[str, str], ...] = field(default=())
    # Where the relay publishes: "amqp" (AMQP 0-9-1, amqp_url), "amqp1" (AMQP 1.0, UMB).
    transports: tuple[str, ...] = ("amqp",)
    amqp1: Amqp1Settings | None = None

    @property
    def uses_certificate(self) -> bool:
        return bool(self.certfile)


def broker_urls(amqp_url: str) -> tuple[str, ...]:
    """The broker URLs in `amqp_url`: one, or several separated by spaces or commas
    (the nodes of a cluster, tried in turn)."""
    return tuple(part for part in re.split(r"[\s,]+", amqp_url) if part)


def safe_url(url: str) -> str:
    """The URL without its password, for logs and health answers."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def messaging_values(messaging: dict[str, Any]) -> dict[str, Any]:
    """Settings fields from a `[messaging]` table (and the fedora-messaging file it
    names): amqp_url, publish_exchange, topic_prefix and broker."""
    merged = _fedora_messaging_file(messaging.get("fedora_messaging_config"))
    merged.update({k: v for k, v in messaging.items()
                   if k not in ("tls", "client_properties", "amqp1")})
    tls = {**merged.pop("tls", {}), **_table(messaging, "tls")}
    properties = {**merged.pop("client_properties", {}), **_table(messaging, "client_properties")}
    values: dict[str, Any] = {}
    if "amqp_url" in merged:
        values["amqp_url"] = _urls(merged["amqp_url"])
    for key in ("publish_exchange", "topic_prefix"):
        if key in merged:
            values[key] = merged[key]
    values["broker"] = _broker(merged, tls, properties)
    try:
        amqp1 = parse_amqp1(messaging.get("amqp1"), tls)
        transports = parse_transports(merged.get("transports"))
    except Amqp1ConfigError as exc:
        raise BrokerConfigError(str(exc)) from exc
    if "amqp1" in transports and amqp1 is None:
        raise BrokerConfigError('[messaging] transports has "amqp1" but there is no '
                                "[messaging.amqp1] table")
    values["broker"] = replace(values["broker"], transports=transports, amqp1=amqp1)
    return values


def _broker(merged: dict[str, Any], tls: dict[str, Any],
            properties: dict[str, Any]) -> BrokerSettings:
    unknown = set(tls) - set(_TLS_KEYS)
    if unknown:
        raise BrokerConfigError(f"unknown [messaging.tls] keys: {sorted(unknown)}")
    files = {key: _string(tls.get(key, ""), f"[messaging.tls] {key}") for key in _TLS_KEYS}
    if bool(files["certfile"]) != bool(files["keyfile"]):
        raise BrokerConfigError("[messaging.tls] certfile and keyfile go together")
    mechanism = str(merged.get("sasl_mechanism", "")).upper()
    if mechanism not in SASL_MECHANISMS:
        raise BrokerConfigError("[messaging] sasl_mechanism must be EXTERNAL or PLAIN")
    if mechanism == "EXTERNAL" and not files["certfile"]:
        raise BrokerConfigError("[messaging] sasl_mechanism EXTERNAL needs a client "
                                "certificate ([messaging.tls] certfile and keyfile)")
    heartbeat = merged.get("heartbeat", DEFAULT_HEARTBEAT)
    timeout = merged.get("connection_timeout", DEFAULT_CONNECTION_TIMEOUT)
    if isinstance(heartbeat, bool) or not isinstance(heartbeat, int) or heartbeat < 0:
        raise BrokerConfigError("[messaging] heartbeat must be whole seconds (0: none)")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
        raise BrokerConfigError("[messaging] connection_timeout must be positive seconds")
    return BrokerSettings(
        ca_cert=files["ca_cert"], certfile=files["certfile"], keyfile=files["keyfile"],
        sasl_mechanism=mechanism, heartbeat=heartbeat, connection_timeout=float(timeout),
        client_properties=tuple((str(k), str(v)) for k, v in properties.items()))


def _fedora_messaging_file(path: Any) -> dict[str, Any]:
    if not path:
        return {}
    try:
        with Path(_string(path, "[messaging] fedora_messaging_config")).open("rb") as handle:
            raw = tomllib.load(handle)
    except OSError as exc:
        raise BrokerConfigError(f"cannot read fedora_messaging_config {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BrokerConfigError(f"fedora_messaging_config {path}: {exc}") from exc
    values: dict[str, Any] = {key: raw[key] for key in ("amqp_url", "publish_exchange")
                              if key in raw}
    if raw.get("topic_prefix"):
        # fedora-messaging joins its prefix and every topic with a dot; ours ends in one.
        values["topic_prefix"] = f"{str(raw['topic_prefix']).rstrip('.')}.cts."
    values["tls"] = {key: value for key, value in _table(raw, "tls").items()
                     if key in _TLS_KEYS and value}
    values["client_properties"] = _table(raw, "client_properties")
    return values


def _urls(raw: Any) -> str:
    if isinstance(raw, str):
        return raw
    if isinstance(raw, list) and all(isinstance(url, str) for url in raw):
        return " ".join(raw)
    raise BrokerConfigError("[messaging] amqp_url must be a URL or a list of URLs")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BrokerConfigError(f"{where} must be a string")
    return value


def _table(raw: dict[str, Any], name: str) -> dict[str, Any]:
    value = raw.get(name, {})
    if not isinstance(value, dict):
        raise BrokerConfigError(f"[{name}] must be a table")
    return value


def validate_broker(amqp_url: str, broker: BrokerSettings, queue_type: str) -> None:
    """Fail on settings that cannot work together (a certificate over plain AMQP)."""
    if queue_type not in ("classic", "quorum"):
        raise BrokerConfigError('[consumer] queue_type must be "classic" or "quorum"')
    for url in broker_urls(amqp_url):
        scheme = urlsplit(url).scheme
        if scheme not in ("amqp", "amqps"):
            raise BrokerConfigError(f"broker URL {safe_url(url)!r}: scheme must be amqp "
                                    "or amqps")
        if broker.uses_certificate and scheme != "amqps":
            raise BrokerConfigError(f"broker URL {safe_url(url)!r}: a client certificate "
                                    "needs an amqps:// URL")
