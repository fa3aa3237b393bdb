"""GET /api/1/composes/ and /api/1/tags/: filters, order, pagination and links."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp.test_utils import TestClient

from ctsd.api.app import create_app
from ctsd.config import Settings
from tests.conftest import compose_info, create_tag, import_compose


async def post_compose(client: TestClient, info: dict[str, Any]) -> str:
    response = await client.post("/api/1/composes/", json={"compose_info": info})
    assert response.status == 200, await response.text()
    return (await response.json())["payload"]["compose"]["id"]


async def tag(client: TestClient, compose_id: str, name: str) -> None:
    response = await client.patch(f"/api/1/composes/{compose_id}",
                                  json={"action": "tag", "tag": name})
    assert response.status == 200, await response.text()


async def seed(client: TestClient) -> dict[str, str]:
    """Four composes that differ in every field; A..D map to their compose ids.

    Release versions 8.9 < 8.10 < 9.0 < 40 sort differently as strings; names hold a
    literal "%", "_" and "*" that must not act as LIKE (or SQLite GLOB) wildcards.
    """
    a = compose_info("rhel", "8.9", "20240101", label="RC-1.0", final=True)
    a["payload"]["release"]["name"] = "Rel 100% A"
    b = compose_info("rhel", "8.10", "20240102", type_="nightly")
    b["payload"]["release"].update(name="Rel 1000 B", internal=True)
    c = compose_info("fedora", "40", "20240103", type_="test")
    c["payload"]["release"]["is_layered"] = True
    c["payload"]["base_product"] = {"name": "Base_Product", "short": "bp", "version": "1",
                                    "type": "ga"}
    d = compose_info("rhel_x", "9.0", "20231231", type_="ci")
    d["payload"]["release"].update(name="Rel*XB", type="updates")
    ids = {key: await post_compose(client, info)
           for key, info in {"A": a, "B": b, "C": c, "D": d}.items()}
    await create_tag(client, "keep")
    await create_tag(client, "removed")
    for key, name in (("A", "keep"), ("B", "keep"), ("B", "removed"), ("D", "removed")):
        await tag(client, ids[key], name)
    return ids


async def listed(client: TestClient, query: str, ids: dict[str, str]) -> list[str]:
    """The letters (A..D) of the composes a list query answers, in answer order."""
    response = await client.get(f"/api/1/composes/?{query}")
    assert response.status == 200, f"{query}: {await response.text()}"
    letters = {compose_id: key for key, compose_id in ids.items()}
    items = (await response.json())["items"]
    return [letters[item["compose_info"]["payload"]["compose"]["id"]] for item in items]


async def expect(client: TestClient, ids: dict[str, str], cases: dict[str, str]) -> None:
    """Each query answers exactly the composes named (as a set of letters)."""
    for query, expected in cases.items():
        got = await listed(client, query, ids)
        assert sorted(got) == sorted(expected), f"{query}: {got} != {list(expected)}"


async def bad_request(client: TestClient, path: str) -> str:
    response = await client.get(path)
    body = await response.json()
    assert response.status == 400, f"{path}: {body}"
    assert body["status"] == 400 and body["error"] == "Bad Request"
    return body["message"]


async def test_seed_ids_are_what_the_filters_expect(client):
    ids = await seed(client)
    assert ids == {"A": "rhel-8.9-20240101.0", "B": "rhel-8.10-20240102.n.0",
                   "C": "fedora-40-bp-1-20240103.t.0", "D": "rhel_x-9.0-updates-20231231.ci.0"}


async def test_exact_filters_on_every_field(client):
    ids = await seed(client)
    await expect(client, ids, {
        f"id={ids['A']}": "A",
        "date=20240102": "B",
        "respin=0": "ABCD",
        "respin=1": "",
        "type=nightly": "B",
        "label=RC-1.0": "A",
        "release_name=Rel%201000%20B": "B",
        "release_version=8.10": "B",
        "release_short=rhel": "AB",
        "release_type=updates": "D",
        "base_product_name=Base_Product": "C",
        "base_product_short=bp": "C",
        "base_product_version=1": "C",
        "base_product_type=ga": "C",
        "builder=anonymous": "ABCD",
        "builder=someone": "",
        # An empty value is no filter, as in the existing service.
        "label=": "ABCD",
    })


async def test_boolean_filters_accept_true_false_1_0(client):
    ids = await seed(client)
    await expect(client, ids, {
        "final=true": "A", "final=TRUE": "A", "final=1": "A",
        "final=false": "BCD", "final=0": "BCD",
        "release_is_layered=True": "C", "release_is_layered=0": "ABD",
        "release_internal=1": "B", "release_internal=false": "ACD",
    })
    for value in ("yes", "t", "2"):
        message = await bad_request(client, f"/api/1/composes/?final={value}")
        assert "final" in message and value in message


async def test_text_matches_escape_wildcards_and_are_case_sensitive(client):
    ids = await seed(client)
    await expect(client, ids, {
        # Unescaped, "%100%%" would also match "Rel 1000 B" and "%_%" every compose.
        "release_name_contains=100%25": "A",
        "release_short_contains=_": "D",
        # "*" is SQLite's GLOB wildcard: literal here too.
        "release_name_contains=*": "D",
        "base_product_name_contains=e_P": "C",
        "release_name_startswith=Rel%20": "AB",
        "release_name_endswith=B": "BD",
        "release_short_endswith=_x": "D",
        "id_startswith=rhel-": "AB",
        "id_startswith=RHEL": "",
        "id_contains=.n.": "B",
        "respin_contains=0": "ABCD",
        "date_startswith=2024": "ABC",
    })
    message = await bad_request(client, "/api/1/composes/?final_contains=t")
    assert "final_contains" in message


async def test_several_forms_and_repeats_of_one_field_all_apply(client):
    ids = await seed(client)
    await expect(client, ids, {
        # The existing service kept only one of these two.
        "release_short_startswith=rhel&release_short_endswith=l": "AB",
        "release_short=rhel&release_short=fedora": "",
        "release_name_contains=Rel&release_name_contains=B": "BD",
        "release_short=rhel&type=nightly": "B",
    })


async def test_date_before_and_after_are_strict_and_validated(client):
    ids = await seed(client)
    await expect(client, ids, {
        "date_before=20240102": "AD",
        "date_after=20240101": "BC",
        "date_after=20240101&date_before=20240103": "B",
        "date_before=20231231": "",
    })
    for query in ("date_before=2024011", "date_after=2024-01-01", "date_after=20241301",
                  "date=20240230", "date_before=abcdefgh"):
        message = await bad_request(client, f"/api/1/composes/?{query}")
        assert query.split("=")[0] in message and "YYYYMMDD" in message


async def test_respin_must_be_an_integer(client):
    message = await bad_request(client, "/api/1/composes/?respin=first")
    assert "respin" in message and "integer" in message
    await bad_request(client, "/api/1/composes/?respin=99999999999")


async def test_tag_include_exclude_and_untagged(client):
    ids = await seed(client)
    await expect(client, ids, {
        "tag=keep": "AB",
        "tag=keep&tag=-removed": "A",
        "tag=-removed": "AC",
        "tag=keep&tag=removed": "B",
        "tag=": "C",
        "tag=&tag=-keep": "C",
        "tag=missing": "",
        "tag=-missing": "ABCD",
        "release_short=rhel&tag=keep&tag=-removed&order_by=-date&per_page=20": "A",
    })
    await bad_request(client, "/api/1/composes/?tag=-")


async def test_default_order_is_newest_date_first(client):
    ids = await seed(client)
    assert await listed(client, "", ids) == ["C", "B", "A", "D"]


async def test_order_by_keys_directions_and_numeric_release_version(client):
    ids = await seed(client)
    cases = {
        "order_by=release_version": ["A", "B", "D", "C"],  # 8.9, 8.10, 9.0, 40
        "order_by=-release_version": ["C", "D", "B", "A"],
        "order_by=date": ["D", "A", "B", "C"],
        "order_by=release_short&order_by=-date": ["C", "B", "A", "D"],
        "order_by=-id": ["D", "A", "B", "C"],
        # NULL labels last when ascending on both backends, then by compose id.
        "order_by=label": ["A", "C", "B", "D"],
        "order_by=-label": ["D", "B", "C", "A"],
        "order_by=final&order_by=-date": ["C", "B", "D", "A"],
        "order_by=": ["C", "B", "A", "D"],
    }
    for query, expected in cases.items():
        assert await listed(client, query, ids) == expected, query


async def test_unknown_order_by_key_lists_the_allowed_keys(client):
    for key in ("bogus", "-bogus", "-", "tag"):
        message = await bad_request(client, f"/api/1/composes/?order_by={key}")
        assert "order_by" in message and "release_version" in message and "builder" in message


async def test_equal_sort_values_page_stably_by_compose_id(client):
    for respin in range(5):
        await post_compose(client, compose_info("same", "1.0", "20240101", respin=respin))
    seen = []
    for page in range(1, 6):
        response = await client.get(f"/api/1/composes/?order_by=date&per_page=1&page={page}")
        items = (await response.json())["items"]
        seen += [item["compose_info"]["payload"]["compose"]["id"] for item in items]
    assert seen == [f"same-1.0-20240101.{respin}" for respin in range(5)]


def page_and_query(url: str) -> tuple[str, list[tuple[str, str]]]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}", parse_qsl(parts.query,
                                                                     keep_blank_values=True)


async def test_pagination_meta_and_links_keep_the_filters(client):
    ids = {f"{n}": await post_compose(client, compose_info("pg", "1.0", f"202401{n:02}"))
           for n in range(1, 6)}
    await post_compose(client, compose_info("other", "1.0", "20240101"))
    query = "release_short=pg&tag=-gone&order_by=-date&per_page=2&page=2"
    response = await client.get(f"/api/1/composes/?{query}")
    assert response.status == 200
    body = await response.json()
    assert [i["compose_info"]["payload"]["compose"]["id"] for i in body["items"]] == [
        ids["3"], ids["2"]]
    meta = body["meta"]
    assert {k: meta[k] for k in ("page", "pages", "per_page", "total")} == {
        "page": 2, "pages": 3, "per_page": 2, "total": 5}
    base = f"http://{client.host}:{client.port}/api/1/composes/"
    kept = [("release_short", "pg"), ("tag", "-gone"), ("order_by", "-date")]
    for name, page in (("first", 1), ("prev", 1), ("next", 3), ("last", 3)):
        # The existing CTS's order: page and per_page first, then the filters.
        assert page_and_query(meta[name]) == (base, [("page", str(page)),
                                                     ("per_page", "2"), *kept]), name
    next_url = urlsplit(meta["next"])
    last = await (await client.get(f"{next_url.path}?{next_url.query}")).json()
    assert [i["compose_info"]["payload"]["compose"]["id"] for i in last["items"]] == [ids["1"]]
    assert last["meta"]["next"] is None and last["meta"]["prev"] is not None


async def test_first_page_has_no_prev_and_default_per_page(client, settings):
    for n in range(1, 13):
        await post_compose(client, compose_info("many", "1.0", f"202402{n:02}"))
    meta = (await (await client.get("/api/1/composes/")).json())["meta"]
    assert settings.per_page_default == 10
    assert (meta["page"], meta["pages"], meta["per_page"], meta["total"]) == (1, 2, 10, 12)
    assert meta["prev"] is None and "page=2" in meta["next"]


async def test_empty_list_has_zero_pages_and_last_links_to_page_zero(client):
    meta = (await (await client.get("/api/1/composes/?release_short=none")).json())["meta"]
    assert (meta["page"], meta["pages"], meta["total"]) == (1, 0, 0)
    assert meta["prev"] is None and meta["next"] is None
    assert dict(page_and_query(meta["first"])[1])["page"] == "1"
    # Flask-SQLAlchemy's pages=0 makes the existing CTS's last link page=0.
    assert dict(page_and_query(meta["last"])[1])["page"] == "0"


async def test_page_past_the_end_is_empty_not_an_error(client):
    await post_compose(client, compose_info())
    for page in (2, 10**15):
        response = await client.get(f"/api/1/composes/?page={page}")
        assert response.status == 200
        body = await response.json()
        assert body["items"] == [] and body["meta"]["total"] == 1 and body["meta"]["pages"] == 1
        assert body["meta"]["next"] is None


async def test_per_page_above_the_maximum_is_refused(client, settings):
    message = await bad_request(client, f"/api/1/composes/?per_page={settings.per_page_max + 1}")
    assert str(settings.per_page_max) in message
    response = await client.get(f"/api/1/composes/?per_page={settings.per_page_max}")
    assert response.status == 200


@pytest.mark.parametrize("query", ["page=0", "page=-1", "page=two", "page=1.5", "per_page=0",
                                   "per_page=abc", "page=1&page=2", "per_page=%2B5"])
async def test_bad_page_parameters_are_refused(client, query):
    message = await bad_request(client, f"/api/1/composes/?{query}")
    assert query.split("=")[0] in message


async def test_unknown_query_parameters_are_named(client):
    message = await bad_request(client, "/api/1/composes/?release=x&foo=1&release_short=rhel")
    assert message.startswith("Unknown query parameters: foo, release. ")
    assert "release_short_contains" not in message.split(".")[0]
    message = await bad_request(client, "/api/1/tags/?release_short=x")
    assert "release_short" in message


async def test_forwarded_headers_from_an_untrusted_peer_are_ignored(client):
    headers = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    meta = (await (await client.get("/api/1/composes/", headers=headers)).json())["meta"]
    for name in ("first", "last"):
        assert meta[name].startswith(f"http://{client.host}:{client.port}/api/1/composes/?")


@pytest.mark.parametrize("proxies", [{"127.0.0.1"}, {"127.0.0.0/8", "not-an-address"}])
async def test_forwarded_headers_from_a_trusted_proxy_make_the_links(
        aiohttp_client: Any, settings: Settings, proxies: set[str]):
    trusting = replace(settings, trusted_proxies=frozenset(proxies))
    client = await aiohttp_client(create_app(trusting))
    headers = {"X-Forwarded-Host": "cts.example.com", "X-Forwarded-Proto": "https"}
    meta = (await (await client.get("/api/1/tags/?name=x", headers=headers)).json())["meta"]
    assert meta["first"] == "https://cts.example.com/api/1/tags/?page=1&per_page=10&name=x"
    # A forged value in front of the proxy's own one is not used.
    headers = {"X-Forwarded-Host": "evil.example, cts.example.com"}
    meta = (await (await client.get("/api/1/tags/", headers=headers)).json())["meta"]
    assert meta["first"].startswith("http://cts.example.com/api/1/tags/?")


async def test_tags_list_filters_orders_and_matches_the_tag_view(client):
    created = [await create_tag(client, name) for name in ("beta", "alpha", "gamma")]
    response = await client.patch(f"/api/1/tags/{created[0]['id']}",
                                  json={"action": "add_tagger", "username": "zoe"})
    assert response.status == 200
    await client.patch(f"/api/1/tags/{created[0]['id']}",
                       json={"action": "add_untagger", "group": "qa"})
    await client.patch(f"/api/1/tags/{created[0]['id']}",
                       json={"action": "add_tagger", "username": "al"})

    body = await (await client.get("/api/1/tags/")).json()
    assert [t["name"] for t in body["items"]] == ["gamma", "alpha", "beta"]
    assert body["meta"]["total"] == 3 and body["meta"]["pages"] == 1
    single = await (await client.get(f"/api/1/tags/{created[0]['id']}")).json()
    assert body["items"][2] == single
    assert single["taggers"] == ["al", "zoe"] and single["untagger_groups"] == ["qa"]

    async def names(query: str) -> list[str]:
        response = await client.get(f"/api/1/tags/?{query}")
        assert response.status == 200, await response.text()
        return [t["name"] for t in (await response.json())["items"]]

    assert await names("order_by=name") == ["alpha", "beta", "gamma"]
    assert await names("order_by=-name&per_page=2&page=2") == ["alpha"]
    assert await names("name=alpha") == ["alpha"]
    assert await names(f"id={created[2]['id']}") == ["gamma"]
    assert await names("name=al") == []
    assert "id" in await bad_request(client, "/api/1/tags/?id=abc")
    assert "order_by" in await bad_request(client, "/api/1/tags/?order_by=description")
    assert "name_contains" in await bad_request(client, "/api/1/tags/?name_contains=a")


async def test_filtered_page_far_past_the_end_is_empty_not_an_error(client):
    await import_compose(client)
    for page in (10**9, 10**18 - 1):
        response = await client.get("/api/1/composes/",
                                    params={"release_short": "test", "page": str(page)})
        assert response.status == 200, await response.text()
        body = await response.json()
        assert body["items"] == [] and body["meta"]["total"] == 1
