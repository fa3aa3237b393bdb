"""Migration 0014 on stored contents (PostgreSQL and SQLite): every compose's rpm sets
become one ascending list of its distinct rpm ids in compose_rpm_ids, and downgrading
removes the list again. The stairway test only walks empty tables."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, text

from ctsd.config import Settings
from ctsd.db import migrate
from ctsd.db.tables import composes
from handlers.composeinfo import parse_compose_info
from tests.conftest import compose_info

SETS = [("BaseOS", "binary", [3, 1, 2]), ("BaseOS", "source", [2, 5])]


@pytest.fixture(params=["postgresql", "sqlite"])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    if request.param == "sqlite":
        yield Settings(database_url=f"sqlite:///{tmp_path / 'contents.sqlite'}")
    else:
        yield Settings(database_url=request.getfixturevalue("pg_database_url"))


def test_rpm_sets_become_one_id_list_per_compose(settings):
    migrate.upgrade(settings, "0011")
    engine = create_engine(settings.sync_database_url)
    is_pg = engine.dialect.name == "postgresql"
    info = compose_info()
    with engine.begin() as conn:
        pk = conn.execute(composes.insert().values(
            **parse_compose_info(info).columns(), builder="t", compose_info=json.dumps(info),
            created_at=datetime.now(UTC)).returning(composes.c.pk)).scalar_one()
        for variant, category, ids in SETS:
            conn.execute(text(
                "INSERT INTO compose_rpm_sets VALUES (:pk, :variant, 'x86_64', :category, "
                ":count, :ids)"), {"pk": pk, "variant": variant, "category": category,
                                   "count": len(ids), "ids": ids if is_pg else json.dumps(ids)})
    migrate.upgrade(settings)
    with engine.connect() as conn:
        stored = conn.execute(text("SELECT compose_pk, rpm_ids FROM compose_rpm_ids")).all()
    assert [(row[0], row[1] if is_pg else json.loads(row[1])) for row in stored] == \
        [(pk, [1, 2, 3, 5])]
    migrate.downgrade(settings, "0011")
    assert "compose_rpm_ids" not in inspect(engine).get_table_names()
    engine.dispose()
