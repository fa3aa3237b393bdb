"""Contents queries on PostgreSQL and SQLite: composes containing a build (with the list
filters and both paginations), variant/arch filters, a compose's rpms and images pages,
the diff of two composes and a package's history; removed composes stay queryable."""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from ctsd.api.keys import BUS
from handlers.commands import MarkRemoved
from handlers.identity import ANONYMOUS
from tests.conftest import compose_info
from tests.contents_support import images_document, package, rpms_document

GLIBC_7, GLIBC_8 = "2.40-7.fc42", "2.40-8.fc42"


def info(date: str, variants: dict[str, list[str]], short: str = "rhel") -> dict[str, Any]:
    body = compose_info(short, "10.0", date, type_="nightly")
    body["payload"]["variants"] = {
        uid: {"id": uid, "uid": uid, "name": uid, "type": "variant", "arches": arches,
              "paths": {}} for uid, arches in variants.items()}
    return body


def packages(glibc: str, extra: list[Any]) -> list[Any]:
    return [package("BaseOS", "x86_64", "glibc", glibc, debug=True),
            package("BaseOS", "s390x", "glibc", glibc),
            package("BaseOS", "x86_64", "bash", "5.2-1.fc42"),
            *extra]


async def put(client: Any, compose_id: str, kind: str, document: dict[str, Any]) -> None:
    response = await client.put(f"/api/1/composes/{compose_id}/{kind}", json=document)
    assert response.status == 200, await response.text()


async def get(client: Any, path: str, status: int = 200) -> Any:
    response = await client.get(path)
    assert response.status == status, await response.text()
    return await response.json()


async def seed(client: Any) -> list[str]:
    """Three rhel-10.0 nightlies: glibc 7, 7, 8; zsh added in n1; bash gone in n2;
    vim downgraded in n2. One fedora nightly with glibc 7 (another stream)."""
    ids = []
    plan = [
        ("20250101", packages(GLIBC_7, [package("AppStream", "x86_64", "vim", "9.1-2")])),
        ("20250102", packages(GLIBC_7, [package("AppStream", "x86_64", "vim", "9.1-2"),
                                        package("AppStream", "x86_64", "zsh", "5.9-1")])),
        ("20250103", [package("BaseOS", "x86_64", "glibc", GLIBC_8, debug=True),
                      package("BaseOS", "s390x", "glibc", GLIBC_8),
                      package("AppStream", "x86_64", "vim", "9.1-1"),
                      package("AppStream", "x86_64", "zsh", "5.9-1")]),
    ]
    for date, contents in plan:
        body = info(date, {"BaseOS": ["x86_64", "s390x"], "AppStream": ["x86_64"]})
        response = await client.post("/api/1/composes/", json={"compose_info": body})
        compose_id = (await response.json())["payload"]["compose"]["id"]
        await put(client, compose_id, "rpms", rpms_document(compose_id, contents))
        images = [("BaseOS", "x86_64", "dvd", "iso")]
        if date == "20250103":
            images.append(("BaseOS", "s390x", "boot", "iso"))
        await put(client, compose_id, "images", images_document(compose_id, images))
        ids.append(compose_id)
    other = info("20250101", {"Everything": ["x86_64"]}, short="fedora")
    response = await client.post("/api/1/composes/", json={"compose_info": other})
    fedora = (await response.json())["payload"]["compose"]["id"]
    await put(client, fedora, "rpms", rpms_document(
        fedora, [package("Everything", "x86_64", "glibc", GLIBC_7)]))
    return [*ids, fedora]


def listed(answer: dict[str, Any]) -> list[str]:
    return [item["compose_info"]["payload"]["compose"]["id"] for item in answer["items"]]


async def test_composes_containing_a_build(client):
    n0, n1, n2, fedora = await seed(client)
    base = "/api/1/composes/?order_by=date&order_by=release_short"
    assert listed(await get(client, f"{base}&rpm_nvr=glibc-{GLIBC_7}")) == [fedora, n0, n1]
    assert listed(await get(client, f"{base}&rpm_nvr=glibc-{GLIBC_8}")) == [n2]
    assert listed(await get(client, f"{base}&rpm_nvr=glibc-{GLIBC_7}&release_short=rhel")) \
        == [n0, n1]
    assert listed(await get(client, f"{base}&rpm_nevra=glibc-0:{GLIBC_7}.s390x")) == [n0, n1]
    assert listed(await get(client, f"{base}&rpm_nevra=glibc-{GLIBC_8}.x86_64")) == [n2]
    assert listed(await get(client, f"{base}&rpm_name=zsh")) == [n1, n2]
    assert listed(await get(client, f"{base}&srpm_nvr=glibc-{GLIBC_8}")) == [n2]
    assert listed(await get(client, f"{base}&rpm_name=zsh&rpm_name=bash")) == [n1]
    assert listed(await get(client, f"{base}&rpm_name=nothing")) == []


async def test_containing_combines_with_tags_removed_and_both_paginations(client):
    n0, n1, _n2, fedora = await seed(client)
    await client.app[BUS].execute(MarkRemoved(n0, "deleted from disk"), ANONYMOUS)
    found = await get(client, f"/api/1/composes/?rpm_nvr=glibc-{GLIBC_7}&type=nightly"
                              "&removed=false&order_by=-date&order_by=release_short")
    assert listed(found) == [n1, fedora]
    # Removed composes keep their contents: that is when people ask.
    removed = await get(client, f"/api/1/composes/?rpm_nvr=glibc-{GLIBC_7}&removed=true")
    assert listed(removed) == [n0]
    assert (await get(client, f"/api/1/composes/{n0}/rpms/"))["meta"]["total"] > 0
    paged = await get(client, f"/api/1/composes/?rpm_nvr=glibc-{GLIBC_7}&per_page=2"
                              "&order_by=id&page=2")
    assert (paged["meta"]["total"], listed(paged)) == (3, [n1])
    first = await get(client, f"/api/1/composes/?rpm_nvr=glibc-{GLIBC_7}&per_page=2"
                              "&order_by=id&cursor=")
    assert listed(first) == [fedora, n0]
    following = await client.get(URL(first["meta"]["next"]).path_qs)
    assert listed(await following.json()) == [n1]
    latest = await get(client, f"/api/1/composes/latest/?rpm_nvr=glibc-{GLIBC_7}"
                               "&release_short=rhel")
    assert latest["compose_info"]["payload"]["compose"]["id"] == n1


async def test_variant_and_arch_filters(client):
    n0, n1, n2, fedora = await seed(client)
    url = "/api/1/composes/?order_by=id"
    assert listed(await get(client, f"{url}&variant=BaseOS&arch=s390x")) == [n0, n1, n2]
    assert listed(await get(client, f"{url}&variant=AppStream&arch=s390x")) == []
    assert listed(await get(client, f"{url}&variant=Everything")) == [fedora]
    assert listed(await get(client, f"{url}&arch=x86_64")) == [fedora, n0, n1, n2]


async def test_rpms_page_filters_and_pages(client):
    n0, *_ = await seed(client)
    whole = await get(client, f"/api/1/composes/{n0}/rpms/?per_page=100")
    # glibc x86_64: 3 entries, s390x: 2; bash 2; vim 2.
    assert whole["meta"]["total"] == 9
    keys = [(i["variant"], i["arch"], i["category"], i["name"]) for i in whole["items"]]
    assert keys == sorted(keys)
    pages = [await get(client, f"/api/1/composes/{n0}/rpms/?per_page=4&page={n}")
             for n in (1, 2, 3)]
    assert [i["nevra"] for p in pages for i in p["items"]] == \
        [i["nevra"] for i in whole["items"]]
    glibc = await get(client, f"/api/1/composes/{n0}/rpms/?name=glibc&arch=s390x")
    assert [i["nevra"] for i in glibc["items"]] == [
        f"glibc-0:{GLIBC_7}.s390x", f"glibc-0:{GLIBC_7}.src"]
    debug = await get(client, f"/api/1/composes/{n0}/rpms/?category=debug")
    assert [i["name"] for i in debug["items"]] == ["glibc-debuginfo"]
    assert debug["items"][0]["srpm_nevra"] == f"glibc-0:{GLIBC_7}.src"
    await get(client, f"/api/1/composes/{n0}/rpms/?category=docs", 400)
    await get(client, f"/api/1/composes/{n0}/rpms/?colour=red", 400)
    await get(client, "/api/1/composes/nope-1-20250101.0/rpms/", 404)


async def test_diff_of_two_composes(client):
    n0, n1, n2, _fedora = await seed(client)
    diff = await get(client, f"/api/1/composes/{n0}/diff/{n2}")
    by_place = {(c["variant"], c["arch"]): c for c in diff["changes"]}
    base = by_place[("BaseOS", "x86_64")]
    assert [(u["name"], u["old_evr"], u["new_evr"]) for u in base["upgraded"]] == [
        ("glibc", GLIBC_7, GLIBC_8), ("glibc", GLIBC_7, GLIBC_8),
        ("glibc-debuginfo", GLIBC_7, GLIBC_8)]
    assert [(r["name"], r["arch"]) for r in base["removed"]] == [("bash", "src"),
                                                                 ("bash", "x86_64")]
    app = by_place[("AppStream", "x86_64")]
    assert [(a["name"], a["arch"]) for a in app["added"]] == [("zsh", "src"), ("zsh", "x86_64")]
    assert next((d["name"], d["old_evr"], d["new_evr"]) for d in app["downgraded"]) == \
        ("vim", "9.1-2", "9.1-1")
    # The dvd is renamed with the compose's label but is the same image.
    assert base["images_added"] == [] and base["images_removed"] == []
    assert [i["type"] for i in by_place[("BaseOS", "s390x")]["images_added"]] == ["boot"]
    same = await get(client, f"/api/1/composes/{n0}/diff/{n0}")
    assert same["changes"] == []
    assert (await get(client, f"/api/1/composes/{n0}/diff/{n1}"))["changes"][0]["added"]


async def test_diff_needs_contents(client):
    n0, *_ = await seed(client)
    response = await client.post("/api/1/composes/", json={
        "compose_info": info("20250109", {"BaseOS": ["x86_64"]})})
    empty = (await response.json())["payload"]["compose"]["id"]
    answer = await get(client, f"/api/1/composes/{n0}/diff/{empty}", 404)
    assert "no RPM contents" in answer["message"]


async def test_package_history(client):
    n0, n1, n2, _fedora = await seed(client)
    history = await get(client, "/api/1/rpms/glibc/?release_short=rhel&type=nightly")
    assert [(v["evr"], v["first"]["compose_id"], v["last"]["compose_id"], v["composes"])
            for v in history["versions"]] == [(GLIBC_7, n0, n1, 2), (GLIBC_8, n2, n2, 1)]
    everywhere = await get(client, "/api/1/rpms/glibc/")
    assert everywhere["versions"][0]["composes"] == 3
    # A version no matching compose carried is left out.
    fedora = await get(client, "/api/1/rpms/glibc/?release_short=fedora")
    assert [(v["evr"], v["first"]["compose_id"], v["composes"])
            for v in fedora["versions"]] == [(GLIBC_7, _fedora, 1)]
    await get(client, "/api/1/rpms/glibc/?per_page=3", 400)
    assert (await get(client, "/api/1/rpms/nothing/"))["versions"] == []


async def test_contents_summary(client):
    n0, *_ = await seed(client)
    summary = await get(client, f"/api/1/composes/{n0}/contents/")
    assert summary["rpms"]["count"] == 9 and summary["images"]["count"] == 1
    assert summary["rpms"]["imported_at"].endswith("Z")
    assert summary["fetch"] is None


@pytest.mark.parametrize("query", ["rpm_nvr=glibc", "srpm_nvr=a-b", "rpm_nevra=glibc-1-2"])
async def test_bad_build_filters_are_400(client, query):
    answer = await get(client, f"/api/1/composes/?{query}", 400)
    assert answer["message"]
