"""The published message schemas accept what CTS really sends and reject broken bodies."""

from __future__ import annotations

import copy
from importlib.metadata import entry_points
from typing import Any

import jsonschema
import pytest
from fedora_messaging import message as fm_message

from schemas import (
    PUBLISHED_BY_EVENT,
    SCHEMA_NAMES,
    ComposeChangedV1,
    ComposeCreatedV1,
    ComposeTaggedV1,
    ComposeUntaggedV1,
    message_class_for,
)
from schemas.validation import InvalidMessage, validate_message
from tests.examples import published_example as example
from tests.examples import published_example_names


def message(body: dict[str, Any], topic: str | None = None) -> fm_message.Message:
    cls = message_class_for(body.get("event"))
    return cls(body=body, topic=topic or f"cts.{body.get('event')}")


@pytest.mark.parametrize("name", published_example_names())
def test_real_bodies_validate(name):
    body = example(name)
    msg = message(body)
    assert type(msg) is PUBLISHED_BY_EVENT[body["event"]]
    msg.validate()
    validate_message(msg)  # the relay's cached validators accept the same


def test_topic_prefix_does_not_matter():
    # Deployments put an environment in front of the configurable prefix.
    message(example("compose-created"), topic="org.example.stage.cts.compose-created").validate()


@pytest.mark.parametrize("breakage", [
    lambda b: b.pop("compose"),
    lambda b: b.pop("event"),
    lambda b: b.pop("agent"),
    lambda b: b["compose"].pop("compose_info"),
    lambda b: b["compose"].pop("tags"),
    lambda b: b["compose"]["compose_info"]["payload"]["compose"].pop("id"),
    lambda b: b["compose"]["compose_info"]["payload"]["compose"].update(respin="0"),
    lambda b: b["compose"]["compose_info"]["payload"].pop("release"),
    lambda b: b["compose"].update(tags="nightly"),
    lambda b: b.update(compose=None),
], ids=["no-compose", "no-event", "no-agent", "no-compose_info", "no-tags", "no-compose-id",
        "respin-as-string", "no-release", "tags-not-a-list", "compose-null"])
@pytest.mark.parametrize("name", ["compose-created", "compose-tagged"])
def test_broken_bodies_fail(name, breakage):
    body = copy.deepcopy(example(name))
    breakage(body)
    broken = PUBLISHED_BY_EVENT[name](body=body, topic=f"cts.{name}")
    with pytest.raises(jsonschema.ValidationError):
        broken.validate()
    with pytest.raises(InvalidMessage):
        validate_message(broken)  # the relay's compiled validators refuse the same


@pytest.mark.parametrize(("cls", "name"), [
    (ComposeCreatedV1, "compose-tagged"),
    (ComposeTaggedV1, "compose-untagged"),
    (ComposeUntaggedV1, "compose-created"),
    (ComposeChangedV1, "compose-created"),
])
def test_wrong_event_fails(cls, name):
    # A body of another event must not pass as this one, even when its fields fit.
    with pytest.raises(jsonschema.ValidationError):
        cls(body=example(name), topic=cls.topic).validate()


@pytest.mark.parametrize("field", ["tag", "user_data"])
def test_tag_events_need_tag_and_user_data(field):
    body = example("compose-tagged")
    del body[field]
    with pytest.raises(jsonschema.ValidationError):
        ComposeTaggedV1(body=body, topic="cts.compose-tagged").validate()


def test_added_fields_are_accepted():
    # messages.md: adding a field to a body is fine; consumers must not break on it.
    body = example("compose-tagged")
    body["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    body["something_new"] = {"x": 1}
    body["compose"]["promoted"] = True
    message(body).validate()


def test_display_properties():
    tagged = message(example("compose-tagged-layered"))
    assert tagged.summary == ("Compose Supp-9.4-RHEL-9-20240301.n.0 was tagged with "
                              "nightly-requested by bob")
    assert tagged.agent_name == "bob"
    assert tagged.usernames == ["bob", "odcs/odcs.example.com"]
    assert tagged.url == "https://composes.example.com/Supp-9.4-RHEL-9-20240301.n.0"
    assert tagged.app_name == "CTS"
    text = str(tagged)
    assert text.startswith(tagged.summary)
    assert "Release: Supp-9.4" in text and "Note: https://issues.example.com/RHELCMP-1" in text

    assert message(example("compose-created")).summary == (
        "Compose test-1.0-20200526.1 was created by pungi")
    assert message(example("compose-untagged")).summary == (
        "Compose test-1.0-20200526.0 was untagged with nightly by alice")
    assert message(example("compose-changed")).summary == (
        "Compose test-1.0-20200526.0 was changed by pungi")


def test_display_properties_survive_a_broken_body():
    # fedora-messaging computes filter headers from these even before validating.
    for body in ({"event": "compose-tagged"}, {"compose": "x", "agent": 3}, ["not", "a", "dict"]):
        broken = ComposeTaggedV1(body=body, topic="cts.compose-tagged")
        assert broken.usernames == []
        assert broken.compose_id is None
        assert "None" in broken.summary
        assert str(broken)


def test_entry_points_match_the_schema_names():
    registered = {ep.name: ep.value for ep in entry_points(group="fedora.messages")
                  if ep.value.startswith("schemas.")}
    ours = {name: f"{cls.__module__}:{cls.__name__}" for cls, name in SCHEMA_NAMES.items()
            if cls.__module__.startswith("schemas.")}
    assert registered == ours


def test_fedora_messaging_finds_the_classes_by_schema_name():
    for cls in PUBLISHED_BY_EVENT.values():
        assert fm_message.get_class(SCHEMA_NAMES[cls]) is cls


def test_unknown_event_falls_back_to_base_message():
    assert message_class_for("compose-frobnicated") is fm_message.Message
    assert message_class_for(None) is fm_message.Message
