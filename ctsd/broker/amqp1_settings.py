"""`[messaging.amqp1]`: publishing to (and consuming from) an AMQP 1.0 broker such as
Red Hat's UMB (ActiveMQ), next to or instead of RabbitMQ.

    [messaging]
    transports = ["amqp", "amqp1"]      # default ["amqp"]: AMQP 0-9-1 only
    [messaging.amqp1]
    url = "amqps://umb.example.com:5671"  # or a list: tried in turn
    address = "topic://VirtualTopic.eng.cts.{event}"
    # TLS files: [messaging.tls]'s unless given here (ca_cert, certfile, keyfile)
    # `ctsd consume` reads this queue instead of its AMQP 0-9-1 one when it is set:
    consume_from = "queue://Consumer.cts.VirtualTopic.eng.>"
    dead_letter_address = "queue://cts.dead-letter"

`{event}` is the topic without the topic prefix (compose-tagged), `{topic}` the whole
topic. RabbitMQ's AMQP 1.0 plugin takes `/topic/{topic}` (amq.topic) and
`/exchange/<name>/{topic}`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

TRANSPORTS = ("amqp", "amqp1")
DEFAULT_ADDRESS = "topic://VirtualTopic.eng.cts.{event}"


class Amqp1ConfigError(ValueError):
    """[messaging.amqp1] cannot be used; the message names the key."""


@dataclass(frozen=True)
class Amqp1Settings:
    urls: tuple[str, ...]
    address: str = DEFAULT_ADDRESS
    ca_cert: str = ""
    certfile: str = ""
    keyfile: str = ""
    consume_from: str = ""
    dead_letter_address: str = ""

    def address_for(self, topic: str, topic_prefix: str) -> str:
        return self.address.format(topic=topic, event=topic.removeprefix(topic_prefix))


def parse_transports(raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ("amqp",)
    if (not isinstance(raw, list) or not raw
            or not all(isinstance(name, str) and name in TRANSPORTS for name in raw)):
        raise Amqp1ConfigError(f"[messaging] transports must be a non-empty list of "
                               f"{' and '.join(TRANSPORTS)}")
    return tuple(dict.fromkeys(raw))


def parse_amqp1(raw: Any, tls: dict[str, str]) -> Amqp1Settings | None:
    """The [messaging.amqp1] table (None if absent); `tls`: [messaging.tls]'s files."""
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise Amqp1ConfigError("[messaging.amqp1] must be a table")
    unknown = set(raw) - {"url", "address", "ca_cert", "certfile", "keyfile",
                          "consume_from", "dead_letter_address"}
    if unknown:
        raise Amqp1ConfigError(f"unknown [messaging.amqp1] keys: {sorted(unknown)}")
    urls = raw.get("url", [])
    urls = [urls] if isinstance(urls, str) else urls
    if not urls or not all(isinstance(url, str) and url.startswith(("amqp://", "amqps://"))
                           for url in urls):
        raise Amqp1ConfigError("[messaging.amqp1] url must be one or more amqp(s):// URLs")
    address = raw.get("address", DEFAULT_ADDRESS)
    try:
        address.format(topic="t", event="e")
    except (AttributeError, KeyError, IndexError, ValueError) as exc:
        raise Amqp1ConfigError("[messaging.amqp1] address may use only {topic} and "
                               f"{{event}}: {exc}") from exc
    files = {key: str(raw.get(key, tls.get(key, ""))) for key in
             ("ca_cert", "certfile", "keyfile")}
    if bool(files["certfile"]) != bool(files["keyfile"]):
        raise Amqp1ConfigError("[messaging.amqp1] certfile and keyfile go together")
    consume_from = str(raw.get("consume_from", ""))
    dead_letter_address = str(raw.get("dead_letter_address", ""))
    if consume_from and not dead_letter_address:
        raise Amqp1ConfigError("[messaging.amqp1] consume_from needs a dead_letter_address "
                               "(where refused messages go)")
    return Amqp1Settings(tuple(urls), address, **files, consume_from=consume_from,
                         dead_letter_address=dead_letter_address)
