"""Groups from a real LDAP server (Debian's slapd, started per test on a free port).

Without slapd these tests skip, except under CI=true where they fail
(scripts/ensure-services.sh installs it).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ctsd.api.app import create_app
from ctsd.auth.groups import GroupsUnavailable, LdapGroups, group_resolver_from
from ctsd.auth.settings import AuthConfigError, LdapSettings, auth_settings_from_toml
from ctsd.config import Principals, Settings
from handlers.identity import Actor
from tests.auth_support import ADMIN_DN, ADMIN_PASSWORD, Slapd, database_state
from tests.integration.test_auth_proxy import as_user, setup_tag

COMPOSE = "/api/1/composes/"


@pytest.fixture
def slapd(tmp_path: Path) -> Iterator[Slapd]:
    server = Slapd(tmp_path / "slapd")
    server.start()
    yield server
    server.stop()


def ldap_groups(slapd: Slapd, **overrides: Any) -> LdapGroups:
    return LdapGroups(LdapSettings(**slapd.ldap_table(**overrides)))


async def test_groups_come_from_the_directory(slapd: Slapd) -> None:
    groups = ldap_groups(slapd)
    assert await groups.groups_for("bob") == {"qe-team", "releng"}
    assert await groups.groups_for("carol") == {"releng"}
    assert await groups.groups_for("nobody") == frozenset()


@pytest.mark.parametrize("username", ["*", "b*", "x)(memberUid=*", "bob)(|(cn=*"])
async def test_filter_characters_in_a_username_match_nobody_elses_groups(
        slapd: Slapd, username: str) -> None:
    # Unescaped, each of these would match bob's groups (or every group).
    assert await ldap_groups(slapd).groups_for(username) == frozenset()


async def test_bus_actor_gets_ldap_and_static_groups(slapd: Slapd) -> None:
    settings = Settings(auth=auth_settings_from_toml({
        "ldap": slapd.ldap_table(), "groups": {"carol": ["admins-of-tags"]}}))
    resolver = group_resolver_from(settings)
    # As the consumer builds it (ctsd/consumer/runner.py): the broker user, its groups.
    actor = Actor("carol", await resolver.groups_for("carol"), backend="amqp")
    assert actor.username == "carol" and actor.backend == "amqp"
    assert actor.groups == {"releng", "admins-of-tags"}


async def test_results_are_cached_for_the_ttl(slapd: Slapd) -> None:
    cached = ldap_groups(slapd, cache_ttl_seconds=300)
    uncached = ldap_groups(slapd, cache_ttl_seconds=0)
    assert await cached.groups_for("bob") == await uncached.groups_for("bob")
    slapd.stop()
    assert await cached.groups_for("bob") == {"qe-team", "releng"}
    with pytest.raises(GroupsUnavailable):
        await uncached.groups_for("bob")


def ldap_proxy_settings(database_url: str, slapd: Slapd, **ldap: Any) -> Settings:
    return Settings(
        database_url=database_url, auth_backend="proxy",
        trusted_proxies=frozenset({"127.0.0.0/8"}),
        auth=auth_settings_from_toml({"ldap": slapd.ldap_table(**ldap)}),
        admins=Principals(users=frozenset({"admin"})),
    )


async def test_ldap_group_makes_a_tagger(aiohttp_client: Any, database_url: str,
                                         slapd: Slapd) -> None:
    client = await aiohttp_client(create_app(ldap_proxy_settings(database_url, slapd)))
    compose_id = await setup_tag(client)  # tagger group: qe-team
    tag_it = {"action": "tag", "tag": "qa-passed"}
    before = database_state(database_url)
    refused = await client.patch(f"{COMPOSE}{compose_id}", json=tag_it,
                                 headers=as_user("carol"))  # releng only
    assert refused.status == 403
    assert database_state(database_url) == before
    tagged = await client.patch(f"{COMPOSE}{compose_id}", json=tag_it,
                                headers=as_user("dave"))  # qe-team in LDAP
    assert tagged.status == 200, await tagged.text()
    changes = await (await client.get(f"{COMPOSE}{compose_id}/changes/")).json()
    assert changes["changes"][-1]["user"] == "dave"
    assert changes["changes"][-1]["auth_backend"] == "proxy"


async def test_ldap_outage_answers_503_and_changes_nothing(
        aiohttp_client: Any, database_url: str, slapd: Slapd) -> None:
    client = await aiohttp_client(create_app(
        ldap_proxy_settings(database_url, slapd, cache_ttl_seconds=0, timeout_seconds=2)))
    compose_id = await setup_tag(client)
    slapd.stop()  # a real outage: nothing listens on its port any more
    before = database_state(database_url)
    response = await client.patch(f"{COMPOSE}{compose_id}", headers=as_user("dave"),
                                  json={"action": "tag", "tag": "qa-passed"})
    body = await response.json()
    assert response.status == 503, body
    assert body["message"] == "The group directory (LDAP) does not answer; try again later"
    assert database_state(database_url) == before
    # Anonymous reads need no groups and keep working.
    assert (await client.get(COMPOSE)).status == 200


async def test_a_configured_bind_dn_and_password_file_are_used(slapd: Slapd,
                                                              tmp_path: Path) -> None:
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.write_text(ADMIN_PASSWORD + "\n")  # a trailing newline, as editors leave it
    bad.write_text("not-the-password")
    bound = ldap_groups(slapd, bind_dn=ADMIN_DN, bind_password_file=str(good))
    assert await bound.groups_for("bob") == {"qe-team", "releng"}
    # The credentials really are sent: a wrong password is refused by the directory,
    # which is an outage for callers (503), not "no groups".
    wrong = ldap_groups(slapd, bind_dn=ADMIN_DN, bind_password_file=str(bad))
    with pytest.raises(GroupsUnavailable):
        await wrong.groups_for("bob")


def test_bind_dn_without_a_password_file_is_refused(slapd: Slapd) -> None:
    with pytest.raises(AuthConfigError, match="bind_dn and bind_password_file"):
        auth_settings_from_toml({"ldap": slapd.ldap_table(bind_dn=ADMIN_DN)})
