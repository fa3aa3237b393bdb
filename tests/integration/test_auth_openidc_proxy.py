"""Issue #15: the existing CTS's mod_auth_openidc deployment. The front proxy (here the
test client, connecting from a trusted address) sets REMOTE_USER, the token's scope and
the access token; the proxy backend checks the scope like the oidc backend and asks a
real local UserInfo server for the user's groups (cached; a failure gives no groups)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from ctsd.api.app import create_app
from ctsd.auth.settings import auth_settings_from_toml
from ctsd.config import Principals, Settings
from tests.auth_support import free_port
from tests.conftest import compose_info
from tests.integration.test_input_hardening import every_table_count

NS = "https://id.example.org/scope/cts/"
GROUPS_BY_TOKEN = {"token-builder": ["releng"], "token-nobody": ["qe"]}


class UserInfoServer:
    def __init__(self) -> None:
        self.calls = 0
        self.port = free_port()
        self.runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/userinfo", self._userinfo)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def _userinfo(self, request: web.Request) -> web.Response:
        self.calls += 1
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if token == "token-broken":
            return web.Response(status=500, text="boom")
        if token not in GROUPS_BY_TOKEN:
            return web.json_response({"error": "invalid_token"}, status=401)
        return web.json_response({"sub": "someone", "groups": GROUPS_BY_TOKEN[token]})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/userinfo"

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def userinfo() -> AsyncIterator[UserInfoServer]:
    server = UserInfoServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def proxied(aiohttp_client: Any, pg_url: str, userinfo: UserInfoServer) -> Any:
    settings = Settings(
        database_url=pg_url, auth_backend="proxy", trusted_proxies=frozenset({"127.0.0.1"}),
        auth=auth_settings_from_toml({"proxy": {
            "user_header": "REMOTE_USER", "scope_header": "OIDC_CLAIM_scope",
            "scope_namespace": NS, "token_header": "OIDC_access_token",
            "userinfo_url": userinfo.url, "userinfo_cache_seconds": 60}}),
        allowed_builders=Principals(groups=frozenset({"releng"})))
    return await aiohttp_client(create_app(settings))


def headers(user: str, token: str | None, scopes: str | None) -> dict[str, str]:
    sent = {"REMOTE_USER": user}
    if token is not None:
        sent["OIDC_access_token"] = token
    if scopes is not None:
        sent["OIDC_CLAIM_scope"] = scopes
    return sent


async def test_groups_from_userinfo_grant_and_are_cached(proxied, userinfo, pg_url):
    body = {"compose_info": compose_info()}
    sent = headers("alice", "token-builder", f"openid {NS}new-compose")
    response = await proxied.post("/api/1/composes/", json=body, headers=sent)
    assert response.status == 200, await response.text()
    info = await (await proxied.get("/api/1/userinfo", headers=sent)).json()
    assert info["permissions"]["can_create_compose"] is True
    assert userinfo.calls == 1  # the second request was answered from the cache


@pytest.mark.parametrize(("token", "scopes", "status", "named"), [
    ("token-builder", "openid", 403, "new-compose"),          # no API scope
    ("token-builder", f"{NS}edit-compose", 403, "new-compose"),  # the wrong one
    ("token-builder", None, 403, "new-compose"),              # scope header missing
    ("token-nobody", f"{NS}new-compose", 403, "alice"),       # groups give no right
    ("token-broken", f"{NS}new-compose", 403, "alice"),       # UserInfo fails: no groups
    ("token-unknown", f"{NS}new-compose", 403, "alice"),      # UserInfo refuses the token
    (None, f"{NS}new-compose", 403, "alice"),                 # no token: no UserInfo groups
])
async def test_scopes_and_failing_userinfo_refuse(proxied, pg_url, token, scopes, status,
                                                  named):
    before = every_table_count(pg_url)
    response = await proxied.post("/api/1/composes/", json={"compose_info": compose_info()},
                                  headers=headers("alice", token, scopes))
    error = await response.json()
    assert response.status == status and named in error["message"], error
    assert every_table_count(pg_url) == before
