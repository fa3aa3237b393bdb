"""OpenAPI paths and schemas of the workflow extensions (ctsd/api/promotion_views.py):
promotions, removal, locations, tag gates, compose status. Merged into the document by
ctsd/api/openapi.py."""

from __future__ import annotations

from typing import Any

from ctsd.api.openapi_parameters import paging_parameters
from ctsd.api.openapi_schemas import JSON, ref

_ERROR_REFS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
               409: "Conflict"}
_NULLABLE = {"type": "string", "nullable": True}
_TIME = {"type": "string", "format": "date-time", "example": "2026-11-24T12:00:00Z"}


def _op(summary: str, status: int, description: str, schema: JSON, *errors: int,
        **extra: Any) -> JSON:
    responses: JSON = {str(status): {"description": description,
                                     "content": {"application/json": {"schema": schema}}}}
    for code in errors:
        responses[str(code)] = {"$ref": f"#/components/responses/{_ERROR_REFS[code]}"}
    return {"summary": summary, "responses": responses, **extra}


def _body(schema_name: str, required: bool = True) -> JSON:
    return {"required": required,
            "content": {"application/json": {"schema": ref(schema_name)}}}


def _path(name: str, description: str) -> list[JSON]:
    return [{"name": name, "in": "path", "required": True, "schema": {"type": "string"},
             "description": description}]


def _query(name: str, schema: JSON, description: str) -> JSON:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _decision(verb: str, body: str, summary: str) -> JSON:
    return {
        "parameters": _path("request_id", "Promotion request id"),
        "post": _op(summary, 200, "The request as decided", ref("PromotionRequest"),
                    400, 401, 403, 404, 409, tags=["workflow"],
                    operationId=f"{verb}Promotion", requestBody=_body(body, verb == "reject")),
    }


def workflow_paths(per_page_default: int, per_page_max: int, ladder: tuple[str, ...]) -> JSON:
    compose_id = _path("compose_id", "Compose ID")
    tag = _path("tag", "Tag id or name")
    gates = ref("TagGates")
    paging = paging_parameters(per_page_default, per_page_max)
    return {
        "/api/1/composes/{compose_id}/promotions/": {
            "parameters": compose_id,
            "post": _op("Request a promotion to the next ladder state (taggers of "
                        "<to>-requested)", 201, "The promotion request",
                        ref("PromotionRequest"), 400, 401, 403, 404, 409,
                        tags=["workflow"], operationId="requestPromotion",
                        requestBody=_body("PromotionRequestBody")),
            "get": _op("Promotion requests of a compose, oldest first", 200, "The requests",
                       ref("PromotionRequestList"), 404, tags=["workflow"],
                       operationId="composePromotions"),
        },
        "/api/1/promotions/": {"get": _op(
            "Promotion requests, oldest first (v1 pagination envelope)", 200,
            "A page of requests", ref("PromotionRequestPage"), 400, tags=["workflow"],
            operationId="listPromotions", parameters=[
                _query("state", {"type": "string", "enum": ["requested", "performed",
                                                            "rejected", "withdrawn"]},
                       "Only requests in this state"),
                _query("to", {"type": "string", "enum": list(ladder)},
                       "Only requests to this ladder state ([workflow] ladder)"), *paging])},
        "/api/1/promotions/{request_id}/perform": _decision(
            "perform", "DecisionBody", "Perform a pending promotion (taggers of <to>)"),
        "/api/1/promotions/{request_id}/reject": _decision(
            "reject", "RejectBody", "Reject a pending promotion (untaggers of <to>-requested)"),
        "/api/1/promotions/{request_id}/withdraw": _decision(
            "withdraw", "DecisionBody",
            "Withdraw a pending promotion (untaggers of <to>-requested, or its requester)"),
        "/api/1/composes/{compose_id}/removal": {
            "parameters": compose_id,
            "post": _op("Mark a compose removed from storage (allowed builders, admins)", 200,
                        "The compose after the change", ref("Compose"), 400, 401, 403, 404,
                        tags=["workflow"], operationId="removeCompose",
                        requestBody=_body("RemovalBody"))},
        "/api/1/composes/{compose_id}/status": {
            "parameters": compose_id,
            "get": _op("Build status, removal and promotion state of a compose", 200,
                       "The status", ref("ComposeStatus"), 404, tags=["workflow"],
                       operationId="composeStatus")},
        "/api/1/composes/{compose_id}/locations/": {
            "parameters": compose_id,
            "get": _op("Every location the compose had, oldest first", 200, "The locations",
                       ref("LocationList"), 404, tags=["workflow"],
                       operationId="composeLocations")},
        "/api/1/tags/{tag}/gates": {
            "parameters": tag,
            "get": _op("Tags required or excluded before this tag may be added", 200,
                       "The gates", gates, 404, tags=["workflow"], operationId="getTagGates"),
            "put": _op("Replace the gates of a tag (admins)", 200, "The gates", gates,
                       400, 401, 403, 404, tags=["workflow"], operationId="putTagGates",
                       requestBody=_body("TagGatesRequest"))},
    }


def _object(properties: JSON, required: list[str] | None = None) -> JSON:
    schema: JSON = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


def workflow_schemas() -> JSON:
    promotion = _object({
        "id": {"type": "integer"}, "compose_id": {"type": "string"},
        "from": {"type": "string"}, "to": {"type": "string"},
        "state": {"type": "string", "enum": ["requested", "performed", "rejected",
                                             "withdrawn"]},
        "requested_by": {"type": "string"}, "requested_at": _TIME, "reason": _NULLABLE,
        "decided_by": _NULLABLE, "decided_at": {**_TIME, "nullable": True},
        "decision_reason": _NULLABLE,
    }, ["id", "compose_id", "from", "to", "state", "requested_by", "requested_at",
        "reason", "decided_by", "decided_at", "decision_reason"])
    names = {"type": "array", "items": {"type": "string"}}
    return {
        "PromotionRequest": promotion,
        "PromotionRequestList": _object({"promotions": {"type": "array",
                                                        "items": ref("PromotionRequest")}},
                                        ["promotions"]),
        "PromotionRequestPage": _object({"items": {"type": "array",
                                                   "items": ref("PromotionRequest")},
                                         "meta": {"type": "object"}}, ["items", "meta"]),
        "ComposeStatus": _object({
            "compose_id": {"type": "string"}, "build_status": _NULLABLE,
            "removed": {"type": "boolean"}, "removed_at": {**_TIME, "nullable": True},
            "removed_reason": _NULLABLE, "promotion_state": {"type": "string"},
            "pending_promotion": {"allOf": [ref("PromotionRequest")], "nullable": True},
            "compose_url": _NULLABLE,
        }, ["compose_id", "build_status", "removed", "removed_at", "removed_reason",
            "promotion_state", "pending_promotion", "compose_url"]),
        "LocationList": _object({"locations": {"type": "array", "items": _object(
            {"url": {"type": "string"}, "time": _TIME, "user": {"type": "string"}},
            ["url", "time", "user"])}}, ["locations"]),
        "TagGates": _object({"requires": names, "excludes": names}),
    }
