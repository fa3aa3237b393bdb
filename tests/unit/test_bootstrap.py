"""The composition root: every entry point gets the same write path, and the consumer
does not load the HTTP API to get it."""

from __future__ import annotations

import subprocess
import sys

from ctsd.bootstrap import open_write_path, roles_from
from ctsd.config import Principals, Settings
from ctsd.db.respins import InTransactionRespins, SeparateTransactionRespins
from handlers.identity import Actor


def test_the_consumer_imports_no_http_module():
    probe = ("import sys, ctsd.consumer, ctsd.bootstrap; "
             "print(sorted(m for m in sys.modules if m.startswith('ctsd.api')))")
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                            text=True).stdout.strip()
    assert loaded == "[]"


async def test_postgresql_gets_the_separate_respin_allocator():
    # Engines connect lazily: nothing here needs a running PostgreSQL.
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    async with open_write_path(settings) as write_path:
        assert isinstance(write_path.bus.respins, SeparateTransactionRespins)


async def test_the_consumer_asks_for_gapless_respins_even_on_postgresql():
    settings = Settings(database_url="postgresql://nobody@127.0.0.1:1/none")
    async with open_write_path(settings, gapless_respins=True) as write_path:
        assert isinstance(write_path.bus.respins, InTransactionRespins)


async def test_sqlite_allocates_respins_in_the_import_transaction(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cts.sqlite'}")
    async with open_write_path(settings) as write_path:
        assert isinstance(write_path.bus.respins, InTransactionRespins)
        assert write_path.bus.topic_prefix == settings.topic_prefix


def test_roles_come_from_the_configured_principals():
    settings = Settings(admins=Principals(groups=frozenset({"release"})),
                        allowed_builders=Principals(users=frozenset({"pungi"})))
    roles = roles_from(settings)
    assert roles.is_admin(Actor("carol", groups=frozenset({"release"})))
    assert roles.can_create_compose(Actor("pungi"))
    assert not roles.can_create_compose(Actor("mallory"))
