"""Requests to CTS over the bus: what `ctsd consume` accepts on its own topics.

Each topic is `<topic_prefix>request.<action>` (`cts.request.tag` by default) and its
body maps one to one onto the command of the same HTTP action. The sender is the AMQP
`user_id` property, which RabbitMQ checks against the connection's login; requests
without it are refused. The answer is the ordinary change message (`cts.compose-*`)
whose `in_reply_to` is the request's message id; a refused request lands in the
dead-letter queue with the reason (and, if it had `reply_to`, an error reply is sent).
"""

from __future__ import annotations

from typing import Any, ClassVar

from fedora_messaging.message import Message

_SCHEMA = "http://json-schema.org/draft-04/schema#"
_COMPOSE_ID = {"type": "string", "minLength": 1, "maxLength": 255}
_OPTIONAL_TEXT = {"type": ["string", "null"]}


def _body(description: str, required: list[str], **properties: Any) -> dict[str, Any]:
    # Requests are ours: unknown keys are refused, so a typo cannot silently drop a field.
    # `traceparent` (W3C trace context, where the existing CTS puts it) is always allowed.
    return {"$schema": _SCHEMA, "description": description, "type": "object",
            "properties": {**properties, "traceparent": {"type": "string"}},
            "required": required, "additionalProperties": False}


class ImportRequestV1(Message):
    """Import a compose: allocate its id (the body of `POST /api/1/composes/`)."""

    topic = "cts.request.import"
    body_schema: ClassVar[dict[str, Any]] = _body(
        "Import a compose; CTS allocates its id and respin",
        ["compose_info"],
        compose_info={"type": "object", "description": "productmd ComposeInfo"},
        parent_compose_ids={"type": ["array", "null"], "items": _COMPOSE_ID},
        respin_of={"type": ["string", "null"]},
        compose_url=_OPTIONAL_TEXT,
    )

    @property
    def summary(self) -> str:
        return "Request to import a compose"


def _tagging(description: str) -> dict[str, Any]:
    return _body(description, ["compose_id", "tag"], compose_id=_COMPOSE_ID,
                 tag={"type": "string", "minLength": 1}, user_data=_OPTIONAL_TEXT)


class TagRequestV1(Message):
    """Add a tag to a compose (PATCH action `tag`)."""

    topic = "cts.request.tag"
    body_schema: ClassVar[dict[str, Any]] = _tagging("Tag a compose")

    @property
    def summary(self) -> str:
        return f"Request to tag {self.body.get('compose_id')} with {self.body.get('tag')}"


class UntagRequestV1(Message):
    """Remove a tag from a compose (PATCH action `untag`)."""

    topic = "cts.request.untag"
    body_schema: ClassVar[dict[str, Any]] = _tagging("Untag a compose")

    @property
    def summary(self) -> str:
        return f"Request to untag {self.body.get('tag')} from {self.body.get('compose_id')}"


class SetUrlRequestV1(Message):
    """Record where a compose lives now (PATCH action `set_url`)."""

    topic = "cts.request.set_url"
    body_schema: ClassVar[dict[str, Any]] = _body(
        "Set the compose URL", ["compose_id", "compose_url"],
        compose_id=_COMPOSE_ID, compose_url={"type": "string", "minLength": 1},
        user_data=_OPTIONAL_TEXT,
    )

    @property
    def summary(self) -> str:
        return f"Request to move {self.body.get('compose_id')} to {self.body.get('compose_url')}"


class MarkRemovedRequestV1(Message):
    """The compose's data is gone from storage; mark it removed."""

    topic = "cts.request.mark_removed"
    body_schema: ClassVar[dict[str, Any]] = _body(
        "Mark a compose removed", ["compose_id"],
        compose_id=_COMPOSE_ID, reason=_OPTIONAL_TEXT,
    )

    @property
    def summary(self) -> str:
        return f"Request to mark {self.body.get('compose_id')} removed"


class PromotionRequestV1(Message):
    """Ask for a compose to move one step up the promotion ladder (POST
    /api/1/composes/{id}/promotions/)."""

    topic = "cts.request.promotion"
    body_schema: ClassVar[dict[str, Any]] = _body(
        "Request a promotion", ["compose_id", "to"],
        compose_id=_COMPOSE_ID, to={"type": "string", "minLength": 1, "maxLength": 100},
        reason=_OPTIONAL_TEXT, user_data=_OPTIONAL_TEXT,
    )

    @property
    def summary(self) -> str:
        return f"Request to promote {self.body.get('compose_id')} to {self.body.get('to')}"


class PromotionDecisionV1(Message):
    """Perform, reject or withdraw a pending promotion request (POST
    /api/1/promotions/{id}/perform, /reject, /withdraw)."""

    topic = "cts.request.promotion_decision"
    body_schema: ClassVar[dict[str, Any]] = _body(
        "Decide a promotion request", ["promotion_id", "decision"],
        promotion_id={"type": "integer", "minimum": 1},
        decision={"enum": ["perform", "reject", "withdraw"]},
        reason=_OPTIONAL_TEXT,
    )

    @property
    def summary(self) -> str:
        return f"Request to {self.body.get('decision')} promotion {self.body.get('promotion_id')}"


class FetchContentsRequestV1(Message):
    """Fetch a compose's contents (rpms.json, images.json) from its compose tree and
    import them: queues the same durable fetch job a new location does. The files
    themselves (tens of megabytes) are never sent over the bus; over HTTP they can be
    PUT to /api/1/composes/{id}/rpms and /images."""

    topic = "cts.request.fetch_contents"
    body_schema: ClassVar[dict[str, Any]] = _body(
        "Fetch and import a compose's contents", ["compose_id"],
        compose_id=_COMPOSE_ID,
        compose_url={"type": ["string", "null"], "minLength": 1, "maxLength": 4096,
                     "description": "top of the compose tree (default: the compose's "
                                    "location)"},
    )

    @property
    def summary(self) -> str:
        return f"Request to fetch the contents of {self.body.get('compose_id')}"
