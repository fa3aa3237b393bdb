"""Issue #15: input that used to answer 500 (Unicode digits, ids past 2^31, lone
surrogates, deep JSON) answers a 4xx JSON error, and no table gains or loses a row."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ctsd.db.tables import metadata
from tests.conftest import compose_info, create_tag, import_compose, read_database

COMPOSE_ID = "test-1.0-20200526.0"


def every_table_count(url: str) -> dict[str, int]:
    """Row counts of every table the schema has: a refusal leaves each unchanged."""
    return {name: read_database(url, f'SELECT count(*) FROM "{name}"')[0][0]
            for name in metadata.tables}


async def prepared(client: Any) -> None:
    await import_compose(client)
    await create_tag(client, "qa")
    response = await client.post(f"/api/1/composes/{COMPOSE_ID}/promotions/",
                                 json={"to": "nightly"})
    assert response.status in (201, 400, 409), await response.text()


async def assert_refused(client: Any, url: str, method: str, path: str,
                         statuses: tuple[int, ...], **kwargs: Any) -> dict[str, Any]:
    before = every_table_count(url)
    response = await client.request(method, path, **kwargs)
    text = await response.text()
    assert response.status in statuses, text
    assert response.content_type == "application/json", text
    error = json.loads(text)
    assert error["status"] == response.status and error["message"]
    assert every_table_count(url) == before
    return error


IDENTIFIER_PATHS = [
    ("GET", "/api/1/tags/%C2%B2"),
    ("GET", "/api/1/tags/%C2%B2/changes/"),
    ("GET", "/api/1/tags/%C2%B2/gates"),
    ("GET", "/api/1/tags/2147483648"),
    ("GET", "/api/1/tags/2147483648/changes/"),
    ("GET", "/api/1/tags/99999999999999999999999999"),
    ("POST", "/api/1/promotions/%C2%B2/reject"),
    ("POST", "/api/1/promotions/2147483648/perform"),
    ("POST", "/api/1/promotions/99999999999/withdraw"),
]


@pytest.mark.parametrize(("method", "path"), IDENTIFIER_PATHS)
async def test_identifiers_outside_ascii_or_range_are_404(client, settings, method, path):
    await prepared(client)
    await assert_refused(client, settings.database_url, method, path, (404,))


@pytest.mark.parametrize("tag", ["\u00b2", "2147483648", "999999999999999999999999999999"])
async def test_tag_names_in_bodies_are_4xx(client, settings, tag):
    await prepared(client)
    url = settings.database_url
    await assert_refused(client, url, "PATCH", f"/api/1/composes/{COMPOSE_ID}", (400, 404),
                         json={"action": "tag", "tag": tag})
    await assert_refused(client, url, "PUT", "/api/1/tags/qa/gates", (400, 404),
                         json={"requires": [tag]})
    if tag.isascii():  # ASCII digits read as a tag id, so they are no name
        await assert_refused(client, url, "PATCH", "/api/1/tags/qa", (400, 404),
                             json={"action": "add_tagger", "username": "u", "name": tag})
    await assert_refused(client, url, "PATCH", f"/api/1/tags/{tag}", (400, 404),
                         json={"description": "x"})


async def test_a_name_of_digits_that_are_not_ascii_is_a_name(client):
    # "²" is no id (handlers/identifiers.py), so it may name a tag, found by that name.
    await prepared(client)
    response = await client.patch("/api/1/tags/qa", json={"name": "\u00b2"})
    assert response.status == 200, await response.text()
    response = await client.get("/api/1/tags/%C2%B2")
    assert response.status == 200 and (await response.json())["name"] == "\u00b2"


SURROGATE = "\ud800"


def _import_with(**release: Any) -> dict[str, Any]:
    info = compose_info(short="other")
    info["payload"]["release"].update(release)
    return {"compose_info": info}


SURROGATE_WRITES = [
    ("POST", "/api/1/composes/", _import_with(name=f"Other{SURROGATE}")),
    ("PATCH", f"/api/1/composes/{COMPOSE_ID}",
     {"action": "tag", "tag": "qa", "user_data": SURROGATE}),
    ("POST", "/api/1/tags/", {"name": "new", "description": SURROGATE,
                              "documentation": "https://docs"}),
    ("PATCH", "/api/1/tags/qa", {"description": f"x{SURROGATE}y"}),
    ("POST", f"/api/1/composes/{COMPOSE_ID}/promotions/", {"to": "nightly",
                                                            "reason": SURROGATE}),
    ("POST", f"/api/1/composes/{COMPOSE_ID}/removal", {"reason": SURROGATE}),
    ("POST", "/api/1/composes/", {"compose_info": {SURROGATE: 1}}),
]


@pytest.mark.parametrize(("method", "path", "body"), SURROGATE_WRITES)
async def test_lone_surrogates_are_400(client, settings, method, path, body):
    await prepared(client)
    # json.dumps writes the surrogate as the escape "\ud800", as an attacker would.
    error = await assert_refused(client, settings.database_url, method, path, (400,),
                                 data=json.dumps(body),
                                 headers={"Content-Type": "application/json"})
    assert "surrogate" in error["message"]


@pytest.mark.parametrize("depth", [340, 500, 700, 975, 5000])
@pytest.mark.parametrize("opener", ["[", '{"a":'])
async def test_deep_json_is_400_at_every_depth(client, settings, depth, opener):
    closer = "]" if opener == "[" else "}"
    body = '{"compose_info": ' + opener * depth + "1" + closer * depth + "}"
    error = await assert_refused(client, settings.database_url, "POST", "/api/1/composes/",
                                 (400,), data=body,
                                 headers={"Content-Type": "application/json"})
    assert "nested" in error["message"]
