"""GET /api/1/composes/?cursor=: keyset pages list exactly what the v1 pages list, in
the same order, for every kind of order_by (ties, NULLs, mixed directions); bad,
tampered or mismatched cursors answer 400; without a cursor the v1 answer is unchanged."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from ctsd.api.keyset import encode_cursor, filters_digest
from ctsd.db.queries.filters import COMPOSE_FIELDS
from ctsd.db.queries.seek import sort_keys_of
from tests.conftest import compose_info, create_tag

V1_META = {"page", "pages", "per_page", "total", "first", "last", "prev", "next"}


async def seed(client: TestClient) -> list[str]:
    """Eleven composes: respins on one date, NULL and set labels, 8.9 vs 8.10."""
    ids = []
    specs = [("rhel", "8.9", "20240101", None), ("rhel", "8.9", "20240101", "RC-1.0"),
             ("rhel", "8.9", "20240101", None), ("rhel", "8.10", "20240101", "Beta-1.0"),
             ("rhel", "8.10", "20240102", None), ("fedora", "40", "20240102", "RC-1.0"),
             ("fedora", "40", "20240103", None), ("fedora", "41", "20231231", "Alpha-1.0"),
             ("rhel", "9.0", "20240102", None), ("rhel", "9.0", "20240102", "RC-2.0"),
             ("rhel", "10.0", "20240104", None)]
    for short, version, date, label in specs:
        extra = {"label": label} if label else {}
        info = compose_info(short, version, date, type_="production" if label else "nightly",
                            **extra)
        response = await client.post("/api/1/composes/", json={"compose_info": info})
        assert response.status == 200, await response.text()
        ids.append((await response.json())["payload"]["compose"]["id"])
    await create_tag(client, "keep")
    for compose_id in ids[::2]:
        response = await client.patch(f"/api/1/composes/{compose_id}",
                                      json={"action": "tag", "tag": "keep"})
        assert response.status == 200
    return ids


def id_of(item: dict[str, Any]) -> str:
    return item["compose_info"]["payload"]["compose"]["id"]


async def get_json(client: TestClient, url: str, status: int = 200) -> Any:
    response = await client.get(url)
    body = await response.json()
    assert response.status == status, f"{url}: {body}"
    return body


def relative(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


async def walk(client: TestClient, query: str, per_page: int) -> list[str]:
    """Every id the keyset pages list, following `next` until it is null."""
    url, seen, pages = f"/api/1/composes/?{query}&cursor=&per_page={per_page}", [], 0
    while url:
        body = await get_json(client, url)
        assert set(body["meta"]) == {"per_page", "first", "next"}
        assert len(body["items"]) <= per_page
        seen.extend(id_of(item) for item in body["items"])
        url = relative(body["meta"]["next"]) if body["meta"]["next"] else ""
        pages += 1
        assert pages < 50, "next links never end"
    return seen


ORDERS = ["", "order_by=-date", "order_by=date", "order_by=label",
          "order_by=-label", "order_by=release_version&order_by=-respin",
          "order_by=-release_short&order_by=label&order_by=date",
          "order_by=respin&order_by=-id", "order_by=final&order_by=-release_version"]


@pytest.mark.parametrize("order", ORDERS)
async def test_keyset_pages_list_what_v1_lists_in_the_same_order(client, order):
    ids = await seed(client)
    v1 = await get_json(client, f"/api/1/composes/?{order}&per_page=100")
    expected = [id_of(item) for item in v1["items"]]
    assert sorted(expected) == sorted(ids)
    for per_page in (1, 2, 3, 11):
        assert await walk(client, order, per_page) == expected, per_page


async def test_keyset_pages_keep_the_filters(client):
    ids = await seed(client)
    query = "release_short=rhel&tag=keep&order_by=-release_version"
    v1 = await get_json(client, f"/api/1/composes/?{query}&per_page=100")
    expected = [id_of(item) for item in v1["items"]]
    assert 0 < len(expected) < len(ids)
    assert await walk(client, query, 2) == expected
    assert await walk(client, "release_short=none", 2) == []


async def test_next_link_is_absolute_and_keeps_every_parameter(client):
    await seed(client)
    body = await get_json(client, "/api/1/composes/?cursor=&per_page=4&tag=keep&order_by=date")
    parts = urlsplit(body["meta"]["next"])
    assert parts.scheme == "http" and parts.path == "/api/1/composes/"
    params = parse_qsl(parts.query, keep_blank_values=True)
    assert ("tag", "keep") in params and ("order_by", "date") in params
    assert ("per_page", "4") in params and dict(params)["cursor"]
    assert dict(parse_qsl(urlsplit(body["meta"]["first"]).query,
                          keep_blank_values=True))["cursor"] == ""


async def test_without_cursor_the_v1_answer_is_unchanged(client):
    await seed(client)
    body = await get_json(client, "/api/1/composes/?per_page=4&page=2")
    assert set(body["meta"]) == V1_META
    assert body["meta"]["total"] == 11 and body["meta"]["page"] == 2


async def next_cursor(client: TestClient, query: str) -> str:
    body = await get_json(client, f"/api/1/composes/?cursor=&per_page=2&{query}")
    return dict(parse_qsl(urlsplit(body["meta"]["next"]).query))["cursor"]


async def bad(client: TestClient, query: str) -> str:
    body = await get_json(client, f"/api/1/composes/?{query}", 400)
    assert body["status"] == 400 and body["error"] == "Bad Request"
    return body["message"]


async def test_bad_and_tampered_cursors_answer_400(client):
    await seed(client)
    cursor = await next_cursor(client, "")
    payload, digest = cursor.split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    for value in ("garbage", "a.b.c", f"{flipped}.{digest}", f"{payload}.{digest[:-1]}",
                  f"{payload}.", f"!!.{digest}", "x" * 5000):
        assert "cursor" in (await bad(client, f"cursor={value}")).lower(), value


async def test_a_cursor_only_continues_the_listing_it_came_from(client):
    await seed(client)
    cursor = await next_cursor(client, "order_by=date&tag=keep")
    assert "order_by" in await bad(client, f"cursor={cursor}&tag=keep")
    assert "order_by" in await bad(client, f"cursor={cursor}&tag=keep&order_by=-date")
    assert "filters" in await bad(client, f"cursor={cursor}&order_by=date")
    assert "filters" in await bad(client, f"cursor={cursor}&order_by=date&tag=-keep")
    # Same listing, parameters in another order: fine.
    body = await get_json(client, f"/api/1/composes/?tag=keep&cursor={cursor}&order_by=date")
    assert body["items"]


async def test_paging_parameters_that_cannot_combine_with_a_cursor(client):
    await seed(client)
    assert "page" in await bad(client, "cursor=&page=2")
    assert "once" in await bad(client, "cursor=&cursor=")
    assert "per_page" in await bad(client, "cursor=&per_page=1000")
    assert "order_by" in await bad(client, "cursor=&order_by=nope")


async def test_a_well_signed_cursor_with_bad_values_is_still_refused(client):
    """The digest only detects edits: the values are validated on their own."""
    await seed(client)
    keys = sort_keys_of([("date", True), ("id", True)], COMPOSE_FIELDS)
    digest = filters_digest([])
    for values in (["2024-01-01", "x"], [20240101, "x"], ["20240101", None], ["20240101"],
                   ["20240101", "x" * 2000]):
        cursor = encode_cursor(keys, digest, values)
        assert "cursor" in (await bad(client, f"cursor={cursor}")).lower(), values
    keys = sort_keys_of([("respin", False), ("id", False)], COMPOSE_FIELDS)
    for values in ([True, "x"], [2**40, "x"], ["1", "x"]):
        cursor = encode_cursor(keys, digest, values)
        assert "respin" in await bad(client, f"cursor={cursor}&order_by=respin"), values
