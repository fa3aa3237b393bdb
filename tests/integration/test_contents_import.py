"""PUT /api/1/composes/{id}/rpms and /images on PostgreSQL and SQLite: real productmd
files, the history row and message of a real change, no-op re-imports, and bad files
(not productmd, wrong compose, truncated, gzip bomb, too large) refused with nothing
stored."""

from __future__ import annotations

import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from ctsd.config import Settings
from schemas import message_class_for
from tests.conftest import compose_info, read_database
from tests.contents_support import fixture, gzipped, images_document, package, rpms_document

CID = "rhel-10.0-20250101.n.0"
PACKAGES = [package("BaseOS", "x86_64", "glibc", "2.40-7.fc42", debug=True),
            package("BaseOS", "s390x", "glibc", "2.40-7.fc42"),
            package("AppStream", "x86_64", "python3-foo", "1.0-1", noarch=True)]


@pytest.fixture
def settings(database_url: str) -> Settings:
    # A small contents limit so the too-large cases stay quick.
    return Settings(database_url=database_url, contents_max_bytes=2 * 1024 * 1024)


async def nightly(client: Any) -> str:
    info = compose_info("rhel", "10.0", "20250101", type_="nightly")
    created = await _post(client, info)
    assert created == CID
    return created


async def _post(client: Any, info: dict[str, Any]) -> str:
    response = await client.post("/api/1/composes/", json={"compose_info": info})
    assert response.status == 200, await response.text()
    return (await response.json())["payload"]["compose"]["id"]


def stored(url: str) -> dict[str, int]:
    counts = {}
    for table in ("compose_contents", "compose_rpm_sets", "compose_rpm_ids", "rpms",
                  "compose_images"):
        counts[table] = read_database(url, f"SELECT count(*) FROM {table}")[0][0]
    return counts


def events(url: str, topic_end: str) -> list[dict[str, Any]]:
    rows = read_database(url, "SELECT topic, body FROM outbox ORDER BY id")
    return [row.body if isinstance(row.body, dict) else json.loads(row.body)
            for row in rows if row.topic.endswith(topic_end)]


async def test_import_rpms_records_history_and_message_once(client, database_url):
    await nightly(client)
    document = rpms_document(CID, PACKAGES)
    response = await client.put(f"/api/1/composes/{CID}/rpms", json=document)
    assert response.status == 200, await response.text()
    answer = await response.json()
    assert (answer["count"], answer["changed"]) == (7, True)
    # 7 entries, 6 distinct: both arches list the same glibc source RPM (same path).
    assert stored(database_url)["rpms"] == 6
    changes = (await (await client.get(f"/api/1/composes/{CID}/changes/")).json())["changes"]
    assert [c["action"] for c in changes][-1] == "contents_imported"
    [body] = events(database_url, "compose-contents-imported")
    assert body["contents"] == {"compose_id": CID, "kind": "rpms", "count": 7,
                                "digest": answer["digest"]}
    message_class_for(body["event"])(body=body, topic="cts.compose-contents-imported").validate()

    again = await client.put(f"/api/1/composes/{CID}/rpms", data=gzipped(document),
                             headers={"Content-Encoding": "gzip"})
    assert again.status == 200, await again.text()
    assert (await again.json())["changed"] is False
    assert len(events(database_url, "compose-contents-imported")) == 1
    changes = (await (await client.get(f"/api/1/composes/{CID}/changes/")).json())["changes"]
    assert [c["action"] for c in changes].count("contents_imported") == 1


async def test_changed_contents_replace_the_old_ones(client, database_url):
    await nightly(client)
    await client.put(f"/api/1/composes/{CID}/rpms", json=rpms_document(CID, PACKAGES))
    smaller = rpms_document(CID, PACKAGES[:1])
    answer = await (await client.put(f"/api/1/composes/{CID}/rpms", json=smaller)).json()
    assert (answer["count"], answer["changed"]) == (3, True)
    page = await (await client.get(f"/api/1/composes/{CID}/rpms/?per_page=100")).json()
    assert page["meta"]["total"] == 3
    # The rows of the old entries stay: other composes may share them.
    assert stored(database_url)["rpms"] == 6


async def test_import_images(client, database_url):
    await nightly(client)
    document = images_document(CID, [("BaseOS", "x86_64", "dvd", "iso"),
                                     ("BaseOS", "s390x", "boot", "iso")])
    response = await client.put(f"/api/1/composes/{CID}/images", json=document)
    assert response.status == 200, await response.text()
    assert (await response.json())["count"] == 2
    page = await (await client.get(f"/api/1/composes/{CID}/images/?arch=s390x")).json()
    assert [item["type"] for item in page["items"]] == ["boot"]
    assert page["items"][0]["path"] == "BaseOS/s390x/iso/BaseOS-boot-s390x-20250101.n.0.iso"


async def test_real_productmd_rpms_file(client, database_url):
    info = compose_info("Fedora", "41", "20260204")
    assert await _post(client, info) == "Fedora-41-20260204.0"
    response = await client.put("/api/1/composes/Fedora-41-20260204.0/rpms",
                                json=fixture("productmd-v2-rpms.json"))
    assert response.status == 200, await response.text()
    assert (await response.json())["count"] == 7
    page = await (await client.get(
        "/api/1/composes/Fedora-41-20260204.0/rpms/?name=kernel-devel")).json()
    assert [(i["nevra"], i["sigkey"]) for i in page["items"]] == [
        ("kernel-devel-0:6.9.5-200.fc41.x86_64", None)]
    assert page["items"][0]["path"] == \
        "Server/x86_64/os/Packages/k/kernel-devel-6.9.5-200.fc41.x86_64.rpm"


def _truncated_gzip() -> bytes:
    whole = gzipped(rpms_document(CID, PACKAGES))
    return whole[: len(whole) // 2]


def _bomb() -> bytes:
    # 64 MiB of one character compress to ~64 KiB: 32 times the 2 MiB limit.
    return gzip.compress(b'{"header": "' + b"a" * (64 * 1024 * 1024) + b'"}', 9)


BAD_BODIES = {
    "composeinfo-not-rpms": (lambda: json.dumps(compose_info()).encode(), {}, 400,
                             "Not a productmd rpms file"),
    "not-json": (lambda: b"<html>not json</html>", {}, 400, "not valid JSON"),
    "json-list": (lambda: b"[1, 2]", {}, 400, "productmd JSON object"),
    "truncated": (lambda: json.dumps(rpms_document(CID, PACKAGES)).encode()[:300], {}, 400,
                  "not valid JSON"),
    "truncated-gzip": (_truncated_gzip, {"Content-Encoding": "gzip"}, 400, ""),
    "wrong-compose": (lambda: json.dumps(rpms_document("rhel-10.0-20250101.n.1",
                                                       PACKAGES)).encode(), {}, 400,
                      "is for compose rhel-10.0-20250101.n.1, not " + CID),
    "bad-nevra": (lambda: json.dumps(_with_bad_nevra()).encode(), {}, 400, "N-E:V-R.A"),
    "gzip-bomb": (_bomb, {"Content-Encoding": "gzip"}, 413, "larger than"),
    "too-large": (lambda: b" " * (3 * 1024 * 1024), {}, 413, "larger than"),
    "empty": (lambda: b"", {}, 400, "empty"),
}


def _with_bad_nevra() -> dict[str, Any]:
    document = rpms_document(CID, PACKAGES[:1])
    arch = document["payload"]["rpms"]["BaseOS"]["x86_64"]
    srpm = next(iter(arch))
    arch[srpm]["glibc-without-epoch.x86_64"] = {"category": "binary", "path": "a.rpm",
                                                "sigkey": None}
    return document


@pytest.mark.parametrize("case", sorted(BAD_BODIES))
async def test_bad_files_are_refused_and_nothing_is_stored(client, database_url, case):
    await nightly(client)
    make, headers, status, message = BAD_BODIES[case]
    response = await client.put(f"/api/1/composes/{CID}/rpms", data=make(), headers=headers)
    assert response.status == status, await response.text()
    body = await response.json()
    assert body["status"] == status and message in body["message"], body
    assert stored(database_url) == dict.fromkeys(stored(database_url), 0)
    assert events(database_url, "compose-contents-imported") == []


async def test_real_legacy_images_file_without_header_type_is_refused(client, database_url):
    await nightly(client)
    response = await client.put(f"/api/1/composes/{CID}/images",
                                json=fixture("f23-images.json"))
    assert response.status == 400
    assert "header.type must be 'productmd.images'" in (await response.json())["message"]


async def _two_gigabytes() -> AsyncIterator[bytes]:
    chunk = b" " * (1024 * 1024)
    for _ in range(2048):
        yield chunk


async def test_two_gigabyte_body_is_refused_without_reading_it(client, database_url):
    await nightly(client)
    # Streamed without a length (chunked): refused once the limit is passed; the
    # client stops sending long before 2 GB.
    sent = 0

    async def counted() -> AsyncIterator[bytes]:
        nonlocal sent
        async for chunk in _two_gigabytes():
            sent += len(chunk)
            yield chunk

    try:
        response = await client.put(f"/api/1/composes/{CID}/rpms", data=counted())
        assert response.status == 413
    except aiohttp.ClientError:
        pass  # the server may close before the client saw the answer: also a refusal
    assert sent < 512 * 1024 * 1024
    # Declared: refused from the header alone, after a few bytes of the body.
    reader, writer = await asyncio.open_connection(client.host, client.port)
    writer.write(f"PUT /api/1/composes/{CID}/rpms HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Length: {2 * 1024**3}\r\n\r\n{{".encode())
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    assert status_line.startswith(b"HTTP/1.1 413"), status_line
    assert stored(database_url)["compose_contents"] == 0


async def test_unknown_compose_is_404(client):
    response = await client.put(f"/api/1/composes/{CID}/rpms", json=rpms_document(CID, PACKAGES))
    assert response.status == 404


async def test_concurrent_imports_share_new_rows(client, database_url):
    # Two nightlies with the same (new) packages imported at once: both succeed and
    # the shared entries are stored once.
    second = "rhel-10.0-20250101.n.1"
    await nightly(client)
    await _post(client, compose_info("rhel", "10.0", "20250101", type_="nightly"))
    many = [package("BaseOS", "x86_64", f"pkg{i}", "1.0-1") for i in range(300)]
    answers = await asyncio.gather(*(
        client.put(f"/api/1/composes/{cid}/rpms", json=rpms_document(cid, many))
        for cid in (CID, second)))
    assert [answer.status for answer in answers] == [200, 200]
    assert stored(database_url)["rpms"] == 600
    assert stored(database_url)["compose_contents"] == 2
