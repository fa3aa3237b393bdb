"""OpenAPI query parameters of the lists: filters, order_by and paging (for
ctsd/api/openapi.py and the query extensions' paths)."""

from __future__ import annotations

from typing import Any

from ctsd.api.openapi_contents import contents_filter_parameters
from ctsd.api.openapi_queries import CURSOR_PARAMETER
from ctsd.api.openapi_rules import CALENDAR_DATE
from ctsd.api.openapi_schemas import JSON, or_empty

# Every field a list can be filtered and ordered on, with its kind (the kinds of
# ctsd/db/queries/filters.py, which validates the values; a test keeps the two in step).
COMPOSE_FIELDS: dict[str, str] = {
    "id": "text", "date": "date", "respin": "int", "type": "text", "label": "text",
    "final": "bool", "release_name": "text", "release_version": "text",
    "release_short": "text", "release_is_layered": "bool", "release_type": "text",
    "release_internal": "bool", "base_product_name": "text", "base_product_short": "text",
    "base_product_version": "text", "base_product_type": "text", "builder": "text",
}
TAG_FIELDS: dict[str, str] = {"id": "int", "name": "text"}
_DATE = {"type": "string", "pattern": CALENDAR_DATE, "example": "20260131"}
_KIND_SCHEMAS: dict[str, JSON] = {
    # Integer columns are 32-bit (ctsd/db/queries/filters.py refuses the rest).
    "text": {"type": "string"}, "bool": {"type": "boolean"},
    "int": {"type": "integer", "minimum": -(2**31 - 1), "maximum": 2**31 - 1},
    "date": _DATE,
}
MAX_PAGE = 10**18 - 1  # ctsd/api/pagination.py reads up to 18 digits
MATCH_SUFFIXES = {"_contains": "contains", "_startswith": "starts with",
                  "_endswith": "ends with"}

def query_parameter(name: str, schema: JSON, description: str, **extra: Any) -> JSON:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description, **extra}


def _filters(fields: dict[str, str], *, with_suffixes: bool) -> list[JSON]:
    params = []
    for field, kind in fields.items():
        # An empty value is no filter (as in v1); only text is kept as given.
        schema = _KIND_SCHEMAS[kind] if kind == "text" else or_empty(_KIND_SCHEMAS[kind])
        params.append(query_parameter(field, schema, f"{field} equals this value"))
        if not with_suffixes or kind == "bool":
            continue  # a boolean has no text to match (400)
        for suffix, verb in MATCH_SUFFIXES.items():
            params.append(query_parameter(f"{field}{suffix}", {"type": "string"},
                                          f"{field} {verb} this text (wildcards are escaped)"))
    return params


def _order_by(keys: list[str], default: str) -> JSON:
    # An empty order_by is the default order, as in the existing CTS.
    allowed = ["", *(prefix + key for key in keys for prefix in ("", "-"))]
    keys_schema = {"type": "array", "items": {"type": "string", "enum": allowed}}
    return query_parameter("order_by", keys_schema,
                           f"Sort keys, '-' for descending; repeatable. Default: {default}",
                           style="form", explode=True)


def paging_parameters(per_page_default: int, per_page_max: int) -> list[JSON]:
    return [
        query_parameter("page", or_empty({"type": "integer", "minimum": 1,
                                          "maximum": MAX_PAGE, "default": 1}),
                        "Page number"),
        query_parameter("per_page", or_empty({"type": "integer", "minimum": 1,
                                              "maximum": per_page_max,
                                              "default": per_page_default}),
                        f"Items per page; above {per_page_max} answers 400"),
    ]


def compose_filter_parameters() -> list[JSON]:
    """The filters of the compose list, shared by the query extensions (latest/...)."""
    return [
        *_filters(COMPOSE_FIELDS, with_suffixes=True),
        query_parameter("date_before", or_empty(_DATE),
                        "Composes dated strictly before YYYYMMDD"),
        query_parameter("date_after", or_empty(_DATE), "Composes dated strictly after YYYYMMDD"),
        query_parameter("tag", {"type": "array", "items": {
                            "type": "string", "pattern": r"^([^-][\s\S]*|-[\s\S]+)?$"}},
                        "Repeatable: tag=A&tag=B&tag=-C is tagged A and B and not C; "
                        "tag= alone selects composes with no tag", style="form", explode=True),
        query_parameter("removed", or_empty({"type": "boolean"}),
                        "Extension: false keeps composes whose data is still there, true only "
                        "removed ones"),
        *contents_filter_parameters(),
    ]


def compose_list_parameters(per_page_default: int, per_page_max: int) -> list[JSON]:
    return [
        *compose_filter_parameters(),
        _order_by(list(COMPOSE_FIELDS), "-date, -id"),
        *paging_parameters(per_page_default, per_page_max),
        CURSOR_PARAMETER,
    ]


def tag_list_parameters(per_page_default: int, per_page_max: int) -> list[JSON]:
    return [*_filters(TAG_FIELDS, with_suffixes=False), _order_by(list(TAG_FIELDS), "-id"),
            *paging_parameters(per_page_default, per_page_max)]
