"""OpenAPI paths and schemas of the query extensions (ctsd/api/queries.py and the keyset
pages of ctsd/api/keyset_listing.py). Merged into the document by ctsd/api/openapi.py,
which passes in the list filters so that both always document the same ones."""

from __future__ import annotations

from ctsd.api.openapi_schemas import JSON, ref

_ERROR_REFS = {400: "BadRequest", 404: "NotFound"}

CURSOR_PARAMETER: JSON = {
    "name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
    "description": (
        "Extension: keyset pages. Give it empty for the first page, then follow "
        "meta.next, whose cursor continues after the last item. Answers a "
        "ComposeCursorPage (no total); cannot be combined with page; a cursor only "
        "continues the filters and order_by it was made for (400 otherwise, and for an "
        "edited cursor). Without this parameter the v1 answer is unchanged."),
}


def _op(summary: str, schema: JSON, *errors: int, **extra: object) -> JSON:
    responses: JSON = {"200": {"description": summary,
                               "content": {"application/json": {"schema": schema}}}}
    for code in errors:
        responses[str(code)] = {"$ref": f"#/components/responses/{_ERROR_REFS[code]}"}
    return {"summary": summary, "tags": ["composes"], "responses": responses, **extra}


def _compose_id() -> list[JSON]:
    return [{"name": "compose_id", "in": "path", "required": True,
             "schema": {"type": "string"}, "description": "Compose ID"}]


def query_paths(filters: list[JSON]) -> JSON:
    return {
        "/api/1/composes/latest/": {"get": _op(
            "The newest compose matching the filters (by date, then respin, then import "
            "order); 404 when none", ref("Compose"), 400, 404,
            operationId="latestCompose", parameters=filters)},
        "/api/1/composes/{compose_id}/neighbours/": {"parameters": _compose_id(), "get": _op(
            "The previous and next compose of the same release stream (release short "
            "and version, base product, type) by date, then respin; the filters narrow "
            "which composes count", ref("Neighbours"), 400, 404,
            operationId="composeNeighbours", parameters=filters)},
        "/api/1/composes/{compose_id}/lineage/": {"parameters": _compose_id(), "get": _op(
            "Ancestors and descendants (parents), and the respin chains both ways",
            ref("Lineage"), 400, 404, operationId="composeLineage")},
    }


def query_schemas() -> JSON:
    # OpenAPI 3.0 has no nullable $ref: "a Compose, or null".
    nullable_compose = {"anyOf": [ref("Compose"),
                                  {"type": "object", "nullable": True, "enum": [None]}]}
    related = {"type": "array", "items": {
        "type": "object", "required": ["compose_id", "depth"],
        "properties": {"compose_id": {"type": "string"},
                       "depth": {"type": "integer", "minimum": 1,
                                 "description": "1: direct; each compose at its shortest "
                                                "distance"}}}}
    link = {"type": "string", "nullable": True}
    return {
        "ComposeCursorPage": {
            "type": "object", "required": ["items", "meta"],
            "properties": {
                "items": {"type": "array", "items": ref("Compose")},
                # Never "page": a page of ComposeList always has one, so an answer
                # matches exactly one branch of the listing's oneOf.
                "meta": {"type": "object", "required": ["per_page", "first", "next"],
                         "not": {"required": ["page"]},
                         "properties": {"per_page": {"type": "integer"},
                                        "first": {"type": "string", "format": "uri"},
                                        "next": {**link, "description": "null on the "
                                                 "last page"}}},
            },
        },
        "Neighbours": {"type": "object", "required": ["previous", "next"],
                       "properties": {"previous": nullable_compose,
                                      "next": nullable_compose}},
        "Lineage": {
            "type": "object",
            "required": ["compose_id", "ancestors", "descendants", "respin_of",
                         "respun_by"],
            "properties": {
                "compose_id": {"type": "string"},
                "ancestors": {**related, "description": "Parents, their parents, ..."},
                "descendants": {**related, "description": "Children, their children, ..."},
                "respin_of": {**related, "description": "What this respins, and so on"},
                "respun_by": {**related, "description": "Respins of this, and so on"},
            },
        },
    }
