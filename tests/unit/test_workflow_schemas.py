"""Schemas of the workflow messages accept what CTS sends (tests/fixtures/published) and
refuse bodies of another transition or without the promotion."""

from __future__ import annotations

import copy

import jsonschema
import pytest

from schemas import PUBLISHED_BY_EVENT
from schemas.published_workflow import (
    ComposePromotedV1,
    ComposePromotionRequestedV1,
    ComposeRemovalRequestedV1,
)
from schemas.validation import validate_message
from tests.examples import published_example as example

WORKFLOW_EVENTS = ["compose-promotion-requested", "compose-promoted",
                   "compose-promotion-rejected", "compose-promotion-withdrawn",
                   "compose-promotion-reminder"]


@pytest.mark.parametrize("event", [*WORKFLOW_EVENTS, "compose-removal-requested"])
def test_examples_exist_and_validate(event):
    body = example(event)
    message = PUBLISHED_BY_EVENT[event](body=body, topic=f"cts.{event}")
    message.validate()
    validate_message(message)


@pytest.mark.parametrize("event", WORKFLOW_EVENTS)
def test_a_body_without_its_promotion_fails(event):
    body = copy.deepcopy(example(event))
    body.pop("promotion")
    with pytest.raises(jsonschema.ValidationError):
        PUBLISHED_BY_EVENT[event](body=body, topic=f"cts.{event}").validate()


def test_a_request_in_another_state_fails():
    body = copy.deepcopy(example("compose-promotion-requested"))
    body["event"] = "compose-promoted"
    # Right event name, but the request in it is still "requested".
    with pytest.raises(jsonschema.ValidationError):
        ComposePromotedV1(body=body, topic="cts.compose-promoted").validate()


def test_removal_request_needs_a_reason():
    body = copy.deepcopy(example("compose-removal-requested"))
    body.pop("reason")
    with pytest.raises(jsonschema.ValidationError):
        ComposeRemovalRequestedV1(body=body, topic="cts.x").validate()


def test_summaries_say_what_happened_and_the_requester_is_a_user():
    message = ComposePromotionRequestedV1(body=example("compose-promotion-requested"),
                                          topic="cts.compose-promotion-requested")
    assert message.summary == ("Compose Fedora-Rawhide-20261124.n.0 was requested for "
                               "promotion to nightly by qe-bot")
    promoted = ComposePromotedV1(body=example("compose-promoted"), topic="cts.x")
    assert "qe-bot" in promoted.usernames and "releng" in promoted.usernames
