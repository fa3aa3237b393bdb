"""OpenID Connect bearer tokens against a real JWKS endpoint, on PostgreSQL and SQLite.

Every refusal is checked three ways: the status, a JSON error naming what was wrong,
and an unchanged database.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives import serialization

from ctsd.api.app import create_app
from ctsd.auth.jwks import JwksCache, KeysUnavailable
from ctsd.auth.settings import auth_settings_from_toml
from ctsd.config import Principals, Settings
from tests.auth_support import (
    AUDIENCE,
    ISSUER,
    SCOPE_NS,
    Provider,
    SigningKey,
    bearer,
    database_state,
    free_port,
    oidc_table,
)
from tests.conftest import compose_info, read_database

COMPOSE = "/api/1/composes/"


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    provider = Provider()
    await provider.start()
    yield provider
    await provider.stop()


def oidc_settings(database_url: str, jwks_url: str) -> Settings:
    return Settings(
        database_url=database_url, auth_backend="oidc",
        auth=auth_settings_from_toml({"oidc": oidc_table(jwks_url)}),
        admins=Principals(users=frozenset({"admin"})),
        allowed_builders=Principals(users=frozenset({"alice"})),
    )


@pytest.fixture
async def oidc_client(aiohttp_client: Any, database_url: str,
                      provider: Provider) -> TestClient:
    return await aiohttp_client(create_app(oidc_settings(database_url, provider.jwks_url)))


def unsigned(claims: dict[str, Any], header: dict[str, Any]) -> str:
    """A token with the given header and an empty signature (for alg "none")."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()
    return f"{part(header)}.{part(claims)}."


def tampered(token: str, **changes: Any) -> str:
    """The token with claims changed and its original signature kept."""
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims.update(changes)
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{body}.{signature}"


def forged_tokens(provider: Provider) -> dict[str, tuple[str, int, str]]:
    """attack -> (token, expected status, words the error message must contain)."""
    now = int(time.time())
    good = provider.token("alice")
    rogue = SigningKey("rogue")
    public_pem = provider.published[0].private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {
        "expired": (provider.token("alice", exp=now - 120, iat=now - 720), 401,
                    "token has expired"),
        "wrong issuer": (provider.token("alice", iss="https://evil.example.org/"), 401,
                         "wrong issuer"),
        "wrong audience": (provider.token("alice", aud="another-service"), 401,
                           "wrong audience"),
        "unknown key": (provider.token("alice", key=rogue), 401, "unknown key id"),
        "alg none": (unsigned({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice",
                               "exp": now + 600},
                              {"alg": "none", "typ": "JWT", "kid": "key-1"}), 401,
                     "algorithm 'none' is not accepted"),
        "HS256 with the public key as secret": (
            _hmac_token(public_pem, now), 401, "algorithm 'HS256' is not accepted"),
        "tampered signature": (tampered(good, sub="admin"), 401, "signature is invalid"),
        "not a JWT": ("not-a-token", 401, "not a signed JWT"),
        "no expiry": (provider.token("alice", exp=None), 401, "'exp' claim"),
        "missing scope": (provider.token("alice", scope=SCOPE_NS + "edit-compose"), 403,
                          SCOPE_NS + "new-compose"),
    }


def _hmac_token(secret: bytes, now: int) -> str:
    # PyJWT refuses PEM keys as HMAC secrets; build the forgery by hand like an attacker.
    header = {"alg": "HS256", "typ": "JWT", "kid": "key-1"}
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "admin", "exp": now + 600}
    signing_input = unsigned(claims, header)[:-1]
    digest = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@pytest.mark.parametrize("attack", [
    "expired", "wrong issuer", "wrong audience", "unknown key", "alg none",
    "HS256 with the public key as secret", "tampered signature", "not a JWT",
    "no expiry", "missing scope",
])
async def test_forged_or_unfit_token_is_refused_and_nothing_changes(
        oidc_client: TestClient, database_url: str, provider: Provider, attack: str) -> None:
    token, status, words = forged_tokens(provider)[attack]
    before = database_state(database_url)
    response = await oidc_client.post(COMPOSE, json={"compose_info": compose_info()},
                                      headers=bearer(token))
    body = await response.json()
    assert response.status == status, body
    assert body["status"] == status and body["error"] in ("Unauthorized", "Forbidden")
    assert words in body["message"]
    assert token not in body["message"]  # never echo credentials
    assert database_state(database_url) == before


async def test_valid_token_imports_and_history_names_the_oidc_backend(
        oidc_client: TestClient, database_url: str, provider: Provider) -> None:
    response = await oidc_client.post(COMPOSE, json={"compose_info": compose_info()},
                                      headers=bearer(provider.token("alice")))
    assert response.status == 200, await response.text()
    compose_id = (await response.json())["payload"]["compose"]["id"]
    changes = await (await oidc_client.get(f"{COMPOSE}{compose_id}/changes/")).json()
    assert [(c["action"], c["user"], c["auth_backend"]) for c in changes["changes"]] == [
        ("created", "alice", "oidc")]
    rows = read_database(database_url, "SELECT \"user\", auth_backend FROM compose_changes")
    assert [tuple(row) for row in rows] == [("alice", "oidc")]


async def test_anonymous_reads_work_but_writes_and_bad_tokens_answer_401(
        oidc_client: TestClient, provider: Provider) -> None:
    assert (await oidc_client.get(COMPOSE)).status == 200
    write = await oidc_client.post(COMPOSE, json={"compose_info": compose_info()})
    assert write.status == 401
    assert (await write.json())["message"].startswith("Authentication is required")
    assert write.headers["WWW-Authenticate"].startswith("Bearer")
    expired = provider.token("alice", exp=int(time.time()) - 120)
    # A broken token on a public read is refused too: the client must learn it.
    read = await oidc_client.get(COMPOSE, headers=bearer(expired))
    assert read.status == 401 and "expired" in (await read.json())["message"]


async def test_rotated_key_is_fetched_on_first_use(oidc_client: TestClient,
                                                   provider: Provider) -> None:
    first = await oidc_client.get("/api/1/userinfo", headers=bearer(provider.token("alice")))
    assert first.status == 200
    new_key = provider.rotate()
    # The refetch rate limit (jwks_refetch_seconds, 0.5 s here) counts from the last fetch.
    await asyncio.sleep(0.6)
    rotated = await oidc_client.get("/api/1/userinfo",
                                    headers=bearer(provider.token("alice", key=new_key)))
    assert rotated.status == 200, await rotated.text()
    assert provider.fetches == 2


async def test_unknown_key_ids_refetch_at_most_once_per_interval(
        oidc_client: TestClient, provider: Provider) -> None:
    assert (await oidc_client.get("/api/1/userinfo",
                                  headers=bearer(provider.token()))).status == 200
    rogue = SigningKey("made-up")
    for _ in range(5):
        answer = await oidc_client.get("/api/1/userinfo",
                                       headers=bearer(provider.token(key=rogue)))
        assert answer.status == 401
    # One fetch at start-up, at most one for the burst of made-up key ids.
    assert provider.fetches <= 2


async def test_userinfo_reports_what_the_token_allows(oidc_client: TestClient,
                                                      provider: Provider) -> None:
    anonymous = await oidc_client.get("/api/1/userinfo")
    assert anonymous.status == 401 and (await anonymous.json())["status"] == 401
    full = await (await oidc_client.get("/api/1/userinfo",
                                        headers=bearer(provider.token("alice")))).json()
    assert full == {"username": "alice", "permissions": {
        "can_create_compose": True, "can_create_tag": False, "can_edit_tag": False,
        "can_set_url": True, "is_tagger_of": [], "is_untagger_of": []}}
    narrow = provider.token("alice", scope=SCOPE_NS + "edit-compose")
    limited = await (await oidc_client.get("/api/1/userinfo", headers=bearer(narrow))).json()
    assert limited["permissions"]["can_create_compose"] is False
    assert limited["permissions"]["can_set_url"] is True


async def test_groups_claim_makes_a_tagger_and_others_get_403(
        oidc_client: TestClient, database_url: str, provider: Provider) -> None:
    admin = bearer(provider.token("admin"))
    created = await oidc_client.post(COMPOSE, json={"compose_info": compose_info()},
                                     headers=admin)
    assert created.status == 200
    compose_id = (await created.json())["payload"]["compose"]["id"]
    tag = await oidc_client.post("/api/1/tags/", headers=admin, json={
        "name": "qa-passed", "description": "QE passed", "documentation": "https://d"})
    assert tag.status == 200, await tag.text()
    grant = await oidc_client.patch("/api/1/tags/qa-passed", headers=admin, json={
        "action": "add_tagger", "group": "qe"})
    assert grant.status == 200
    tag_it = {"action": "tag", "tag": "qa-passed"}
    before = database_state(database_url)
    outsider = await oidc_client.patch(f"{COMPOSE}{compose_id}", json=tag_it,
                                       headers=bearer(provider.token("mallory")))
    assert outsider.status == 403
    assert 'does not have "taggers" permission' in (await outsider.json())["message"]
    assert database_state(database_url) == before
    member = await oidc_client.patch(f"{COMPOSE}{compose_id}", json=tag_it,
                                     headers=bearer(provider.token("bob", groups=["qe"])))
    assert member.status == 200 and (await member.json())["tags"] == ["qa-passed"]
    tag_history = await (await oidc_client.get("/api/1/tags/qa-passed/changes/")).json()
    assert {c["auth_backend"] for c in tag_history["changes"]} == {"oidc"}


def test_hand_built_none_token_is_really_unsigned() -> None:
    """Guard for the hand-built "alg none" token above: it really is unsigned."""
    token = unsigned({"sub": "x"}, {"alg": "none"})
    assert jwt.get_unverified_header(token)["alg"] == "none"
    assert token.endswith(".")


async def test_unreachable_identity_provider_answers_503_and_changes_nothing(
        aiohttp_client: Any, database_url: str) -> None:
    # A real outage: nothing listens on this port.
    settings = oidc_settings(database_url, f"http://127.0.0.1:{free_port()}/jwks")
    client = await aiohttp_client(create_app(settings))
    before = database_state(database_url)
    response = await client.post(COMPOSE, json={"compose_info": compose_info()},
                                 headers=bearer(Provider().token("alice")))
    body = await response.json()
    assert response.status == 503, body
    assert body["message"] == ("The identity provider's keys cannot be fetched now; "
                               "try again later")
    assert database_state(database_url) == before


async def test_without_jwks_url_the_keys_are_found_through_discovery(
        provider: Provider) -> None:
    keys = JwksCache("", cache_seconds=60, refetch_seconds=0, issuer=provider.base_url)
    try:
        assert (await keys.key("key-1")) is not None
    finally:
        await keys.close()
    # A discovery document that names another issuer is not believed.
    provider.discovery_issuer = "https://somebody-else.example.org/"
    forged = JwksCache("", cache_seconds=60, refetch_seconds=0, issuer=provider.base_url)
    try:
        with pytest.raises(KeysUnavailable):
            await forged.key("key-1")
    finally:
        await forged.close()
