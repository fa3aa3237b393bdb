"""Import, tag, untag and set_url through the real HTTP app and a real database."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ctsd.db.tables import outbox
from tests.conftest import compose_info, create_tag, import_compose, read_database


def outbox_rows(url: str) -> list[Any]:
    return read_database(url, select(outbox).order_by(outbox.c.id))


async def test_import_allocates_next_respin_and_records_history(client, settings):
    first = await import_compose(client)
    second = await import_compose(client)
    assert first["payload"]["compose"]["id"] == "test-1.0-20200526.0"
    assert second["payload"]["compose"]["respin"] == 1
    assert second["payload"]["compose"]["id"] == "test-1.0-20200526.1"

    response = await client.get("/api/1/composes/test-1.0-20200526.1/changes/")
    changes = (await response.json())["changes"]
    assert [c["action"] for c in changes] == ["created"]
    rows = outbox_rows(settings.database_url)
    assert [r.topic for r in rows] == ["cts.compose-created", "cts.compose-created"]
    assert rows[1].body["compose"]["compose_info"]["payload"]["compose"]["respin"] == 1


async def test_tag_twice_is_one_change_and_one_message(client, settings):
    await create_tag(client, "nightly")
    await import_compose(client)
    for _ in range(2):
        response = await client.patch("/api/1/composes/test-1.0-20200526.0",
                                      json={"action": "tag", "tag": "nightly",
                                            "user_data": "ticket-1"})
        assert response.status == 200
        assert (await response.json())["tags"] == ["nightly"]
    topics = [r.topic for r in outbox_rows(settings.database_url)]
    assert topics == ["cts.compose-created", "cts.compose-tagged"]
    tagged = outbox_rows(settings.database_url)[1].body
    assert tagged["tag"] == "nightly" and tagged["user_data"] == "ticket-1"
    assert tagged["compose"]["tags"] == ["nightly"]


async def test_unknown_parent_is_rejected_and_nothing_stored(client, settings):
    response = await client.post("/api/1/composes/", json={
        "compose_info": compose_info(),
        "parent_compose_ids": ["missing-1.0-20200101.0"]})
    assert response.status == 400
    body = await response.json()
    assert "missing-1.0-20200101.0" in body["message"]
    assert outbox_rows(settings.database_url) == []
    # The failed import did not consume a respin.
    created = await import_compose(client)
    assert created["payload"]["compose"]["respin"] == 0
