"""OpenAPI schemas of what clients send: request bodies and the value rules they share.

Each rule here says what the service accepts, so that a request the document allows is
one the service takes and a request it forbids is refused (schemathesis checks both
ways). Where the existing CTS takes `null` for an optional field as "not given", the
field is nullable: v1 scripts send it. The limits are the handlers' own constants.
What a schema cannot say (a tag or compose that must exist, productmd's checks across
fields of a ComposeInfo) is said in the descriptions and answers 400, as in v1.
"""

from __future__ import annotations

from typing import Any

from ctsd.api.openapi_rules import HTTP_URL, NOT_BLANK, TAG_NAME
from ctsd.api.openapi_schemas import JSON, ref
from handlers.composes import MAX_PARENTS
from handlers.gates import MAX_GATES
from handlers.tags import MAX_TAG_NAME
from handlers.validation import MAX_URL_LENGTH, MAX_USER_DATA_LENGTH


def _string(**rules: Any) -> JSON:
    return {"type": "string", **rules}


def _nullable(schema: JSON) -> JSON:
    return {**schema, "nullable": True}


def user_data() -> JSON:
    return _nullable(_string(maxLength=MAX_USER_DATA_LENGTH,
                             description="Recorded in the history, e.g. the ticket that "
                                         "asked; null is the same as absent"))


def http_url(description: str) -> JSON:
    return _string(maxLength=MAX_URL_LENGTH, pattern=HTTP_URL, description=description)


def tag_name(description: str = "Tag name") -> JSON:
    return _string(minLength=1, maxLength=MAX_TAG_NAME, pattern=TAG_NAME,
                   description=description)


def _text(max_length: int = 10000) -> JSON:
    return _string(minLength=1, maxLength=max_length, pattern=NOT_BLANK)


def _object(properties: JSON, required: list[str] | None = None, **extra: Any) -> JSON:
    schema: JSON = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = required
    return schema


def _compose_requests() -> JSON:
    compose_id = _string(minLength=1, description="An existing compose ID (400 otherwise)")
    import_request = _object({
        "compose_info": ref("ComposeInfo"),
        "parent_compose_ids": _nullable({"type": "array", "items": compose_id,
                                         "maxItems": MAX_PARENTS}),
        "respin_of": _nullable(_string(description="An existing compose ID (400 "
                                                   "otherwise); empty: not a respin")),
        "compose_url": _nullable(http_url("http(s) URL")),
    }, ["compose_info"], description="productmd checks compose_info across its fields "
                                     "(the id against date and type, variants); what it "
                                     "refuses answers 400 naming the field")
    # The action decides which other field is needed: one branch per action.
    tagging = _object({"action": _string(enum=["tag", "untag"]),
                       "tag": _string(minLength=1, description="An existing tag's name "
                                                               "(400 otherwise)"),
                       "user_data": user_data()}, ["action", "tag"])
    set_url = _object({"action": _string(enum=["set_url"]),
                       "compose_url": http_url("http(s) URL"),
                       "user_data": user_data()}, ["action", "compose_url"])
    return {"ImportComposeRequest": import_request,
            "ChangeComposeRequest": {"oneOf": [tagging, set_url]}}


def _edit_tag_principals() -> list[JSON]:
    """An action needs a username, a group or both; without one they are not read."""
    principal = _string(minLength=1, maxLength=255, pattern=NOT_BLANK,
                        description="For action")
    return [
        {"not": {"required": ["action"]}},
        _object({"username": principal, "group": _nullable(principal)},
                ["action", "username"]),
        _object({"username": _nullable(principal), "group": principal},
                ["action", "group"]),
    ]


def _tag_requests() -> JSON:
    create = _object({
        "name": tag_name(), "description": _text(), "documentation": _text(),
        "user_data": user_data(),
    }, ["name", "description", "documentation"])
    # An empty new name, description or documentation changes nothing, as in v1.
    edit = _object({
        "name": _nullable({"anyOf": [tag_name("New name"), _string(maxLength=0)]}),
        "description": _nullable({"anyOf": [_text(), _string(maxLength=0)]}),
        "documentation": _nullable({"anyOf": [_text(), _string(maxLength=0)]}),
        "action": _string(enum=["add_tagger", "remove_tagger", "add_untagger",
                                "remove_untagger"]),
        "user_data": user_data(),
    }, anyOf=_edit_tag_principals())
    gates = {"type": "array", "maxItems": MAX_GATES,
             "items": _string(description="An existing tag's name (400 otherwise)")}
    return {"CreateTagRequest": create, "EditTagRequest": edit,
            "TagGatesRequest": _object({"requires": gates, "excludes": gates,
                                        "user_data": user_data()},
                                       additionalProperties=False)}


def _workflow_requests(ladder: tuple[str, ...]) -> JSON:
    reason = _nullable(_string(maxLength=MAX_USER_DATA_LENGTH))
    required_reason = _string(minLength=1, maxLength=MAX_USER_DATA_LENGTH)
    return {
        # The ladder's first state is where every compose starts; it cannot be requested.
        "PromotionRequestBody": _object({"to": _string(enum=list(ladder[1:])),
                                         "reason": reason, "user_data": user_data()},
                                        ["to"]),
        "DecisionBody": _object({"reason": reason}),
        "RejectBody": _object({"reason": required_reason}, ["reason"]),
        "RemovalBody": _object({"reason": {**required_reason, "pattern": NOT_BLANK}},
                               ["reason"]),
    }


def request_schemas(ladder: tuple[str, ...]) -> JSON:
    """Every request body schema; `ladder` is the configured promotion ladder."""
    return {**_compose_requests(), **_tag_requests(), **_workflow_requests(ladder)}
