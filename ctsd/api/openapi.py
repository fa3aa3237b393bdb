"""The OpenAPI 3.0 document of the v1 API, built as a dict and served as JSON.

It describes every route of ctsd/api/app.py (a test keeps the two in step). The
shapes live in ctsd/api/openapi_schemas.py, the list parameters in openapi_parameters.py.
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from ctsd import __version__
from ctsd.api.openapi_contents import contents_paths, contents_schemas
from ctsd.api.openapi_parameters import (
    compose_filter_parameters,
    compose_list_parameters,
    paging_parameters,
    query_parameter,
    tag_list_parameters,
)
from ctsd.api.openapi_promotions import workflow_paths, workflow_schemas
from ctsd.api.openapi_queries import query_paths, query_schemas
from ctsd.api.openapi_requests import request_schemas
from ctsd.api.openapi_schemas import JSON, component_schemas, or_empty, ref
from handlers.commands import DEFAULT_LADDER

_ERRORS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
           409: "Conflict"}
_ERROR_TEXT = {
    400: "Bad input: bad JSON, missing field, unknown action or tag, invalid value",
    401: "Not authenticated",
    403: "Authenticated but not allowed",
    404: "No such compose, tag or route",
    409: "Conflicts with the current state: Idempotency-Key reused with a different body; "
         "a tag gate (missing prerequisite or present excluded tag); a promotion that "
         "skips a ladder step, is already pending or was already decided",
}


def _json(description: str, schema: JSON) -> JSON:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _text(description: str, media_type: str) -> JSON:
    return {"description": description,
            "content": {media_type: {"schema": {"type": "string"}}}}


def _op(summary: str, ok: JSON, *errors: int, **extra: Any) -> JSON:
    responses: JSON = {"200": ok}
    for status in errors:
        responses[str(status)] = {"$ref": f"#/components/responses/{_ERRORS[status]}"}
    return {"summary": summary, "responses": responses, **extra}


def _body(schema_name: str) -> JSON:
    return {"required": True, "content": {"application/json": {"schema": ref(schema_name)}}}


def _path_param(name: str, description: str) -> list[JSON]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"},
             "description": description}]


def _import_compose(idempotency_ttl_hours: int) -> JSON:
    key = {
        "name": "Idempotency-Key", "in": "header", "required": False,
        "schema": {"type": "string", "minLength": 1, "maxLength": 255},
        "description": (
            "Makes a retried import safe: the same key with the same body answers the stored "
            "first answer (with header Idempotent-Replayed: true) instead of importing "
            "again; the same key with a different body answers 409. Keys are per user and "
            f"kept {idempotency_ttl_hours} h (configurable; 24 h by default)."),
    }
    ok = _json("The ComposeInfo as stored, with the allocated compose.id and respin "
               "(not the compose representation)", ref("ComposeInfo"))
    ok["headers"] = {"Idempotent-Replayed": {
        "description": "'true' when this is the stored answer to an earlier request",
        "schema": {"type": "string", "enum": ["true"]}}}
    return _op("Import a compose (allowed builders)", ok, 400, 401, 403, 409,
               tags=["composes"], operationId="importCompose", parameters=[key],
               requestBody=_body("ImportComposeRequest"))


def _compose_paths(per_page_default: int, per_page_max: int, ttl_hours: int) -> JSON:
    compose_id = _path_param("compose_id", "Compose ID")
    variant_uid = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"}
    variant = query_parameter("variant", variant_uid, "Variant UID", required=True)
    return {
        "/api/1/composes/": {
            "get": _op("List composes",
                       _json("A page of composes (ComposeCursorPage when a cursor is given)",
                             {"oneOf": [ref("ComposeList"), ref("ComposeCursorPage")]}), 400,
                       tags=["composes"], operationId="listComposes",
                       parameters=compose_list_parameters(per_page_default, per_page_max)),
            "post": _import_compose(ttl_hours),
        },
        "/api/1/composes/{compose_id}": {
            "parameters": compose_id,
            "get": _op("Get a compose", _json("The compose", ref("Compose")), 404,
                       tags=["composes"], operationId="getCompose"),
            "patch": _op("Tag, untag or set the URL of a compose",
                         _json("The compose after the change", ref("Compose")),
                         400, 401, 403, 404, tags=["composes"], operationId="changeCompose",
                         requestBody=_body("ChangeComposeRequest")),
        },
        "/api/1/composes/{compose_id}/changes/": {
            "parameters": compose_id,
            "get": _op("History of a compose, oldest first",
                       _json("The changes", ref("Changes")), 404,
                       tags=["composes"], operationId="composeChanges"),
        },
        "/api/1/composes/{compose_id}/repo/": {
            "parameters": compose_id,
            "get": _op("A yum .repo file for one variant",
                       _text("The .repo file", "text/plain"), 400, 404,
                       tags=["composes"], operationId="composeRepoFile",
                       parameters=[variant]),
        },
    }


def _tag_paths(per_page_default: int, per_page_max: int) -> JSON:
    tag = _path_param("tag", "Tag id or name")
    return {
        "/api/1/tags/": {
            "get": _op("List tags", _json("A page of tags", ref("TagList")), 400,
                       tags=["tags"], operationId="listTags",
                       parameters=tag_list_parameters(per_page_default, per_page_max)),
            "post": _op("Create a tag (admins)", _json("The tag", ref("Tag")), 400, 401, 403,
                        tags=["tags"], operationId="createTag",
                        requestBody=_body("CreateTagRequest")),
        },
        "/api/1/tags/{tag}": {
            "parameters": tag,
            "get": _op("Get a tag", _json("The tag", ref("Tag")), 404,
                       tags=["tags"], operationId="getTag"),
            "patch": _op("Edit a tag or who may tag and untag with it (admins)",
                         _json("The tag after the change", ref("Tag")), 400, 401, 403, 404,
                         tags=["tags"], operationId="editTag",
                         requestBody=_body("EditTagRequest")),
        },
        "/api/1/tags/{tag}/changes/": {
            "parameters": tag,
            "get": _op("History of a tag, oldest first", _json("The changes", ref("Changes")),
                       404, tags=["tags"], operationId="tagChanges"),
        },
    }


def _service_paths() -> JSON:
    return {
        "/": {"get": _op("Landing page", _text("HTML", "text/html"),
                         tags=["service"], operationId="landingPage")},
        "/api/1/": {"get": _op("This documentation (Swagger UI, served locally)",
                               _text("HTML", "text/html"),
                               tags=["service"], operationId="apiDocs")},
        "/static/openapispec.json": {
            "get": _op("This OpenAPI document", _json("OpenAPI 3.0", {"type": "object"}),
                       tags=["service"], operationId="openapiSpec")},
        "/api/1/about/": {"get": _op("Version and configuration",
                                     _json("About the service", ref("About")),
                                     tags=["service"], operationId="about")},
        "/api/1/metrics/": {"get": _op("Prometheus metrics",
                                       _text("Prometheus text format", "text/plain"),
                                       tags=["service"], operationId="metrics")},
        "/api/1/userinfo": {"get": _op("Who the caller is and what they may do",
                                       _json("The caller", ref("UserInfo")), 401,
                                       tags=["service"], operationId="userinfo")},
    }


def _event_paths() -> JSON:
    after = query_parameter("after", {"type": "string",
                                      "pattern": r"^\s*(|0|[0-9]{1,19}:[0-9]{1,19})\s*$"},
                            "Cursor of the last event seen (`cursor` or `next`); absent or 0: "
                            "from the oldest event kept")
    limit = query_parameter("limit", or_empty({"type": "integer", "minimum": 1,
                                               "maximum": 1000, "default": 100}),
                            "Events per answer; outside 1-1000 answers 400")
    last_id = {"name": "Last-Event-ID", "in": "header", "required": False,
               "schema": {"type": "string"},
               "description": "Sent by a reconnecting EventSource; takes precedence over after"}
    return {
        "/api/1/events/": {"get": _op(
            "Events after a cursor, oldest first (the outbox as a journal)",
            _json("Events and the cursor to continue from", ref("EventList")), 400,
            tags=["events"], operationId="listEvents", parameters=[after, limit],
            description="Every committed change event, published to the broker yet or not, "
                        "in an order no later commit can precede. Published events are "
                        "kept [messaging] outbox_retention_days (14 by default).")},
        "/api/1/events/stream": {"get": _op(
            "The same events live, as Server-Sent Events",
            _text("`id:` cursor, `event:` topic, `data:` JSON body; a comment line every "
                  "15 s while idle", "text/event-stream"), 400,
            tags=["events"], operationId="streamEvents", parameters=[after, last_id])},
    }


def _health_paths() -> JSON:
    ready = _op("Ready: the database answers", _json("Ready", ref("Readiness")),
                tags=["health"], operationId="healthReady")
    ready["responses"]["503"] = _json("Not ready: the database does not answer",
                                      ref("Readiness"))
    return {
        "/health/live": {"get": _op("Alive: the process serves HTTP",
                                    _json("Alive", ref("Liveness")),
                                    tags=["health"], operationId="healthLive")},
        "/health/ready": {"get": ready},
    }


def build_spec(per_page_default: int = 10, per_page_max: int = 100,
               idempotency_ttl_hours: int = 24,
               ladder: tuple[str, ...] = DEFAULT_LADDER) -> JSON:
    """The whole document; the arguments are the configured limits and promotion
    ladder it reports."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "CTS: Compose Tracking Service", "version": __version__,
                 "description": "Compose IDs, tags and locations. Errors are JSON "
                                "{status, error, message}; timestamps are UTC with Z. "
                                "No text may hold NUL (U+0000) or a lone surrogate, "
                                "which PostgreSQL cannot store: 400."},
        "tags": [{"name": "composes"}, {"name": "tags"}, {"name": "events"},
                 {"name": "service"}, {"name": "health"}, {"name": "workflow"},
                 {"name": "contents"}],
        "paths": {**_service_paths(),
                  **_compose_paths(per_page_default, per_page_max, idempotency_ttl_hours),
                  **_tag_paths(per_page_default, per_page_max),
                  **_event_paths(), **_health_paths(),
                  **workflow_paths(per_page_default, per_page_max, ladder),
                  **query_paths(compose_filter_parameters()),
                  **contents_paths(paging_parameters(per_page_default, per_page_max),
                                   compose_filter_parameters())},
        # Reads are open; writes need a user from one of the [auth] backends. Only the
        # bearer token is something a client sends itself; the proxy header and client
        # certificates are arranged by the deployment, so they are described, not listed.
        "security": [{}, {"oidc_token": []}],
        "components": {
            "securitySchemes": {"oidc_token": {
                "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "An OpenID Connect access token from the configured provider "
                               "(backend oidc), with the scopes new-compose, edit-compose, "
                               "new-tag or edit-tag under the configured namespace. Behind a "
                               "trusted front proxy (backend proxy, e.g. Kerberos through "
                               "mod_auth_gssapi) or with a TLS client certificate (backend "
                               "cert) no header is needed."}},
            "schemas": {**component_schemas(), **request_schemas(ladder),
                        **workflow_schemas(), **query_schemas(), **contents_schemas()},
            "responses": {name: _json(_ERROR_TEXT[status], ref("Error"))
                          for status, name in _ERRORS.items()},
        },
    }


@lru_cache(maxsize=8)
def spec_json(per_page_default: int, per_page_max: int, idempotency_ttl_hours: int,
              ladder: tuple[str, ...]) -> str:
    # The document only depends on these settings: build and serialise it once.
    return json.dumps(build_spec(per_page_default, per_page_max, idempotency_ttl_hours,
                                 ladder))
