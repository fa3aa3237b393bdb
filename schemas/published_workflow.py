"""Schemas of the workflow messages CTS publishes: promotion transitions, reminders of
stale promotion requests, and removal requests of the expiry policy.

Compose messages like those of schemas.published, with what the transition is about
added; the same rule holds: a class never starts rejecting a body it accepted.
"""

from __future__ import annotations

from typing import Any, ClassVar

from schemas.published import NULLABLE_STRING, ComposeMessage, compose_body_schema, dig

# Workflow messages (issue #5): promotion transitions, reminders, removal requests.

PROMOTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["id", "compose_id", "from", "to", "state", "requested_by", "requested_at",
                 "reason", "decided_by", "decided_at", "decision_reason"],
    "properties": {
        "id": {"type": "integer"},
        "compose_id": {"type": "string"},
        "from": {"type": "string"},
        "to": {"type": "string"},
        "state": {"enum": ["requested", "performed", "rejected", "withdrawn"]},
        "requested_by": {"type": "string"},
        "requested_at": {"type": "string"},
        "reason": NULLABLE_STRING,
        "decided_by": NULLABLE_STRING,
        "decided_at": NULLABLE_STRING,
        "decision_reason": NULLABLE_STRING,
    },
}


def promotion_body_schema(event: str, description: str, state: str) -> dict[str, Any]:
    """A compose message that also carries the promotion request, in `state`."""
    schema = compose_body_schema(event, description)
    promotion = {**PROMOTION_SCHEMA, "properties": {**PROMOTION_SCHEMA["properties"],
                                                    "state": {"enum": [state]}}}
    schema["properties"]["promotion"] = promotion
    schema["required"] = [*schema["required"], "promotion"]
    return schema


class PromotionMessage(ComposeMessage):
    """A promotion request changed (or is still waiting): `promotion` is the request."""

    @property
    def promotion(self) -> dict[str, Any]:
        found = dig(self.body, "promotion")
        return found if isinstance(found, dict) else {}

    @property
    def usernames(self) -> list[str]:
        # The requester follows their request to the end.
        names = set(super().usernames) | {self.promotion.get("requested_by")}
        return sorted(name for name in names if isinstance(name, str) and name)


class ComposePromotionRequestedV1(PromotionMessage):
    """Someone asked for the compose to be promoted to the next ladder state."""

    topic = "cts.compose-promotion-requested"
    body_schema: ClassVar[dict[str, Any]] = promotion_body_schema(
        "compose-promotion-requested", "A promotion of a compose was requested", "requested")

    def happened(self) -> str:
        return f"was requested for promotion to {self.promotion.get('to')}"


class ComposePromotedV1(PromotionMessage):
    """A promotion request was performed: the compose is in its new state."""

    topic = "cts.compose-promoted"
    body_schema: ClassVar[dict[str, Any]] = promotion_body_schema(
        "compose-promoted", "A compose was promoted", "performed")

    def happened(self) -> str:
        return f"was promoted to {self.promotion.get('to')}"


class ComposePromotionRejectedV1(PromotionMessage):
    """A promotion request was rejected (with a reason)."""

    topic = "cts.compose-promotion-rejected"
    body_schema: ClassVar[dict[str, Any]] = promotion_body_schema(
        "compose-promotion-rejected", "A promotion request was rejected", "rejected")

    def happened(self) -> str:
        return f"was refused promotion to {self.promotion.get('to')}"


class ComposePromotionWithdrawnV1(PromotionMessage):
    """A promotion request was withdrawn."""

    topic = "cts.compose-promotion-withdrawn"
    body_schema: ClassVar[dict[str, Any]] = promotion_body_schema(
        "compose-promotion-withdrawn", "A promotion request was withdrawn", "withdrawn")

    def happened(self) -> str:
        return f"had its promotion to {self.promotion.get('to')} withdrawn"


class ComposePromotionReminderV1(PromotionMessage):
    """A promotion request is still pending: re-announced once per configured interval
    (`agent` is null: the daemon sends it, nobody acted)."""

    topic = "cts.compose-promotion-reminder"
    body_schema: ClassVar[dict[str, Any]] = promotion_body_schema(
        "compose-promotion-reminder", "A promotion request is still pending", "requested")

    def happened(self) -> str:
        return f"still waits for promotion to {self.promotion.get('to')}"


def _removal_request_schema() -> dict[str, Any]:
    schema = compose_body_schema("compose-removal-requested",
                                 "The expiry policy asks for a compose to be removed")
    schema["properties"]["reason"] = {"type": "string"}
    schema["required"] = [*schema["required"], "reason"]
    return schema


class ComposeRemovalRequestedV1(ComposeMessage):
    """The expiry policy asks the storage owner to remove a compose nobody promoted."""

    topic = "cts.compose-removal-requested"
    body_schema: ClassVar[dict[str, Any]] = _removal_request_schema()

    def happened(self) -> str:
        return f"should be removed ({dig(self.body, 'reason')})"
