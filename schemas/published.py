"""Schemas of the change messages CTS publishes, one fedora-messaging class per topic.

The bodies are the contract of docs/messages.md: existing consumers (UMB Jenkins triggers,
fedmsg_meta_umb) read them, so a class is never edited in a way that rejects a body it
accepted before; a new shape gets a new class (V2) and a new entry point.

Topics carry a deployment-specific prefix (`cts.` by default, with an environment in
front on some buses), so the classes validate only the body and never the topic: the
`topic` attribute below is just the default for a message built by hand.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from fedora_messaging.message import INFO, Message

DRAFT_04 = "http://json-schema.org/draft-04/schema#"

_STRINGS = {"type": "array", "items": {"type": "string"}}
NULLABLE_STRING = {"type": ["string", "null"]}

# The productmd ComposeInfo serialisation, as far as consumers rely on it: Jenkins
# triggers filter on payload.release.short/version, fedmsg_meta_umb reads
# payload.compose.id. Everything else productmd writes is allowed through unchecked.
COMPOSE_INFO_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["header", "payload"],
    "properties": {
        "header": {
            "type": "object",
            "required": ["type", "version"],
            "properties": {"type": {"enum": ["productmd.composeinfo"]},
                           "version": {"type": "string"}},
        },
        "payload": {
            "type": "object",
            "required": ["compose", "release"],
            "properties": {
                "compose": {
                    "type": "object",
                    "required": ["id", "date", "respin", "type"],
                    "properties": {
                        "id": {"type": "string", "minLength": 1},
                        "date": {"type": "string", "pattern": "^[0-9]{8}$"},
                        "respin": {"type": "integer", "minimum": 0},
                        "type": {"type": "string"},
                        "label": {"type": "string"},
                        "final": {"type": "boolean"},
                    },
                },
                "release": {
                    "type": "object",
                    "required": ["name", "short", "version", "type"],
                    "properties": {
                        "name": {"type": "string"}, "short": {"type": "string"},
                        "version": {"type": "string"}, "type": {"type": "string"},
                        "is_layered": {"type": "boolean"}, "internal": {"type": "boolean"},
                    },
                },
                "base_product": {"type": "object"},
                "variants": {"type": "object"},
            },
        },
    },
}

# The compose representation of api-v1.md, as it is after the change.
COMPOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["compose_info", "builder", "tags", "parents", "children", "respin_of",
                 "respun_by", "compose_url"],
    "properties": {
        "compose_info": COMPOSE_INFO_SCHEMA,
        "builder": {"type": "string"},
        "tags": _STRINGS,
        "parents": _STRINGS,
        "children": _STRINGS,
        "respin_of": NULLABLE_STRING,
        "respun_by": _STRINGS,
        "compose_url": NULLABLE_STRING,
    },
}


def compose_body_schema(event: str, description: str, *, tagging: bool = False) -> dict[str, Any]:
    """The body schema of one event; tag events also carry `tag` and `user_data`."""
    properties: dict[str, Any] = {
        "event": {"type": "string", "enum": [event]},
        "compose": COMPOSE_SCHEMA,
        # null for changes nobody authenticated made (none today, but the reference
        # service allowed it and consumers already cope).
        "agent": NULLABLE_STRING,
        # W3C trace context, when the change was traced.
        "traceparent": {"type": "string"},
    }
    required = ["event", "compose", "agent"]
    if tagging:
        properties["tag"] = {"type": "string", "minLength": 1}
        properties["user_data"] = NULLABLE_STRING
        required += ["tag", "user_data"]
    return {
        "$schema": DRAFT_04,
        "description": description,
        "type": "object",
        "required": required,
        "properties": properties,
    }


def dig(value: Any, *keys: str) -> Any:
    """`value[k1][k2]...`, or None when any level is missing: display code never raises."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class ComposeMessage(Message):
    """What every CTS change message offers: the compose after the change and who did it."""

    severity = INFO

    def happened(self) -> str:
        """What happened to the compose, as `summary` words it after the compose id."""
        return "was changed"

    @property
    def compose(self) -> dict[str, Any]:
        compose = dig(self.body, "compose")
        return compose if isinstance(compose, dict) else {}

    @property
    def compose_id(self) -> str | None:
        compose_id: str | None = dig(self.compose, "compose_info", "payload", "compose", "id")
        return compose_id

    @property
    def app_name(self) -> str:
        return "CTS"

    @property
    def agent_name(self) -> str | None:
        agent: str | None = dig(self.body, "agent")
        return agent

    @property
    def usernames(self) -> list[str]:
        # The person who made the change and the one who built the compose both care;
        # fedora-messaging turns these into fedora_messaging_user_<name> filter headers.
        names = {self.agent_name, self.compose.get("builder")}
        return sorted(name for name in names if isinstance(name, str) and name)

    @property
    def url(self) -> str | None:
        # Where the compose can be downloaded; the only URL a message knows about.
        return self.compose.get("compose_url")

    @property
    def summary(self) -> str:
        # The wording of fedmsg_meta_umb's subtitles, which UMB users already know.
        text = f"Compose {self.compose_id} {self.happened()}"
        return f"{text} by {self.agent_name}" if self.agent_name else text

    def __str__(self) -> str:
        lines = [self.summary, ""]
        release = dig(self.compose, "compose_info", "payload", "release") or {}
        lines.append(f"Release: {release.get('short')}-{release.get('version')}")
        lines.append(f"Tags: {', '.join(self.compose.get('tags') or []) or '(none)'}")
        if self.url:
            lines.append(f"Location: {self.url}")
        if dig(self.body, "user_data"):
            lines.append(f"Note: {self.body['user_data']}")
        lines += ["", json.dumps(self.body, sort_keys=True, indent=2)]
        return "\n".join(lines)


class ComposeCreatedV1(ComposeMessage):
    """A compose was imported (its ID allocated)."""

    topic = "cts.compose-created"
    body_schema: ClassVar[dict[str, Any]] = compose_body_schema(
        "compose-created", "A compose was imported into CTS")

    def happened(self) -> str:
        return "was created"


class ComposeTaggedV1(ComposeMessage):
    """A tag was added to a compose (never sent for an already-tagged compose)."""

    topic = "cts.compose-tagged"
    body_schema: ClassVar[dict[str, Any]] = compose_body_schema(
        "compose-tagged", "A tag was added to a compose", tagging=True)

    def happened(self) -> str:
        return f"was tagged with {dig(self.body, 'tag')}"


class ComposeUntaggedV1(ComposeMessage):
    """A tag was removed from a compose (never sent for an untagged compose)."""

    topic = "cts.compose-untagged"
    body_schema: ClassVar[dict[str, Any]] = compose_body_schema(
        "compose-untagged", "A tag was removed from a compose", tagging=True)

    def happened(self) -> str:
        return f"was untagged with {dig(self.body, 'tag')}"


class ComposeChangedV1(ComposeMessage):
    """Any other change to a compose, for example its location (compose_url)."""

    topic = "cts.compose-changed"
    body_schema: ClassVar[dict[str, Any]] = compose_body_schema(
        "compose-changed", "A compose was changed in CTS (for example its location)")


class ComposeRemovedV1(ComposeMessage):
    """A compose was marked removed from storage; services referencing it should drop it."""

    topic = "cts.compose-removed"
    body_schema: ClassVar[dict[str, Any]] = compose_body_schema(
        "compose-removed", "A compose was removed from storage")

    def happened(self) -> str:
        reason = dig(self.body, "compose", "removed_reason")
        return f"was removed ({reason})" if reason else "was removed"
