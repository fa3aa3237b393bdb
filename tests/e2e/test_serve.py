"""`ctsd serve` as a real process on a fresh PostgreSQL database, over real HTTP.

One server serves the whole module; each test works on its own release (a unique
`release.short`) so that tests do not see each other's composes.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from tests.conftest import PG_URL_BASE, compose_info, create_pg_database, drop_pg_database
from tests.e2e.conftest import Server, ServerGroup, query, stop

pytestmark = pytest.mark.e2e

MAX_BODY_BYTES = 64 * 1024
API = "/api/1"


@pytest.fixture(scope="module")
def db_url() -> Iterator[str]:
    name = create_pg_database()
    yield f"{PG_URL_BASE}/{name}"
    drop_pg_database(name)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, db_url: str) -> Iterator[Server]:
    """A server configured by a TOML file (small body limit) plus the database in env."""
    base = tmp_path_factory.mktemp("serve")
    config = base / "ctsd.toml"
    config.write_text(f"[http]\nmax_body_bytes = {MAX_BODY_BYTES}\n")
    group = ServerGroup(base)
    try:
        (started,) = group.start(CTSD_DATABASE_URL=db_url, CTSD_CONFIG=str(config))
        yield started
    finally:
        group.stop_all()


def new_release() -> str:
    return f"e2e{uuid.uuid4().hex[:10]}"


def pungi_body(info: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The import body Pungi sends: no parents and no respin_of are explicit nulls."""
    return {"compose_info": info, "parent_compose_ids": None, "respin_of": None, **extra}


async def post_import(http: aiohttp.ClientSession, server: Server, body: Any,
                      **kwargs: Any) -> dict[str, Any]:
    async with http.post(f"{server.base_url}{API}/composes/", json=body, **kwargs) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def json_answer(response: aiohttp.ClientResponse) -> Any:
    assert response.content_type == "application/json", await response.text()
    return await response.json()


async def assert_json_error(response: aiohttp.ClientResponse,
                            status: int | tuple[int, ...]) -> dict[str, Any]:
    """The v1 error shape with this status (or one of these statuses)."""
    body = await json_answer(response)
    assert response.status in (status if isinstance(status, tuple) else (status,)), body
    assert body["status"] == response.status
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    return body


async def create_tag(http: aiohttp.ClientSession, server: Server, name: str) -> None:
    async with http.post(f"{server.base_url}{API}/tags/", json={
        "name": name, "description": "e2e tag", "documentation": "https://docs.example.com",
    }) as response:
        assert response.status == 200, await response.text()


async def test_import_answers_bare_compose_info_with_the_allocated_id(http, server):
    short = new_release()
    # Pungi sends the id it guessed; the answer must carry the id actually stored.
    info = compose_info(short=short, respin=0, id=f"{short}-9.9-19990101.7")
    first = await post_import(http, server, pungi_body(info))
    second = await post_import(http, server, pungi_body(info))

    assert set(first) == {"header", "payload"}
    assert first["header"]["type"] == "productmd.composeinfo"
    assert first["payload"]["compose"]["id"] == f"{short}-1.0-20200526.0"
    assert first["payload"]["compose"]["respin"] == 0
    assert second["payload"]["compose"]["id"] == f"{short}-1.0-20200526.1"
    assert second["payload"]["compose"]["respin"] == 1
    assert first["payload"]["release"]["short"] == short


async def test_get_answers_the_compose_representation(http, server):
    short = new_release()
    created = await post_import(http, server, pungi_body(compose_info(short=short)))
    compose_id = created["payload"]["compose"]["id"]

    async with http.get(f"{server.base_url}{API}/composes/{compose_id}") as response:
        assert response.status == 200
        body = await json_answer(response)
    assert body["compose_info"] == created
    assert body["tags"] == [] and body["parents"] == [] and body["children"] == []
    assert body["respin_of"] is None and body["respun_by"] == []
    assert body["compose_url"] is None
    assert isinstance(body["builder"], str) and body["builder"]


async def test_parents_and_respin_of_link_both_ways(http, server):
    short = new_release()
    parent = await post_import(http, server, pungi_body(compose_info(short=short)))
    parent_id = parent["payload"]["compose"]["id"]
    child = await post_import(http, server, pungi_body(
        compose_info(short=short), parent_compose_ids=[parent_id], respin_of=parent_id))
    child_id = child["payload"]["compose"]["id"]

    async with http.get(f"{server.base_url}{API}/composes/{parent_id}") as response:
        parent_view = await json_answer(response)
    async with http.get(f"{server.base_url}{API}/composes/{child_id}") as response:
        child_view = await json_answer(response)
    assert parent_view["children"] == [child_id] and parent_view["respun_by"] == [child_id]
    assert child_view["parents"] == [parent_id] and child_view["respin_of"] == parent_id


async def test_set_url_tag_and_untag_are_recorded(http, server, db_url):
    short = new_release()
    tag = f"tag-{short}"
    await create_tag(http, server, tag)
    created = await post_import(http, server, pungi_body(compose_info(short=short)))
    compose_id = created["payload"]["compose"]["id"]
    url = f"{server.base_url}{API}/composes/{compose_id}"

    async with http.patch(url, json={"action": "set_url",
                                     "compose_url": "https://composes.example.com/x"}) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["compose_url"] == "https://composes.example.com/x"
    async with http.patch(url, json={"action": "tag", "tag": tag,
                                     "user_data": "TICKET-1"}) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["tags"] == [tag]
    async with http.get(url) as resp:
        assert (await resp.json())["tags"] == [tag]
    async with http.patch(url, json={"action": "untag", "tag": tag}) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["tags"] == []

    async with http.get(f"{url}/changes/") as resp:
        changes = (await json_answer(resp))["changes"]
    assert [c["action"] for c in changes] == ["created", "url_changed", "tagged", "untagged"]
    assert changes[2]["user_data"] == "TICKET-1"
    assert all(c["time"].endswith("Z") for c in changes)
    topics = [row.topic for row in query(
        db_url, "SELECT topic FROM outbox WHERE ordering_key = :cid ORDER BY id",
        cid=compose_id)]
    assert topics == ["cts.compose-created", "cts.compose-changed", "cts.compose-tagged",
                      "cts.compose-untagged"]


async def test_unknown_compose_is_404_json(http, server):
    async with http.get(f"{server.base_url}{API}/composes/nope-1.0-20200101.0") as response:
        body = await assert_json_error(response, 404)
    assert body["message"] == "No such compose found."  # the existing CTS's text
    async with http.patch(f"{server.base_url}{API}/composes/nope-1.0-20200101.0",
                          json={"action": "set_url",
                                "compose_url": "https://example.com/"}) as response:
        await assert_json_error(response, 404)


async def test_unknown_path_under_api_is_404_json(http, server):
    async with http.get(f"{server.base_url}{API}/no-such-thing/") as response:
        await assert_json_error(response, 404)


@pytest.mark.parametrize("method", ["post_import", "patch_compose", "post_tag"])
async def test_malformed_json_is_400_json(http, server, method):
    short = new_release()
    created = await post_import(http, server, pungi_body(compose_info(short=short)))
    url = {
        "post_import": f"{server.base_url}{API}/composes/",
        "patch_compose": f"{server.base_url}{API}/composes/{created['payload']['compose']['id']}",
        "post_tag": f"{server.base_url}{API}/tags/",
    }[method]
    verb = "PATCH" if method == "patch_compose" else "POST"
    async with http.request(verb, url, data=b'{"compose_info": {',
                            headers={"Content-Type": "application/json"}) as response:
        body = await assert_json_error(response, 400)
    assert "JSON" in body["message"]


async def test_body_over_the_configured_limit_is_413_json(http, server, db_url):
    short = new_release()
    info = compose_info(short=short)
    info["payload"]["variants"] = {"padding": "x" * MAX_BODY_BYTES}
    async with http.post(f"{server.base_url}{API}/composes/",
                         json=pungi_body(info)) as response:
        await assert_json_error(response, 413)
    # The body is far below aiohttp's default limit (1 MiB): the configured one applied.
    assert query(db_url, "SELECT 1 FROM composes WHERE release_short = :s", s=short) == []
    # The server still serves the next request on a fresh connection.
    await post_import(http, server, pungi_body(compose_info(short=short)))


async def test_put_on_a_compose_is_405_json(http, server):
    short = new_release()
    created = await post_import(http, server, pungi_body(compose_info(short=short)))
    url = f"{server.base_url}{API}/composes/{created['payload']['compose']['id']}"
    async with http.put(url, json={"action": "tag"}) as response:
        await assert_json_error(response, 405)
        allowed = {method.strip() for method in response.headers["Allow"].split(",")}
    assert {"GET", "PATCH"} <= allowed


def _info(**release: Any) -> dict[str, Any]:
    info = compose_info(short=new_release())
    info["payload"]["release"].update(release)
    return info


def _compose(**compose: Any) -> dict[str, Any]:
    info = compose_info(short=new_release())
    info["payload"]["compose"].update(compose)
    return info


# (name, method, path ("{cid}" = an existing compose), body bytes or JSON, headers,
#  the status or the statuses that are right)
BAD_REQUESTS: list[tuple[str, str, str, Any, dict[str, str], int | tuple[int, ...]]] = [
    ("json-array", "POST", "/composes/", [1, 2], {}, 400),
    ("json-string", "POST", "/composes/", "hello", {}, 400),
    ("empty-body", "POST", "/composes/", b"", {}, 400),
    ("not-utf8", "POST", "/composes/", b"\xff\xfe{}", {}, 400),
    ("deeply-nested-json", "POST", "/composes/", b"[" * 20000, {}, 400),
    ("missing-compose-info", "POST", "/composes/", {"respin_of": None}, {}, 400),
    ("compose-info-not-object", "POST", "/composes/", {"compose_info": [1]}, {}, 400),
    ("compose-info-garbage", "POST", "/composes/", {"compose_info": {"a": 1}}, {}, 400),
    ("compose-info-no-payload", "POST", "/composes/",
     {"compose_info": {"header": {"type": "productmd.composeinfo", "version": "1.2"}}}, {}, 400),
    ("bad-date", "POST", "/composes/", {"compose_info": _compose(date="2020-05-26")}, {}, 400),
    ("bad-type", "POST", "/composes/", {"compose_info": _compose(type="weird")}, {}, 400),
    ("negative-respin", "POST", "/composes/", {"compose_info": _compose(respin=-1)}, {}, 400),
    ("string-respin", "POST", "/composes/", {"compose_info": _compose(respin="1")}, {}, 400),
    ("respin-beyond-int32", "POST", "/composes/",
     {"compose_info": _compose(respin=2**31)}, {}, 400),
    ("slash-in-short", "POST", "/composes/", {"compose_info": _info(short="a/b")}, {}, 400),
    ("short-too-long", "POST", "/composes/", {"compose_info": _info(short="s" * 300)}, {}, 400),
    ("release-name-too-long", "POST", "/composes/",
     {"compose_info": _info(name="n" * 300)}, {}, 400),
    ("nul-in-release-name", "POST", "/composes/",
     {"compose_info": _info(name="a\u0000b")}, {}, 400),
    ("parents-not-list", "POST", "/composes/",
     {"compose_info": _info(), "parent_compose_ids": "x"}, {}, 400),
    ("parents-not-strings", "POST", "/composes/",
     {"compose_info": _info(), "parent_compose_ids": [1]}, {}, 400),
    ("unknown-parent", "POST", "/composes/",
     {"compose_info": _info(), "parent_compose_ids": ["nope-1-20200101.0"]}, {}, 400),
    ("respin-of-not-string", "POST", "/composes/",
     {"compose_info": _info(), "respin_of": 5}, {}, 400),
    ("ftp-compose-url", "POST", "/composes/",
     {"compose_info": _info(), "compose_url": "ftp://example.com/x"}, {}, 400),
    ("idempotency-key-too-long", "POST", "/composes/",
     {"compose_info": _info()}, {"Idempotency-Key": "k" * 300}, 400),
    ("multipart", "POST", "/composes/", b"--x--\r\n",
     {"Content-Type": "multipart/form-data; boundary=x"}, 415),
    ("delete-compose-list", "DELETE", "/composes/", None, {}, 405),
    ("patch-unknown-action", "PATCH", "/composes/{cid}", {"action": "explode"}, {}, 400),
    ("patch-no-action", "PATCH", "/composes/{cid}", {}, {}, 400),
    ("patch-tag-missing", "PATCH", "/composes/{cid}", {"action": "tag"}, {}, 400),
    ("patch-tag-not-string", "PATCH", "/composes/{cid}", {"action": "tag", "tag": 7}, {}, 400),
    ("patch-unknown-tag", "PATCH", "/composes/{cid}",
     {"action": "tag", "tag": "no-such-tag"}, {}, 400),
    ("patch-nul-in-tag", "PATCH", "/composes/{cid}",
     {"action": "tag", "tag": "a\u0000b"}, {}, 400),
    ("patch-user-data-not-string", "PATCH", "/composes/{cid}",
     {"action": "untag", "tag": "x", "user_data": {"a": 1}}, {}, 400),
    ("patch-ftp-url", "PATCH", "/composes/{cid}",
     {"action": "set_url", "compose_url": "ftp://example.com/"}, {}, 400),
    ("patch-url-not-string", "PATCH", "/composes/{cid}",
     {"action": "set_url", "compose_url": 1}, {}, 400),
    ("get-nul-in-compose-id", "GET", "/composes/a%00b", None, {}, (400, 404)),
    ("get-repo-without-variant", "GET", "/composes/{cid}/repo/", None, {}, 400),
    ("get-repo-bad-variant", "GET", "/composes/{cid}/repo/?variant=a%0Ab", None, {}, 400),
    ("tag-name-with-nul", "POST", "/tags/",
     {"name": "a\u0000b", "description": "d", "documentation": "x"}, {}, 400),
    ("tag-missing-fields", "POST", "/tags/", {"name": "lonely"}, {}, 400),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status"),
                         [case[1:] for case in BAD_REQUESTS],
                         ids=[case[0] for case in BAD_REQUESTS])
async def test_bad_input_is_a_json_4xx_never_500(http, server, method, path, body, headers,
                                                  status):
    if "{cid}" in path:
        created = await post_import(http, server, pungi_body(compose_info(short=new_release())))
        path = path.replace("{cid}", created["payload"]["compose"]["id"])
    kwargs: dict[str, Any] = {"headers": dict(headers)}
    if isinstance(body, bytes):
        kwargs["data"] = body
        kwargs["headers"].setdefault("Content-Type", "application/json")
    elif body is not None:
        kwargs["data"] = json.dumps(body).encode()
        kwargs["headers"].setdefault("Content-Type", "application/json")
    async with http.request(method, f"{server.base_url}{API}{path}", **kwargs) as response:
        await assert_json_error(response, status)


async def test_idempotency_key_replays_the_first_answer(http, server, db_url):
    short = new_release()
    body = pungi_body(compose_info(short=short))
    headers = {"Idempotency-Key": f"key-{short}"}
    url = f"{server.base_url}{API}/composes/"
    async with http.post(url, json=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        assert "Idempotent-Replayed" not in response.headers
        first = await response.json()
    async with http.post(url, json=body, headers=headers) as response:
        assert response.status == 200, await response.text()
        assert response.headers.get("Idempotent-Replayed") == "true"
        second = await response.json()

    assert second == first
    stored = query(db_url, "SELECT compose_id FROM composes WHERE release_short = :s",
                   s=short)
    assert [row.compose_id for row in stored] == [first["payload"]["compose"]["id"]]


async def test_idempotency_key_reused_with_another_body_is_409(http, server, db_url):
    short = new_release()
    headers = {"Idempotency-Key": f"key-{short}"}
    url = f"{server.base_url}{API}/composes/"
    async with http.post(url, json=pungi_body(compose_info(short=short)),
                         headers=headers) as response:
        assert response.status == 200, await response.text()
    other = pungi_body(compose_info(short=short, date="20200527"))
    async with http.post(url, json=other, headers=headers) as response:
        await assert_json_error(response, 409)
    stored = query(db_url, "SELECT date FROM composes WHERE release_short = :s", s=short)
    assert [row.date for row in stored] == ["20200526"]


def test_sigterm_stops_the_server_cleanly(start_ctsd, e2e_database_url):
    (started,) = start_ctsd(CTSD_DATABASE_URL=e2e_database_url)
    assert stop(started) == 0, started.stderr()
    assert "Traceback" not in started.stderr()


def test_server_log_has_no_tracebacks(server: Server) -> None:
    # Runs last in this module: none of the requests above may have crashed a handler.
    log = server.stderr()
    assert "Traceback" not in log, log[-5000:]
