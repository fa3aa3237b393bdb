"""Issue #15: v1 answers a v1 client cannot tell from the existing CTS's: about's
allowed_builders object, per_page up to 1000, empty meta.last at page=0, the link
parameter order, and the existing service's error and history texts."""

from __future__ import annotations

import tracemalloc

import pytest

from ctsd.api.app import create_app
from ctsd.config import Principals, Settings
from tests.conftest import compose_info, create_tag, import_compose, read_database

COMPOSE_ID = "test-1.0-20200526.0"


async def test_about_lists_builders_as_the_existing_object(aiohttp_client, pg_url):
    settings = Settings(database_url=pg_url, allowed_builders=Principals(
        users=frozenset({"odcs", "pungi"}), groups=frozenset({"releng"})))
    client = await aiohttp_client(create_app(settings))
    about = await (await client.get("/api/1/about/")).json()
    assert about["allowed_builders"] == {"groups": ["releng"], "users": ["odcs", "pungi"]}


async def test_default_per_page_ceiling_serves_1000(pg_client):
    await import_compose(pg_client)
    response = await pg_client.get("/api/1/composes/?per_page=1000")
    assert response.status == 200, await response.text()
    assert (await response.json())["meta"]["per_page"] == 1000


async def test_empty_result_last_is_page_0_and_links_keep_v1_order(pg_client):
    response = await pg_client.get("/api/1/composes/?tag=foo&per_page=10&page=1")
    meta = (await response.json())["meta"]
    assert meta["total"] == 0 and meta["pages"] == 0
    assert meta["last"].endswith("/api/1/composes/?page=0&per_page=10&tag=foo")
    assert meta["first"].endswith("/api/1/composes/?page=1&per_page=10&tag=foo")


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "message"), [
    ("GET", "/api/1/composes/none-1-20200101.0", {}, 404, "No such compose found."),
    ("GET", "/api/1/composes/none-1-20200101.0/changes/", {}, 404, "No such compose found."),
    ("PATCH", "/api/1/composes/none-1-20200101.0", {"json": {"action": "tag", "tag": "qa"}},
     404, "No such compose found."),
    ("GET", "/api/1/tags/nope", {}, 404, "No such tag found."),
    ("PATCH", f"/api/1/composes/{COMPOSE_ID}", {"json": {"action": "tag", "tag": "nope"}},
     400, 'Tag "nope" does not exist'),
    ("PATCH", f"/api/1/composes/{COMPOSE_ID}", {"json": {"action": "tag"}},
     400, 'No "tag" field in JSON PATCH data.'),
    ("PATCH", f"/api/1/composes/{COMPOSE_ID}", {"json": {"tag": "qa"}},
     400, 'No "action" field in JSON PATCH data.'),
    ("PATCH", f"/api/1/composes/{COMPOSE_ID}", {"json": {"action": "fly"}},
     400, "Unknown action."),
    ("POST", "/api/1/composes/", {"json": {"x": 1}},
     400, 'No "compose_info" field in JSON POST data.'),
])
async def test_error_texts_are_the_existing_services(pg_client, method, path, kwargs, status,
                                                     message):
    await import_compose(pg_client)
    await create_tag(pg_client, "qa")
    response = await pg_client.request(method, path, **kwargs)
    error = await response.json()
    assert (response.status, error["message"]) == (status, message)


async def test_undecodable_json_text(pg_client):
    response = await pg_client.post("/api/1/composes/", data=b"{",
                                    headers={"Content-Type": "application/json"})
    assert (await response.json())["message"].startswith("Failed to decode JSON object: ")


async def test_history_texts_are_the_existing_services(pg_client):
    await import_compose(pg_client)
    await create_tag(pg_client, "periodic")
    for body in ({"action": "add_tagger", "username": "odcs"},
                 {"action": "remove_tagger", "username": "odcs"},
                 {"action": "add_untagger", "group": "qe"}):
        assert (await pg_client.patch("/api/1/tags/periodic", json=body)).status == 200
    for action in ("tag", "untag"):
        response = await pg_client.patch(f"/api/1/composes/{COMPOSE_ID}",
                                         json={"action": action, "tag": "periodic"})
        assert response.status == 200, await response.text()
    changes = (await (await pg_client.get(f"/api/1/composes/{COMPOSE_ID}/changes/")).json())
    assert [c["message"] for c in changes["changes"][1:]] == [
        'User "anonymous" added "periodic" tag.', 'User "anonymous" removed "periodic" tag.']
    tag_changes = (await (await pg_client.get("/api/1/tags/periodic/changes/")).json())
    assert [c["message"] for c in tag_changes["changes"][1:]] == [
        'Tagger permission granted to user "odcs".', 'Tagger permission removed from user "odcs".',
        'Untagger permission granted to group "qe".']


async def test_a_maximal_page_costs_less_than_50_mb(pg_client, pg_url):
    """1,000 composes (the default ceiling) in one answer, measured with tracemalloc."""
    for respin in range(1000):
        response = await pg_client.post("/api/1/composes/",
                                        json={"compose_info": compose_info(respin=respin)})
        assert response.status == 200
    assert read_database(pg_url, "SELECT count(*) FROM composes")[0][0] == 1000
    tracemalloc.start()
    try:
        response = await pg_client.get("/api/1/composes/?per_page=1000")
        body = await response.read()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status == 200
    assert body.count(b'"compose_info"') == 1000 or body.count(b'"id"') >= 1000
    print(f"peak traced memory for a 1000-compose page: {peak / 1e6:.1f} MB, "
          f"answer {len(body) / 1e6:.2f} MB")
    assert peak < 50e6
