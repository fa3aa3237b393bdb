"""The `components` of the OpenAPI document: the JSON shapes of the v1 contract.

Kept apart from the paths (ctsd/api/openapi.py) so that each module stays readable.
The shapes follow docs/api-v1.md; a change here is a change of the public contract.
"""

from __future__ import annotations

from typing import Any

from productmd.common import RELEASE_TYPES as PRODUCTMD_RELEASE_TYPES
from productmd.composeinfo import COMPOSE_TYPES as PRODUCTMD_COMPOSE_TYPES

from ctsd.api.openapi_rules import CALENDAR_DATE, END, RELEASE_SHORT, RELEASE_VERSION
from handlers.composeinfo import MAX_RESPIN

JSON = dict[str, Any]


def ref(name: str) -> JSON:
    return {"$ref": f"#/components/schemas/{name}"}


def _string(description: str = "", **extra: Any) -> JSON:
    schema: JSON = {"type": "string", **extra}
    if description:
        schema["description"] = description
    return schema


def _nullable_string(description: str = "") -> JSON:
    return {**_string(description), "nullable": True}


def _strings(description: str = "") -> JSON:
    schema: JSON = {"type": "array", "items": {"type": "string"}}
    if description:
        schema["description"] = description
    return schema


def or_empty(schema: JSON) -> JSON:
    """A query parameter that may also be sent empty (`?page=`): the service then takes
    the default, as the existing CTS does, so the document must allow it."""
    return {"anyOf": [schema, {"type": "string", "maxLength": 0}]}


def _object(properties: JSON, required: list[str] | None = None, **extra: Any) -> JSON:
    schema: JSON = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = required
    return schema


# productmd validates these on import; the enums follow the installed productmd.
COMPOSE_TYPES = list(PRODUCTMD_COMPOSE_TYPES)
RELEASE_TYPES = list(PRODUCTMD_RELEASE_TYPES)
# productmd's own (Python) expressions for the header version and compose id.
# productmd lower-cases a release type before checking it.
_RELEASE_TYPE = "^({}){}".format("|".join(
    "".join(f"[{c}{c.upper()}]" if c.isalpha() else c for c in name)  # letters, 4, -
    for name in RELEASE_TYPES), END)
# productmd takes any value here as true or false (and final only with a label).
_READ_AS_BOOLEAN: JSON = {"description": "A boolean (productmd reads any value as true "
                                         "or false)"}


def _compose_info_schemas() -> JSON:
    # productmd owns this format; we describe what clients send and receive, with the
    # checks productmd and handlers/composeinfo.py make on each field.
    compose = _object({
        "id": _string("Compose ID; recomputed by the service on import", minLength=1,
                      pattern=r"^.*\d{8}"),
        "date": _string("YYYYMMDD, a real day", pattern=CALENDAR_DATE),
        "respin": {"type": "integer", "minimum": 0, "maximum": MAX_RESPIN - 1},
        "type": _string(enum=COMPOSE_TYPES),
        # productmd reads any false value (null, "", 0) as no label, checks the rest.
        "label": {"description": "A milestone label such as Beta-1.0 (productmd's "
                                 "forms; any false value is no label)", "example": "RC-1.0"},
        "final": _READ_AS_BOOLEAN,
    }, ["id", "date", "respin", "type"])
    release = _object({
        "name": _string(maxLength=255),
        "short": _string(maxLength=100, pattern=RELEASE_SHORT),
        "version": _string(maxLength=100, pattern=RELEASE_VERSION),
        "is_layered": _READ_AS_BOOLEAN,
        "type": _string("ga if absent; any case", pattern=_RELEASE_TYPE),
        "internal": _READ_AS_BOOLEAN,
    }, ["name", "short", "version"])
    # Not constrained here: productmd reads it only for a layered release, and then
    # checks it as it checks the release (a 400 naming the field).
    base_product = {"description": (
        "Only for layered releases: name, short, version and type, as for the release; "
        "ignored otherwise")}
    payload = _object({
        "compose": ref("ComposeInfoCompose"),
        "release": ref("ComposeInfoRelease"),
        "base_product": ref("ComposeInfoBaseProduct"),
        "variants": {"type": "object", "additionalProperties": True},
    }, ["compose", "release", "variants"])
    header = _object({"type": _string(enum=["productmd.composeinfo"]),
                      "version": _string(example="1.2", pattern=r"^\d+\.\d+$")},
                     ["type", "version"])
    info = _object({"header": header, "payload": ref("ComposeInfoPayload")},
                   ["header", "payload"],
                   description="productmd's ComposeInfo serialisation")
    return {"ComposeInfoCompose": compose, "ComposeInfoRelease": release,
            "ComposeInfoBaseProduct": base_product, "ComposeInfoPayload": payload,
            "ComposeInfo": info}


def _compose_schemas() -> JSON:
    compose = _object({
        "compose_info": ref("ComposeInfo"),
        "builder": _string("User who imported the compose"),
        "tags": _strings(),
        "parents": _strings("Compose IDs"),
        "children": _strings("Compose IDs"),
        "respin_of": _nullable_string("Compose ID"),
        "respun_by": _strings("Compose IDs"),
        "compose_url": _nullable_string(),
    }, ["compose_info", "builder", "tags", "parents", "children", "respin_of", "respun_by",
        "compose_url"])
    return {"Compose": compose}


def _tag_schemas() -> JSON:
    tag = _object({
        "id": {"type": "integer"}, "name": _string(), "description": _string(),
        "documentation": _string(), "taggers": _strings("Users"),
        "untaggers": _strings("Users"), "tagger_groups": _strings("Groups"),
        "untagger_groups": _strings("Groups"),
    }, ["id", "name", "description", "documentation", "taggers", "untaggers",
        "tagger_groups", "untagger_groups"])
    return {"Tag": tag}


def _list_schemas() -> JSON:
    link = _nullable_string("Absolute URL that keeps the filters; null at the ends")
    meta = _object({
        "page": {"type": "integer"}, "pages": {"type": "integer"},
        "per_page": {"type": "integer"}, "total": {"type": "integer"},
        "first": _string(format="uri"), "last": _string(format="uri"),
        "prev": link, "next": link,
    }, ["page", "pages", "per_page", "total", "first", "last", "prev", "next"])
    return {
        "PaginationMeta": meta,
        "ComposeList": _object({"items": {"type": "array", "items": ref("Compose")},
                                "meta": ref("PaginationMeta")}, ["items", "meta"]),
        "TagList": _object({"items": {"type": "array", "items": ref("Tag")},
                            "meta": ref("PaginationMeta")}, ["items", "meta"]),
    }


def _service_schemas() -> JSON:
    change = _object({
        "time": _string("UTC, ISO 8601 with Z", format="date-time"),
        "action": _string("created, tagged, untagged (composes); created, edited, "
                          "add_tagger, remove_tagger, add_untagger, remove_untagger (tags)"),
        "user": _nullable_string(), "message": _string(), "user_data": _nullable_string(),
        "auth_backend": _nullable_string("How the user authenticated: noauth, oidc, proxy, "
                                         "cert, amqp (bus), cli; null if recorded before it was"),
    }, ["time", "action", "user", "message", "user_data"])
    permissions = _object({
        "can_create_compose": {"type": "boolean"}, "can_create_tag": {"type": "boolean"},
        "can_edit_tag": {"type": "boolean"}, "can_set_url": {"type": "boolean"},
        "is_tagger_of": _strings("Tag names"), "is_untagger_of": _strings("Tag names"),
    }, ["can_create_compose", "can_create_tag", "can_edit_tag", "can_set_url",
        "is_tagger_of", "is_untagger_of"])
    return {
        "Change": change,
        "Changes": _object({"changes": {"type": "array", "items": ref("Change")}},
                           ["changes"]),
        "About": _object({"version": _string(), "auth_backend": _string(),
                          "allowed_builders": _object(
                              {"groups": _strings("Configured groups"),
                               "users": _strings("Configured users")},
                              ["groups", "users"])},
                         ["version", "auth_backend", "allowed_builders"]),
        "UserInfo": _object({"username": _string(), "permissions": permissions},
                            ["username", "permissions"]),
        "Error": _object({"status": {"type": "integer", "example": 400},
                          "error": _string("HTTP reason phrase", example="Bad Request"),
                          "message": _string("What is wrong")},
                         ["status", "error", "message"]),
    }


def _event_schemas() -> JSON:
    event = _object({
        "cursor": _string("Opaque position of this event; pass it as `after`"),
        "message_id": _string("The message's id on the bus, the same on every retry"),
        "topic": _string(example="cts.compose-tagged"),
        "body": {"type": "object", "additionalProperties": True,
                 "description": "The message body as published (see docs/messages.md)"},
        "created_at": _string("UTC, ISO 8601 with Z", format="date-time"),
        "in_reply_to": _nullable_string("The bus request this event answers"),
        "traceparent": _nullable_string("W3C trace context of the change that wrote it "
                                        "(null when it was not traced)"),
    }, ["cursor", "message_id", "topic", "body", "created_at", "in_reply_to"])
    return {
        "Event": event,
        "EventList": _object({
            "events": {"type": "array", "items": ref("Event")},
            "next": _string("The `after` of the next call: the last event's cursor, or "
                            "the given one when there was nothing new"),
        }, ["events", "next"]),
    }


def _health_schemas() -> JSON:
    number = {"type": "number", "nullable": True}
    return {
        "Liveness": _object({"status": _string(enum=["ok"])}, ["status"]),
        "Readiness": _object({
            "status": _string(enum=["ok", "unavailable"]),
            "database": _object({"ok": {"type": "boolean"}, "error": _string()}, ["ok"]),
            "broker": _object({"configured": {"type": "boolean"}, "ok": {"type": "boolean"},
                               "error": _string(), "relay": {"type": "object"}},
                              ["configured"],
                              description="An outage is reported only (the outbox "
                                          "buffers); the relay's credentials refused "
                                          "(relay.credentials_refused) make it 503"),
            "outbox": _object({"backlog": {"type": "integer", "nullable": True},
                               "oldest_unsent_age_seconds": number},
                              ["backlog", "oldest_unsent_age_seconds"]),
        }, ["status", "database", "broker", "outbox"]),
    }


def component_schemas() -> JSON:
    return {**_compose_info_schemas(), **_compose_schemas(), **_tag_schemas(),
            **_list_schemas(), **_service_schemas(), **_event_schemas(),
            **_health_schemas()}
