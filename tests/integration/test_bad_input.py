"""Bad input gets a 4xx JSON error naming the problem, and nothing stored changes."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from ctsd.db.tables import compose_changes, composes, outbox
from tests.conftest import compose_info, create_tag, import_compose, read_database


def counts(url: str) -> tuple[int, ...]:
    return tuple(read_database(url, select(func.count()).select_from(table))[0][0]
                 for table in (composes, compose_changes, outbox))


def with_payload(**changes: Any) -> dict[str, Any]:
    info = compose_info()
    for path, value in changes.items():
        section, field = path.split("__")
        info["payload"][section][field] = value
    return {"compose_info": info}


BAD_IMPORTS = [
    (with_payload(compose__type="weekly"), "type"),
    (with_payload(compose__date="2020-05-17"), "date"),
    (with_payload(compose__respin=10**30), "respin"),
    (with_payload(compose__respin=-1), "respin"),
    (with_payload(compose__label="Beta-1"), "Label"),
    (with_payload(release__short="a/b"), "release.short"),
    (with_payload(release__name="x" * 300), "release_name"),
    (with_payload(release__version="7.x"), ""),
    ({"compose_info": compose_info(), "compose_url": "ftp://example.com/c"}, "http"),
    ({"compose_info": compose_info(), "compose_url": "http://exa mple.com/"}, "whitespace"),
    ({"compose_info": compose_info(), "respin_of": "nope-1-20200101.0"}, "nope"),
    ({"compose_info": compose_info(), "parent_compose_ids": "x"}, "parent_compose_ids"),
    ({"compose_info": "text"}, "compose_info"),
    ({}, "compose_info"),
    ({"compose_info": {**compose_info(), "header": {"type": "other", "version": "1.2"}}}, ""),
]


@pytest.mark.parametrize(("body", "named"), BAD_IMPORTS)
async def test_bad_import_is_400_naming_the_problem(client, settings, body, named):
    await import_compose(client)
    before = counts(settings.database_url)
    response = await client.post("/api/1/composes/", json=body)
    assert response.status == 400
    error = await response.json()
    assert error["status"] == 400 and error["error"] == "Bad Request"
    assert named in error["message"]
    assert counts(settings.database_url) == before


@pytest.mark.parametrize(("raw", "status"), [
    (b"{not json", 400),
    (b"[1, 2]", 400),
    (b'"just a string"', 400),
    (b'{"compose_info": {"a": "\\u0000"}}', 400),
])
async def test_malformed_bodies(client, raw, status):
    response = await client.post("/api/1/composes/", data=raw,
                                 headers={"Content-Type": "application/json"})
    assert response.status == status
    assert (await response.json())["status"] == status


async def test_multipart_body_is_415(client):
    response = await client.post("/api/1/composes/", data={"compose_info": "x"},
                                 headers={"Content-Type": "multipart/form-data; boundary=x"})
    assert response.status == 415


async def test_oversized_body_is_413(client, settings):
    big = b'{"compose_info": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    response = await client.post("/api/1/composes/", data=big,
                                 headers={"Content-Type": "application/json"})
    assert response.status == 413
    assert (await response.json())["status"] == 413


async def test_wrong_method_is_405_json(client):
    response = await client.put("/api/1/composes/x")
    assert response.status == 405
    assert (await response.json())["error"] == "Method Not Allowed"


@pytest.mark.parametrize(("body", "status", "named"), [
    ({"action": "explode"}, 400, "Unknown action."),
    ({"action": "tag"}, 400, "tag"),
    ({"action": "tag", "tag": "no-such-tag"}, 400, "no-such-tag"),
    ({"action": "tag", "tag": "qa", "user_data": "x" * 5000}, 400, "user_data"),
    ({"action": "set_url"}, 400, "compose_url"),
    ({"action": "set_url", "compose_url": "javascript:alert(1)"}, 400, "http"),
    ({"action": "set_url", "compose_url": "http://h/\nx"}, 400, "whitespace"),
])
async def test_bad_patch(client, settings, body, status, named):
    await create_tag(client, "qa")
    created = await import_compose(client)
    before = counts(settings.database_url)
    compose_id = created["payload"]["compose"]["id"]
    response = await client.patch(f"/api/1/composes/{compose_id}", json=body)
    assert response.status == status
    assert named in (await response.json())["message"]
    assert counts(settings.database_url) == before


async def test_patch_unknown_compose_is_404(client):
    await create_tag(client, "qa")
    response = await client.patch("/api/1/composes/none-1-20200101.0",
                                  json={"action": "tag", "tag": "qa"})
    assert response.status == 404
    assert (await response.json())["message"] == "No such compose found."


async def test_nul_in_url_is_400(client):
    response = await client.get("/api/1/composes/a%00b")
    assert response.status == 400


async def test_repo_variant_is_not_injected_into_ini(client):
    created = await import_compose(client, compose_url="https://example.com/c")
    compose_id = created["payload"]["compose"]["id"]
    bad = await client.get(f"/api/1/composes/{compose_id}/repo/",
                           params={"variant": "Server]\ngpgcheck=1"})
    assert bad.status == 400
    good = await client.get(f"/api/1/composes/{compose_id}/repo/", params={"variant": "BaseOS"})
    assert good.status == 200
    assert (await good.text()).splitlines() == [
        f"[{compose_id}-BaseOS]",
        f"name=Compose {compose_id} (RPMs) - BaseOS",
        "baseurl=https://example.com/c/compose/BaseOS/$basearch/os/",
        "enabled=1",
        "gpgcheck=0",
    ]
    missing = await client.get(f"/api/1/composes/{compose_id}/repo/")
    assert missing.status == 400
