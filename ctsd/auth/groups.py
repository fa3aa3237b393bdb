"""Where a user's groups come from: LDAP (cached briefly) and [auth.groups].

HTTP backends and the bus consumer both use `GroupResolver`, so a user has the same
groups however they reach us. For the consumer:

    resolver = group_resolver_from(settings)
    groups = await resolver.groups_for(broker_user_id)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars

from ctsd.auth.errors import AuthUnavailable
from ctsd.auth.settings import AuthConfigured, LdapSettings
from handlers.errors import NotAuthenticated
from handlers.usernames import username_problem

log = logging.getLogger(__name__)


class GroupsUnavailable(AuthUnavailable):
    """The group directory did not answer. Transient: retry later (HTTP answers 503).

    Guessing "no groups" instead would refuse group members as if they had no right.
    """


class LdapGroups:
    """Groups from an LDAP search, with the username escaped into the filter."""

    def __init__(self, config: LdapSettings) -> None:
        self._config = config
        self._server = ldap3.Server(config.server, connect_timeout=config.timeout_seconds)
        # Read once at start-up: a missing or unreadable file stops ctsd with the reason.
        self._bind: dict[str, str] = {}
        if config.bind_dn:
            password = Path(config.bind_password_file).read_text().strip()
            self._bind = {"user": config.bind_dn, "password": password}
        # username -> (monotonic expiry, groups)
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def groups_for(self, username: str) -> frozenset[str]:
        cached = self._cache.get(username)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        # ldap3 blocks: keep the event loop serving others meanwhile.
        groups = await asyncio.to_thread(self._search, username)
        self._cache[username] = (time.monotonic() + self._config.cache_ttl_seconds, groups)
        return groups

    def _search(self, username: str) -> frozenset[str]:
        config = self._config
        # The existing service put the username into the filter unescaped: "*)(uid=*"
        # would then match other people's groups.
        query = config.search_filter.replace("{username}", escape_filter_chars(username))
        try:
            with ldap3.Connection(self._server, auto_bind=True, read_only=True, **self._bind,
                                  # ldap3 packs this into a socket option: whole seconds.
                                  receive_timeout=max(1, round(config.timeout_seconds))
                                  ) as conn:
                conn.search(config.search_base, query, attributes=[config.group_attribute])
                return frozenset(_values(conn.response or [], config.group_attribute))
        except LDAPException as exc:
            log.warning("LDAP group lookup for %r failed: %s", username, exc)
            raise GroupsUnavailable("The group directory (LDAP) does not answer; try again "
                                    "later") from exc


def _values(entries: Iterable[dict[str, Any]], attribute: str) -> Iterable[str]:
    for entry in entries:
        if entry.get("type") != "searchResEntry":
            continue  # referrals carry no attributes
        value = entry.get("attributes", {}).get(attribute, [])
        yield from ([value] if isinstance(value, str) else value)


class GroupResolver:
    """A user's groups from every configured source (static table, LDAP)."""

    def __init__(self, static: dict[str, frozenset[str]] | None = None,
                 ldap: LdapGroups | None = None) -> None:
        self._static = static or {}
        self._ldap = ldap

    async def groups_for(self, username: str) -> frozenset[str]:
        """Raises GroupsUnavailable when LDAP is configured and does not answer, and
        NotAuthenticated for a username no backend may accept (handlers.usernames):
        every backend asks for the groups of the user it found before answering."""
        problem = username_problem(username)
        if problem:
            raise NotAuthenticated(problem)
        groups = self._static.get(username, frozenset())
        if self._ldap is not None:
            groups = groups | await self._ldap.groups_for(username)
        return groups


def group_resolver_from(settings: AuthConfigured) -> GroupResolver:
    ldap = LdapGroups(settings.auth.ldap) if settings.auth.ldap is not None else None
    return GroupResolver(dict(settings.auth.static_groups), ldap)
