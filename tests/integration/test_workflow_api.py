"""Workflow extensions over HTTP on PostgreSQL and SQLite: promotions, gates, removal,
locations, status; bad input answers 4xx JSON and changes nothing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.conftest import create_tag, import_compose, read_database

COMPOSE_ID = "test-1.0-20200526.0"
BASE = f"/api/1/composes/{COMPOSE_ID}"


async def call(client, method: str, path: str, expected: int, **kwargs: Any) -> Any:
    response = await client.request(method, path, **kwargs)
    assert response.status == expected, await response.text()
    return await response.json()


def stored_counts(url: str) -> tuple[int, ...]:
    """Rows of every table a workflow command may write."""
    tables = ("outbox", "compose_changes", "tag_changes", "compose_tags", "tags",
              "promotion_requests", "tag_gates", "compose_locations")
    return tuple(read_database(url, f"SELECT count(*) FROM {t}")[0][0] for t in tables)


def topics(url: str) -> list[str]:
    return [row.topic for row in read_database(url, "SELECT topic FROM outbox ORDER BY id")]


async def test_promotion_walk_with_gates_history_and_v1_view(client, database_url):
    await import_compose(client)
    for name in ("installability-passed", "qa-passed", "nightly"):
        await create_tag(client, name)
    gates = await call(client, "PUT", "/api/1/tags/nightly/gates", 200,
                       json={"requires": ["qa-passed"]})
    assert gates == {"requires": ["qa-passed"], "excludes": []}
    await call(client, "PUT", "/api/1/tags/qa-passed/gates", 200,
               json={"requires": ["installability-passed"]})
    made = await call(client, "POST", f"{BASE}/promotions/", 201,
                      json={"to": "nightly", "reason": "best", "user_data": "T-1"})
    assert {k: made[k] for k in ("compose_id", "from", "to", "state", "reason")} == {
        "compose_id": COMPOSE_ID, "from": "periodic", "to": "nightly",
        "state": "requested", "reason": "best"}
    assert (await call(client, "GET", BASE, 200))["tags"] == ["nightly-requested"]
    refused = await call(client, "POST", f"/api/1/promotions/{made['id']}/perform", 409)
    assert "requires qa-passed" in refused["message"]
    v1 = await call(client, "PATCH", BASE, 409, json={"action": "tag", "tag": "qa-passed"})
    assert "installability-passed" in v1["message"] and v1["status"] == 409
    for name in ("installability-passed", "qa-passed"):
        await call(client, "PATCH", BASE, 200, json={"action": "tag", "tag": name})
    done = await call(client, "POST", f"/api/1/promotions/{made['id']}/perform", 200,
                      json={"reason": "green"})
    assert done["state"] == "performed" and done["decision_reason"] == "green"
    assert done["decided_at"].endswith("Z")
    compose = await call(client, "GET", BASE, 200)
    assert compose["tags"] == ["installability-passed", "nightly", "qa-passed"]
    actions = [c["action"] for c in (await call(client, "GET", f"{BASE}/changes/", 200))
               ["changes"]]
    assert actions == ["created", "tagged", "promotion_requested", "tagged", "tagged",
                       "tagged", "untagged", "promoted"]
    assert topics(database_url)[-3:] == ["cts.compose-tagged", "cts.compose-untagged",
                                         "cts.compose-promoted"]
    status = await call(client, "GET", f"{BASE}/status", 200)
    assert status["promotion_state"] == "nightly" and status["pending_promotion"] is None
    listed = await call(client, "GET", f"{BASE}/promotions/", 200)
    assert listed == {"promotions": [done]}
    page = await call(client, "GET", "/api/1/promotions/?state=performed&to=nightly", 200)
    assert page["items"] == [done] and page["meta"]["total"] == 1
    assert (await call(client, "GET", "/api/1/promotions/?state=requested", 200)
            )["meta"]["total"] == 0


async def test_reject_and_withdraw(client, database_url):
    await import_compose(client)
    first = await call(client, "POST", f"{BASE}/promotions/", 201, json={"to": "nightly"})
    rejected = await call(client, "POST", f"/api/1/promotions/{first['id']}/reject", 200,
                          json={"reason": "installer crashes"})
    assert rejected["state"] == "rejected"
    second = await call(client, "POST", f"{BASE}/promotions/", 201, json={"to": "nightly"})
    withdrawn = await call(client, "POST", f"/api/1/promotions/{second['id']}/withdraw", 200)
    assert withdrawn["state"] == "withdrawn"
    assert (await call(client, "GET", BASE, 200))["tags"] == []
    assert "cts.compose-promotion-rejected" in topics(database_url)
    assert topics(database_url)[-1] == "cts.compose-promotion-withdrawn"


@pytest.mark.parametrize(("method", "path", "body", "status", "text"), [
    ("POST", f"{BASE}/promotions/", {"to": "gold"}, 400, "Unknown promotion state"),
    ("POST", f"{BASE}/promotions/", {}, 400, '"to"'),
    ("POST", f"{BASE}/promotions/", {"to": "milestone"}, 409, "cannot be skipped"),
    ("POST", f"{BASE}/promotions/", {"to": "nightly", "reason": 5}, 400, '"reason"'),
    ("POST", "/api/1/composes/nope-1-20200101.0/promotions/", {"to": "nightly"}, 404,
     "No such compose found."),
    ("POST", "/api/1/promotions/2/reject", {}, 400, '"reason" is required'),
    ("POST", "/api/1/promotions/999/perform", {}, 404, "does not exist"),
    ("POST", "/api/1/promotions/abc/perform", {}, 404, "does not exist"),
    ("POST", "/api/1/promotions/1/perform", {}, 409, "already rejected"),
    ("PUT", "/api/1/tags/qa-passed/gates", {"requires": ["nope"]}, 400, "unknown tag"),
    ("PUT", "/api/1/tags/qa-passed/gates", {"requires": "x"}, 400, "must be a list"),
    ("PUT", "/api/1/tags/qa-passed/gates", {"require": []}, 400, "Unknown field"),
    ("PUT", "/api/1/tags/installability-passed/gates", {"requires": ["qa-passed"]}, 400,
     "loop"),
    ("PUT", "/api/1/tags/nope/gates", {}, 404, "does not exist"),
    ("POST", f"{BASE}/removal", {}, 400, '"reason" is required'),
    ("POST", f"{BASE}/removal", {"reason": 3}, 400, '"reason" is required'),
    ("GET", "/api/1/promotions/?state=done", None, 400, "state must be one of"),
    ("GET", "/api/1/promotions/?to=gold", None, 400, "to must be one of"),
    ("GET", "/api/1/promotions/?colour=red", None, 400, "Unknown parameter"),
])
async def test_bad_input_is_4xx_json_and_changes_nothing(client, database_url, method,
                                                         path, body, status, text):
    await import_compose(client)
    for name in ("installability-passed", "qa-passed"):
        await create_tag(client, name)
    await call(client, "PUT", "/api/1/tags/qa-passed/gates", 200,
               json={"requires": ["installability-passed"]})
    pending = await call(client, "POST", f"{BASE}/promotions/", 201, json={"to": "nightly"})
    await call(client, "POST", f"/api/1/promotions/{pending['id']}/reject", 200,
               json={"reason": "no"})
    # Request 1 is rejected, request 2 pending.
    await call(client, "POST", f"{BASE}/promotions/", 201, json={"to": "nightly"})
    before = stored_counts(database_url)
    kwargs = {"json": body} if body is not None else {}
    answer = await call(client, method, path, status, **kwargs)
    assert answer["status"] == status and text in answer["message"]
    assert stored_counts(database_url) == before


async def test_removal_is_recorded_announced_and_filterable(client, database_url):
    await import_compose(client)
    await import_compose(client, version="2.0")
    removed = await call(client, "POST", f"{BASE}/removal", 200,
                         json={"reason": "expired from /mnt/koji"})
    assert removed["compose_info"]["payload"]["compose"]["id"] == COMPOSE_ID
    status = await call(client, "GET", f"{BASE}/status", 200)
    assert status["removed"] is True and status["removed_at"].endswith("Z")
    assert status["removed_reason"] == "expired from /mnt/koji"
    assert topics(database_url)[-1] == "cts.compose-removed"
    again = stored_counts(database_url)
    await call(client, "POST", f"{BASE}/removal", 200, json={"reason": "twice"})
    assert stored_counts(database_url) == again  # already removed: no-op
    refused = await call(client, "POST", f"{BASE}/promotions/", 409, json={"to": "nightly"})
    assert "removed" in refused["message"]
    # Still queryable by id.
    await call(client, "GET", BASE, 200)


async def test_every_location_is_kept_and_the_current_one_answered(client):
    await import_compose(client, compose_url="https://a.example/1")
    for url in ("https://b.example/1", "https://c.example/1"):
        await call(client, "PATCH", BASE, 200, json={"action": "set_url", "compose_url": url})
    locations = (await call(client, "GET", f"{BASE}/locations/", 200))["locations"]
    assert [loc["url"] for loc in locations] == [
        "https://a.example/1", "https://b.example/1", "https://c.example/1"]
    assert all(loc["user"] == "anonymous" and loc["time"].endswith("Z") for loc in locations)
    assert (await call(client, "GET", BASE, 200))["compose_url"] == "https://c.example/1"
    await call(client, "GET", "/api/1/composes/nope-1-20200101.0/locations/", 404)


async def test_gates_are_read_by_name_or_id(client):
    await create_tag(client, "a-tag")
    tag = await create_tag(client, "b-tag")
    await call(client, "PUT", "/api/1/tags/b-tag/gates", 200, json={"excludes": ["a-tag"]})
    assert await call(client, "GET", f"/api/1/tags/{tag['id']}/gates", 200) == {
        "requires": [], "excludes": ["a-tag"]}
    history = await call(client, "GET", "/api/1/tags/b-tag/changes/", 200)
    assert history["changes"][-1]["action"] == "gates_changed"


async def test_concurrent_requests_for_one_compose_make_one_request(client, database_url):
    await import_compose(client)
    # The ladder tags do not exist yet either: the first request creates them.
    responses = await asyncio.gather(*(
        client.post(f"{BASE}/promotions/", json={"to": "nightly"}) for _ in range(6)))
    assert sorted(r.status for r in responses) == [201, 409, 409, 409, 409, 409]
    pending = read_database(database_url,
                            "SELECT count(*) FROM promotion_requests WHERE state = 'requested'")
    assert pending[0][0] == 1
    assert topics(database_url).count("cts.compose-promotion-requested") == 1
