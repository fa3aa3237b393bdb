"""Issue #15: a request the OpenAPI document allows is accepted, one it forbids is
refused (400). Each case is a disagreement schemathesis found between the two; the
document's verdict comes from its own schemas (the same validator as
test_meta.py), the service's from a real request.
"""

from __future__ import annotations

import re
from typing import Any

import openapi_schema_validator as oas
import pytest
from aiohttp.test_utils import TestClient

from ctsd.api.openapi import build_spec
from tests.conftest import compose_info, create_tag, import_compose

COMPOSE = "test-1.0-20200526.0"
_INTEGER = re.compile(r"^-?[0-9]+$")


def _valid(value: Any, schema: dict[str, Any], components: dict[str, Any]) -> bool:
    validator = oas.OAS30Validator({**schema, "components": components})
    return validator.is_valid(value)


def _query_value_allowed(text: str, schema: dict[str, Any], components: Any) -> bool:
    # A query value is text; integer and boolean schemas read it as a client would write it.
    candidates: list[Any] = [text]
    if _INTEGER.match(text):
        candidates.append(int(text))
    if text in ("true", "false"):
        candidates.append(text == "true")
    return any(_valid(value, schema, components) for value in candidates)


def document_allows(spec: dict[str, Any], method: str, template: str,
                    query: dict[str, str], body: Any) -> bool:
    path_item = spec["paths"][template]
    operation = path_item[method.lower()]
    components = spec["components"]
    parameters = {p["name"]: p for p in [*path_item.get("parameters", []),
                                          *operation.get("parameters", [])]
                  if p["in"] == "query"}
    for name, text in query.items():
        if name not in parameters:
            return False
        schema = parameters[name]["schema"]
        if schema.get("type") == "array":
            schema = schema["items"]
        if not _query_value_allowed(text, schema, components):
            return False
    if "requestBody" in operation:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        return _valid(body, schema, components)
    return True


def _import(**changes: Any) -> dict[str, Any]:
    info = compose_info()
    for dotted, value in changes.items():
        section, field = dotted.split("__")
        info[section][field] = value
    return {"compose_info": info}


# (method, path template, path, query, body, allowed): every row was a disagreement.
CASES = [
    # Empty filters are no filter, in v1 too: allowed and accepted.
    ("GET", "/api/1/composes/", "/api/1/composes/", {"date": ""}, None, True),
    ("GET", "/api/1/composes/", "/api/1/composes/", {"removed": ""}, None, True),
    ("GET", "/api/1/rpms/{name}/", "/api/1/rpms/bash/", {"date": ""}, None, True),
    ("GET", "/api/1/composes/", "/api/1/composes/", {"order_by": ""}, None, True),
    ("GET", "/api/1/tags/", "/api/1/tags/", {"order_by": ""}, None, True),
    # A date that is not on the calendar: forbidden and refused.
    ("GET", "/api/1/composes/", "/api/1/composes/", {"date": "20260230"}, None, False),
    # A boolean has no text match.
    ("GET", "/api/1/composes/latest/", "/api/1/composes/latest/",
     {"final_contains": "x"}, None, False),
    ("GET", "/api/1/composes/", "/api/1/composes/", {"rpm_nvr": "__main__"}, None, False),
    ("GET", "/api/1/promotions/", "/api/1/promotions/", {"to": "0"}, None, False),
    ("GET", "/api/1/promotions/", "/api/1/promotions/",
     {"page": "999999999999999998"}, None, True),
    ("PATCH", "/api/1/composes/{compose_id}", f"/api/1/composes/{COMPOSE}",
     {}, {"action": "tag"}, False),
    ("PATCH", "/api/1/composes/{compose_id}", f"/api/1/composes/{COMPOSE}",
     {}, {"action": "tag", "tag": "rc", "user_data": None}, True),
    ("PATCH", "/api/1/tags/{tag}", "/api/1/tags/rc", {},
     {"action": "add_tagger", "username": "odcs", "group": None}, True),
    ("PATCH", "/api/1/tags/{tag}", "/api/1/tags/rc", {}, {"name": "", "description": ""}, True),
    ("PATCH", "/api/1/tags/{tag}", "/api/1/tags/rc", {}, {"action": "add_tagger"}, False),
    ("POST", "/api/1/tags/", "/api/1/tags/", {},
     {"name": "0", "description": "d", "documentation": "d"}, False),
    ("POST", "/api/1/tags/", "/api/1/tags/", {},
     {"name": "\u00b2", "description": "d", "documentation": "d", "user_data": None}, True),
    ("POST", "/api/1/composes/{compose_id}/promotions/", f"/api/1/composes/{COMPOSE}/promotions/",
     {}, {"to": "0"}, False),
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     {**_import(), "respin_of": "", "parent_compose_ids": None}, True),
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     {**_import(), "parent_compose_ids": {}}, False),
    # productmd ignores a base product of a release that is not layered.
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     _import(payload__base_product={"name": "", "short": "b", "type": "AAA"}), True),
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     _import(payload__base_product=[None]), True),
    # A release type is "ga" when absent and checked lower-cased; a label may be "".
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     _import(payload__release={**compose_info()["payload"]["release"], "type": "GA"}), True),
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     _import(payload__compose={**compose_info()["payload"]["compose"], "label": ""}), True),
    # ... and reads "final" only with a label, and "internal" as true or false.
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     _import(payload__compose={**compose_info()["payload"]["compose"], "final": "x"}), True),
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     _import(header__version=""), False),
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     _import(payload__compose={**compose_info()["payload"]["compose"], "date": "20200230"}),
     False),
    # A newline after the release short used to pass ("$" matches before it) and
    # went into the compose id.
    ("POST", "/api/1/composes/", "/api/1/composes/", {},
     _import(payload__release={**compose_info()["payload"]["release"], "short": "test\n"}),
     False),
    ("PUT", "/api/1/tags/{tag}/gates", "/api/1/tags/rc/gates", {},
     {"requires": [], "T": 1}, False),
    ("PUT", "/api/1/composes/{compose_id}/rpms", f"/api/1/composes/{COMPOSE}/rpms", {}, {},
     False),
]


@pytest.mark.parametrize(("method", "template", "path", "query", "body", "allowed"), CASES,
                         ids=[f"{c[0]} {c[2]} {c[3] or c[4]}"[:70] for c in CASES])
async def test_the_document_allows_what_the_service_accepts(
        pg_client: TestClient, method: str, template: str, path: str,
        query: dict[str, str], body: Any, allowed: bool) -> None:
    await import_compose(pg_client)
    await create_tag(pg_client, "rc")
    spec = build_spec()
    assert document_allows(spec, method, template, query, body) is allowed
    kwargs: dict[str, Any] = {"params": query}
    if body is not None:
        kwargs["json"] = body
    response = await pg_client.request(method, path, **kwargs)
    text = await response.text()
    assert response.status < 500, text
    assert (response.status != 400) is allowed, text
