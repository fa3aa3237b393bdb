"""From a bus message to the command it asks for and the actor it acts as. No I/O.

Three kinds of input share the queue: our own requests (`<topic_prefix>request.*`,
schemas in `schemas/requests.py`), Pungi's status changes and ODCS's state changes
(`schemas/inputs.py`). Anything that can never succeed raises `Refused`, which the
consumer turns into a dead-letter entry.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastjsonschema
import jsonschema
from fedora_messaging.message import Message

from ctsd.config import Settings
from ctsd.consumer.sender import SenderRefused, request_sender, split_request_topic
from handlers.commands import (
    DEFAULT_LADDER,
    DecidePromotion,
    ImportCompose,
    MarkRemoved,
    RecordBuildStatus,
    RequestPromotion,
    SetComposeUrl,
    TagCompose,
    UntagCompose,
)
from handlers.contents_commands import FetchComposeContents
from handlers.identity import Actor
from handlers.storable import json_problem
from schemas.inputs import OdcsStateChangedV1, PungiStatusChangeV1
from schemas.registry import REQUEST_SCHEMAS
from schemas.requests import (
    FetchContentsRequestV1,
    ImportRequestV1,
    MarkRemovedRequestV1,
    PromotionDecisionV1,
    PromotionRequestV1,
    SetUrlRequestV1,
    TagRequestV1,
    UntagRequestV1,
)
from schemas.validation import validate_body

BACKEND = "amqp"


class Refused(Exception):
    """A message that can never succeed as sent: dead-letter it, never retry it."""

    def __init__(self, status: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason  # a short code operators can filter the dead letters on
        self.message = message


@dataclass(frozen=True)
class Intent:
    """What a message asks for: a command, run as `actor`."""

    command: Any
    actor: Actor


@dataclass(frozen=True)
class InputTopics:
    """Which routing keys mean what, and who notifications act as."""

    request_prefix: str
    pungi: frozenset[str]
    odcs: frozenset[str]
    pungi_user: str
    odcs_user: str
    translate_paths: tuple[tuple[str, str], ...] = ()
    # The promotion ladder ([workflow] ladder) that promotion requests climb.
    ladder: tuple[str, ...] = DEFAULT_LADDER
    # Trust <prefix>request.<action>.<user> to name its publisher ([consumer]
    # sender_from_topic): true only where topic permissions make it so (ctsd/broker/sender).
    sender_from_topic: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> InputTopics:
        return cls(settings.topic_prefix, frozenset(settings.pungi_topics),
                   frozenset(settings.odcs_topics), settings.pungi_user,
                   settings.odcs_user, settings.translate_paths,
                   tuple(settings.workflow.ladder), settings.consumer_sender_from_topic)

    def routing_keys(self) -> list[str]:
        # `.#` also takes requests naming their sender in the topic (with the setting
        # off they are dead-lettered saying so, rather than silently unrouted).
        requests = [self.request_prefix + suffix + ".#" for suffix in REQUEST_SCHEMAS]
        return sorted({*requests, *self.pungi, *self.odcs})


def decode_body(body: bytes) -> dict[str, Any]:
    """The JSON object a message carries; NUL characters are refused as over HTTP."""
    try:
        value = json.loads(body)
        problem = json_problem(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Refused(400, "invalid json", f"Body is not JSON: {exc}") from exc
    except RecursionError as exc:
        raise Refused(400, "invalid json", "Body is nested too deeply") from exc
    if not isinstance(value, dict):
        raise Refused(400, "invalid json", "Body must be a JSON object")
    if problem:
        # PostgreSQL text cannot hold NUL or lone surrogates: refuse before the database.
        raise Refused(400, "invalid input", f"Body {problem}")
    return value


def intent_for(topics: InputTopics, routing_key: str, body: dict[str, Any],
               user_id: str | None) -> Intent | None:
    """The command a message asks for, or None for a notification CTS has no use for."""
    if routing_key in topics.pungi:
        return _pungi_intent(topics, body)
    if routing_key in topics.odcs:
        return _odcs_intent(topics, body)
    if routing_key.startswith(topics.request_prefix):
        action, topic_sender = split_request_topic(routing_key.removeprefix(
            topics.request_prefix))
        if action in REQUEST_SCHEMAS:
            try:
                sender = request_sender(user_id, topic_sender, topics.sender_from_topic)
            except SenderRefused as exc:
                raise Refused(exc.status, exc.reason, exc.message) from exc
            return _request_intent(topics, action, body, sender)
    raise Refused(400, "unknown topic", f"CTS does not handle topic {routing_key}")


# The command each accepted request (schemas.registry.ACCEPTED) asks for, by its class;
# tests/unit/test_registry.py checks that every accepted request has one.
REQUEST_COMMANDS: dict[type[Message], Callable[[dict[str, Any], tuple[str, ...]], Any]] = {
    ImportRequestV1: lambda b, _ladder: ImportCompose(
        b["compose_info"], tuple(b.get("parent_compose_ids") or ()), b.get("respin_of"),
        b.get("compose_url")),
    TagRequestV1: lambda b, _ladder: TagCompose(b["compose_id"], b["tag"], b.get("user_data")),
    UntagRequestV1: lambda b, _ladder: UntagCompose(b["compose_id"], b["tag"],
                                                    b.get("user_data")),
    SetUrlRequestV1: lambda b, _ladder: SetComposeUrl(b["compose_id"], b["compose_url"],
                                                      b.get("user_data")),
    MarkRemovedRequestV1: lambda b, _ladder: MarkRemoved(b["compose_id"], b.get("reason")),
    PromotionRequestV1: lambda b, ladder: RequestPromotion(
        b["compose_id"], b["to"], b.get("reason"), b.get("user_data"), ladder),
    PromotionDecisionV1: lambda b, ladder: DecidePromotion(
        b["promotion_id"], b["decision"], b.get("reason"), ladder),
    FetchContentsRequestV1: lambda b, _ladder: FetchComposeContents(
        b["compose_id"], b.get("compose_url")),
}


def _request_intent(topics: InputTopics, suffix: str, body: dict[str, Any],
                    sender: str) -> Intent:
    schema = REQUEST_SCHEMAS[suffix]
    _validate(schema, body)
    command = REQUEST_COMMANDS[schema](body, topics.ladder)
    return Intent(command, Actor(sender, backend=BACKEND))


def _pungi_intent(topics: InputTopics, body: dict[str, Any]) -> Intent:
    _validate(PungiStatusChangeV1, body)
    location = compose_location(body.get("location"), topics.translate_paths)
    command = RecordBuildStatus(body["compose_id"], body["status"], location)
    return Intent(command, Actor(topics.pungi_user, backend=BACKEND))


def _odcs_intent(topics: InputTopics, body: dict[str, Any]) -> Intent | None:
    _validate(OdcsStateChangedV1, body)
    compose = body["compose"]
    compose_id = compose.get("pungi_compose_id")
    if not compose_id:
        return None  # not (yet) a Pungi compose, so nothing CTS can know about
    actor = Actor(topics.odcs_user, backend=BACKEND)
    state = compose["state_name"]
    if state == "done" and compose.get("toplevel_url"):
        # toplevel_url is the compose top directory, which is what compose_url names.
        return Intent(SetComposeUrl(compose_id, compose["toplevel_url"]), actor)
    if state == "removed":
        return Intent(MarkRemoved(compose_id, compose.get("state_reason")), actor)
    return None  # wait, generating, failed: nothing CTS records


def compose_location(location: str | None, translate_paths: tuple[tuple[str, str], ...]
                     ) -> str | None:
    """Pungi's `location` as the compose's top-level location, URL where translatable.

    Pungi reports `<topdir>/compose`, while compose_url (what Pungi's own set_url call
    stores, and what .repo files build on) is the top directory itself.
    """
    if not location:
        return None
    if not location.lower().startswith(("http://", "https://")):
        location = translate_path(location, translate_paths)
    trimmed = location.rstrip("/")
    return trimmed.removesuffix("/compose") if trimmed.endswith("/compose") else trimmed


def translate_path(path: str, translate_paths: tuple[tuple[str, str], ...]) -> str:
    """Replace the first matching path prefix, as Pungi's `translate_path_raw` does
    (but only at a directory boundary: `/mnt/koji` does not match `/mnt/kojifoo`)."""
    normalized = posixpath.normpath(path)
    for raw_prefix, replacement in translate_paths:
        prefix = posixpath.normpath(raw_prefix).rstrip("/")
        if normalized == prefix or normalized.startswith(prefix + "/"):
            return replacement.rstrip("/") + normalized[len(prefix):]
    return path


def _validate(schema: type[Message], body: dict[str, Any]) -> None:
    # Only the body: senders need not use fedora-messaging, so its headers are optional.
    try:
        validate_body(schema, body)
    except jsonschema.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "body"
        raise Refused(400, "schema invalid", f"{where}: {exc.message}") from exc
    except fastjsonschema.JsonSchemaException as exc:
        # Refused by the compiled check but not by jsonschema: the two disagree on a
        # corner of the schema language; refusing is the safe side.
        raise Refused(400, "schema invalid", f"body: {exc}") from exc

