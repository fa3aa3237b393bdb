"""Fixtures for handler tests: an empty in-memory database, configured roles, callers."""

from __future__ import annotations

import pytest

from handlers.identity import Actor, PrincipalSet, Roles
from tests.unit.fakes import FakeDatabase

ROLES = Roles(
    admins=PrincipalSet(users=frozenset({"admin"}), groups=frozenset({"release-admins"})),
    allowed_builders=PrincipalSet(users=frozenset({"pungi"}), groups=frozenset({"builders"})),
)

ADMIN = Actor("admin")
GROUP_ADMIN = Actor("carol", groups=frozenset({"release-admins"}))
BUILDER = Actor("pungi")
GROUP_BUILDER = Actor("odcs", groups=frozenset({"builders"}))
# Per-tag roles are granted by the tests that need them.
ALICE = Actor("alice", groups=frozenset({"staff"}))
BOB = Actor("bob", groups=frozenset({"qe"}))
MALLORY = Actor("mallory", groups=frozenset({"staff"}))


@pytest.fixture
def db() -> FakeDatabase:
    return FakeDatabase()
