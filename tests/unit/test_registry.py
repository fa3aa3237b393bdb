"""The one message registry (schemas.registry) and everything that must agree with it:
setup.py's entry points, the consumer's request commands, the handlers' event types."""

from __future__ import annotations

import ast
from pathlib import Path

import jsonschema
import pytest

from ctsd.consumer.inputs import REQUEST_COMMANDS
from handlers.events import EVENT_TYPES, ComposeTagged
from schemas import registry
from tests.event_checks import validate_against_schema

SETUP_PY = Path(__file__).resolve().parents[2] / "setup.py"


def _declared_entry_points() -> list[str]:
    tree = ast.parse(SETUP_PY.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "entry_points":
            declared = ast.literal_eval(node.value)
            return list(declared["fedora.messages"])
    raise AssertionError("setup.py declares no entry_points")


def test_setup_py_declares_exactly_the_registry_entry_points():
    assert _declared_entry_points() == registry.entry_points()


def test_every_event_type_has_one_published_schema_and_topic():
    by_event = [entry.event for entry in registry.PUBLISHED]
    assert sorted(by_event, key=lambda e: e.event) == sorted(EVENT_TYPES, key=lambda e: e.event)
    assert len({entry.topic for entry in registry.PUBLISHED}) == len(registry.PUBLISHED)
    assert registry.PUBLISHED_BY_EVENT["compose-tagged"] is registry.SCHEMA_OF_EVENT[ComposeTagged]


def test_names_and_topics_are_unique_across_the_registry():
    entries = (*registry.PUBLISHED, *registry.ACCEPTED)
    assert len({entry.name for entry in entries}) == len(entries)
    assert len(registry.SCHEMA_NAMES) == len(entries) + 1  # and base.message


def test_every_accepted_request_becomes_a_command():
    assert set(REQUEST_COMMANDS) == {entry.schema for entry in registry.ACCEPTED}
    assert set(registry.REQUEST_SCHEMAS) == {entry.topic for entry in registry.ACCEPTED}


def test_an_event_its_schema_refuses_fails_when_raised():
    compose = {"compose_info": {}, "tags": []}
    broken = ComposeTagged(tag=None, user_data=None, compose=compose,  # type: ignore[arg-type]
                           agent="alice")
    with pytest.raises(jsonschema.ValidationError):
        validate_against_schema(broken)


def test_event_bodies_keep_the_field_order_of_the_messages():
    event = ComposeTagged(tag="nightly", user_data="t", compose={"x": 1}, agent="alice")
    assert list(event.body()) == ["event", "tag", "user_data", "compose", "agent"]
    assert event.body()["event"] == "compose-tagged"
