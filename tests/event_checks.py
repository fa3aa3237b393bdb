"""Every event a handler raises in a test is validated against its published schema
(schemas.registry) at the moment it is raised, so the handler test that raised an
invalid message fails, not a relay much later."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from handlers.events import EVENT_CHECKS, ChangeEvent
from schemas.registry import SCHEMA_OF_EVENT


def validate_against_schema(event: ChangeEvent) -> None:
    schema = SCHEMA_OF_EVENT[type(event)]
    schema(body=event.body(), topic=f"cts.{event.event}").validate()


@pytest.fixture(autouse=True)
def events_validated_when_raised() -> Iterator[None]:
    EVENT_CHECKS.append(validate_against_schema)
    yield
    EVENT_CHECKS.remove(validate_against_schema)
