"""GET /api/1/composes/latest/, /{id}/neighbours/ and /{id}/lineage/ on PostgreSQL and
SQLite: newest-first ties, layered streams, removed composes and bad input."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from ctsd.api.keys import BUS
from handlers.commands import MarkRemoved
from handlers.identity import ANONYMOUS
from tests.conftest import compose_info, create_tag

NIGHTLY_10 = "release_short=rhel&release_version=10.0&type=nightly"


async def post(client: TestClient, info: dict[str, Any], **extra: Any) -> str:
    response = await client.post("/api/1/composes/", json={"compose_info": info, **extra})
    assert response.status == 200, await response.text()
    return (await response.json())["payload"]["compose"]["id"]


def layered(date: str, base_version: str) -> dict[str, Any]:
    info = compose_info("sap", "10.0", date, type_="nightly")
    info["payload"]["release"]["is_layered"] = True
    info["payload"]["base_product"] = {"name": "Rhel", "short": "rhel",
                                       "version": base_version, "type": "ga"}
    return info


async def tag(client: TestClient, compose_id: str, name: str) -> None:
    response = await client.patch(f"/api/1/composes/{compose_id}",
                                  json={"action": "tag", "tag": name})
    assert response.status == 200, await response.text()


async def seed(client: TestClient) -> dict[str, str]:
    """RHEL-10.0 nightlies (two respins on one day), other types/versions around them."""
    ids = {
        "n1": await post(client, compose_info("rhel", "10.0", "20250101", type_="nightly")),
        "n1r": await post(client, compose_info("rhel", "10.0", "20250101", type_="nightly")),
        "n3": await post(client, compose_info("rhel", "10.0", "20250103", type_="nightly")),
        "prod": await post(client, compose_info("rhel", "10.0", "20250104")),
        "v101": await post(client, compose_info("rhel", "10.1", "20250105", type_="nightly")),
    }
    assert ids["n1r"] == "rhel-10.0-20250101.n.1"
    await create_tag(client, "qa-passed")
    for key in ("n1", "n1r"):
        await tag(client, ids[key], "qa-passed")
    return ids


async def get_json(client: TestClient, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    body = await response.json()
    assert response.status == status, f"{path}: {body}"
    return body


def id_of(representation: dict[str, Any] | None) -> str | None:
    if representation is None:
        return None
    return representation["compose_info"]["payload"]["compose"]["id"]


async def latest(client: TestClient, query: str) -> str | None:
    return id_of(await get_json(client, f"/api/1/composes/latest/?{query}"))


async def test_latest_is_the_newest_match_and_a_later_respin_wins_a_tied_date(client):
    ids = await seed(client)
    assert await latest(client, "") == ids["v101"]
    assert await latest(client, NIGHTLY_10) == ids["n3"]
    # Same date: the higher respin is newer.
    assert await latest(client, f"{NIGHTLY_10}&tag=qa-passed") == ids["n1r"]
    assert await latest(client, "release_short=rhel&type=production") == ids["prod"]


async def test_latest_skips_removed_composes_when_asked(client):
    ids = await seed(client)
    await client.app[BUS].execute(MarkRemoved(ids["n1r"], "expired"), ANONYMOUS)
    query = f"{NIGHTLY_10}&tag=qa-passed"
    assert await latest(client, f"{query}&removed=false") == ids["n1"]
    assert await latest(client, f"{query}&removed=true") == ids["n1r"]
    # The list filter is the same one.
    listed = await get_json(client, "/api/1/composes/?removed=true")
    assert [id_of(item) for item in listed["items"]] == [ids["n1r"]]


async def test_latest_answers_404_json_when_nothing_matches(client):
    await seed(client)
    body = await get_json(client, f"/api/1/composes/latest/?{NIGHTLY_10}&tag=-qa-passed"
                                  "&date_before=20250102", 404)
    assert body == {"status": 404, "error": "Not Found",
                    "message": "No compose matches these filters"}


async def test_latest_does_not_shadow_compose_routes(client):
    ids = await seed(client)
    assert id_of(await get_json(client, f"/api/1/composes/{ids['n1']}")) == ids["n1"]
    body = await get_json(client, "/api/1/composes/latest", 404)
    assert body["message"] == "No such compose found."  # looked up as a compose id


async def test_latest_refuses_bad_input_with_400(client):
    await seed(client)
    for query, named in (("order_by=-date", "order_by"), ("page=2", "page"),
                         ("removed=maybe", "removed"), ("date_after=2025-01-01", "date_after"),
                         ("respin=x", "respin"), ("tag=-", "tag")):
        body = await get_json(client, f"/api/1/composes/latest/?{query}", 400)
        assert body["status"] == 400 and named in body["message"], body


async def neighbours(client: TestClient, compose_id: str, query: str = "") -> tuple[Any, Any]:
    body = await get_json(client, f"/api/1/composes/{compose_id}/neighbours/?{query}")
    assert set(body) == {"previous", "next"}
    return id_of(body["previous"]), id_of(body["next"])


async def test_neighbours_walk_one_stream_by_date_then_respin(client):
    ids = await seed(client)
    assert await neighbours(client, ids["n1"]) == (None, ids["n1r"])
    assert await neighbours(client, ids["n1r"]) == (ids["n1"], ids["n3"])
    # Production and 10.1 composes are other streams.
    assert await neighbours(client, ids["n3"]) == (ids["n1r"], None)
    assert await neighbours(client, ids["prod"]) == (None, None)
    # Filters narrow which composes count as neighbours.
    assert await neighbours(client, ids["n3"], "tag=qa-passed") == (ids["n1r"], None)
    assert await neighbours(client, ids["n1"], "tag=-qa-passed") == (None, ids["n3"])


async def test_neighbours_answer_full_representations(client):
    ids = await seed(client)
    body = await get_json(client, f"/api/1/composes/{ids['n1r']}/neighbours/")
    assert body["previous"] == await get_json(client, f"/api/1/composes/{ids['n1']}")


async def test_neighbours_of_a_layered_compose_keep_its_base_product(client):
    on_10 = await post(client, layered("20250102", "10.0"))
    on_9 = await post(client, layered("20250103", "9.0"))
    on_10_later = await post(client, layered("20250104", "10.0"))
    assert await neighbours(client, on_10) == (None, on_10_later)
    assert await neighbours(client, on_10_later) == (on_10, None)
    assert await neighbours(client, on_9) == (None, None)


async def test_neighbours_refuse_unknown_composes_and_bad_filters(client):
    ids = await seed(client)
    body = await get_json(client, "/api/1/composes/nope-1.0-20250101.0/neighbours/", 404)
    assert "nope-1.0-20250101.0" in body["message"]
    body = await get_json(client, f"/api/1/composes/{ids['n1']}/neighbours/?per_page=3", 400)
    assert "per_page" in body["message"]


async def test_lineage_follows_parents_children_and_respin_chains(client):
    root = await post(client, compose_info("rhel", "10.0", "20250101"))
    respin = await post(client, compose_info("rhel", "10.0", "20250101"), respin_of=root)
    respin2 = await post(client, compose_info("rhel", "10.0", "20250102"), respin_of=respin)
    child = await post(client, layered("20250103", "10.0"), parent_compose_ids=[root])
    grandchild = await post(client, compose_info("app", "1", "20250104"),
                            parent_compose_ids=[child, root])

    def chain(*pairs: tuple[str, int]) -> list[dict[str, Any]]:
        return [{"compose_id": compose_id, "depth": depth} for compose_id, depth in pairs]

    of_root = await get_json(client, f"/api/1/composes/{root}/lineage/")
    assert of_root == {"compose_id": root, "ancestors": [],
                       # The grandchild is also a direct child: its shortest distance counts.
                       "descendants": chain((grandchild, 1), (child, 1)),
                       "respin_of": [], "respun_by": chain((respin, 1), (respin2, 2))}
    of_respin2 = await get_json(client, f"/api/1/composes/{respin2}/lineage/")
    assert of_respin2["respin_of"] == chain((respin, 1), (root, 2))
    assert of_respin2["respun_by"] == []
    of_grandchild = await get_json(client, f"/api/1/composes/{grandchild}/lineage/")
    assert of_grandchild["ancestors"] == chain((root, 1), (child, 1))
    of_child = await get_json(client, f"/api/1/composes/{child}/lineage/")
    assert of_child["ancestors"] == chain((root, 1))
    assert of_child["descendants"] == chain((grandchild, 1))


async def test_lineage_refuses_unknown_composes_and_parameters(client):
    root = await post(client, compose_info("rhel", "10.0", "20250101"))
    body = await get_json(client, "/api/1/composes/nope-1.0-20250101.0/lineage/", 404)
    assert body["status"] == 404
    body = await get_json(client, f"/api/1/composes/{root}/lineage/?depth=3", 400)
    assert "depth" in body["message"]


async def test_answers_match_their_documented_schemas(client):
    import openapi_schema_validator as oas  # noqa: PLC0415 (a test-only dependency)

    ids = await seed(client)
    spec = await get_json(client, "/static/openapispec.json")

    def check(schema_name: str, answer: Any) -> None:
        root = {"$ref": f"#/components/schemas/{schema_name}",
                "components": spec["components"]}
        oas.validate(answer, root, cls=oas.OAS30Validator)

    check("Compose", await get_json(client, "/api/1/composes/latest/"))
    check("Neighbours", await get_json(client, f"/api/1/composes/{ids['n1']}/neighbours/"))
    check("Lineage", await get_json(client, f"/api/1/composes/{ids['n1']}/lineage/"))
    check("ComposeCursorPage", await get_json(client, "/api/1/composes/?cursor=&per_page=2"))
    for path in ("/api/1/composes/latest/", "/api/1/composes/{compose_id}/neighbours/",
                 "/api/1/composes/{compose_id}/lineage/"):
        assert "get" in spec["paths"][path]
    params = {p["name"] for p in spec["paths"]["/api/1/composes/"]["get"]["parameters"]}
    assert {"cursor", "removed"} <= params
