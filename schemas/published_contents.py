"""Schema of the contents message CTS publishes (issue #12): a compose's rpms.json or
images.json was imported (a re-import of identical contents sends nothing)."""

from __future__ import annotations

from typing import Any, ClassVar

from schemas.published import ComposeMessage, compose_body_schema, dig

CONTENTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["compose_id", "kind", "count", "digest"],
    "properties": {
        "compose_id": {"type": "string"},
        "kind": {"enum": ["rpms", "images"]},
        "count": {"type": "integer", "minimum": 0},
        "digest": {"type": "string"},
    },
}


def _contents_schema() -> dict[str, Any]:
    schema = compose_body_schema("compose-contents-imported",
                                 "The RPMs or images of a compose were imported")
    schema["properties"]["contents"] = CONTENTS_SCHEMA
    schema["required"] = [*schema["required"], "contents"]
    return schema


class ComposeContentsImportedV1(ComposeMessage):
    """The compose's RPM or image list is stored (or replaced); `contents` says which
    and how many entries."""

    topic = "cts.compose-contents-imported"
    body_schema: ClassVar[dict[str, Any]] = _contents_schema()

    def happened(self) -> str:
        return (f"had {dig(self.body, 'contents', 'count')} "
                f"{dig(self.body, 'contents', 'kind')} imported")
