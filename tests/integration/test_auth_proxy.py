"""The trusted front proxy backend and static groups, through the real app and database.

aiohttp's test client connects from 127.0.0.1: trusting "127.0.0.0/8" makes it the
proxy, trusting only "10.0.0.0/8" makes it a stranger forging the header.
"""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from ctsd.api.app import create_app
from ctsd.auth.settings import auth_settings_from_toml
from ctsd.config import Principals, Settings
from tests.auth_support import database_state
from tests.conftest import compose_info, read_database

COMPOSE = "/api/1/composes/"


def proxy_settings(database_url: str, trusted: list[str], **auth: Any) -> Settings:
    return Settings(
        database_url=database_url, auth_backend="proxy", trusted_proxies=frozenset(trusted),
        auth=auth_settings_from_toml(auth),
        admins=Principals(users=frozenset({"admin"})),
        allowed_builders=Principals(users=frozenset({"pungi"})),
    )


def as_user(name: str) -> dict[str, str]:
    return {"X-Remote-User": name}


async def test_user_header_from_a_non_proxy_address_is_refused(
        aiohttp_client: Any, database_url: str) -> None:
    client = await aiohttp_client(create_app(proxy_settings(database_url, ["10.0.0.0/8"])))
    before = database_state(database_url)
    for request in (client.post(COMPOSE, json={"compose_info": compose_info()},
                                headers=as_user("admin")),
                    client.get("/api/1/userinfo", headers=as_user("admin"))):
        response = await request
        body = await response.json()
        assert response.status == 401, body
        assert body["message"] == ("The X-Remote-User header is accepted only from the "
                                   "trusted front proxy")
    assert database_state(database_url) == before


async def test_proxy_user_imports_and_history_names_the_proxy_backend(
        aiohttp_client: Any, database_url: str) -> None:
    settings = proxy_settings(database_url, ["127.0.0.0/8"], proxy={"strip_realm": True})
    client = await aiohttp_client(create_app(settings))
    response = await client.post(COMPOSE, json={"compose_info": compose_info()},
                                 headers=as_user("pungi@EXAMPLE.ORG"))
    assert response.status == 200, await response.text()
    rows = read_database(database_url, 'SELECT "user", auth_backend FROM compose_changes')
    assert [tuple(row) for row in rows] == [("pungi", "proxy")]
    # The proxy passes anonymous requests on without the header: reads only.
    assert (await client.get(COMPOSE)).status == 200
    anonymous = await client.post(COMPOSE, json={"compose_info": compose_info()})
    assert anonymous.status == 401


async def setup_tag(client: TestClient) -> str:
    admin = as_user("admin")
    created = await client.post(COMPOSE, json={"compose_info": compose_info()}, headers=admin)
    assert created.status == 200, await created.text()
    tag = await client.post("/api/1/tags/", headers=admin, json={
        "name": "qa-passed", "description": "QE passed", "documentation": "https://d"})
    assert tag.status == 200, await tag.text()
    grant = await client.patch("/api/1/tags/qa-passed", headers=admin,
                               json={"action": "add_tagger", "group": "qe-team"})
    assert grant.status == 200, await grant.text()
    return (await created.json())["payload"]["compose"]["id"]


async def test_static_group_makes_a_tagger_and_others_get_403(
        aiohttp_client: Any, database_url: str) -> None:
    settings = proxy_settings(database_url, ["127.0.0.1"], groups={"bob": ["qe-team"]})
    client = await aiohttp_client(create_app(settings))
    compose_id = await setup_tag(client)
    tag_it = {"action": "tag", "tag": "qa-passed"}
    before = database_state(database_url)
    refused = await client.patch(f"{COMPOSE}{compose_id}", json=tag_it,
                                 headers=as_user("mallory"))
    assert refused.status == 403
    assert (await refused.json())["message"] == (
        'User "mallory" does not have "taggers" permission for tag "qa-passed".')
    assert database_state(database_url) == before
    info = await (await client.get("/api/1/userinfo", headers=as_user("bob"))).json()
    assert info["permissions"]["is_tagger_of"] == ["qa-passed"]
    tagged = await client.patch(f"{COMPOSE}{compose_id}", json=tag_it, headers=as_user("bob"))
    assert tagged.status == 200 and (await tagged.json())["tags"] == ["qa-passed"]
