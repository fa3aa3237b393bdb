"""Migrations on a real PostgreSQL database and on a SQLite file.

The stairway test walks every revision in order: upgrade to it, downgrade one step,
upgrade again. That catches downgrades that do not undo their upgrade (a leftover index
or table makes the second upgrade fail) and revisions that only work on an empty schema.
The final check proves the migrations build exactly the schema `ctsd.db.tables` declares.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine

from ctsd.config import Settings
from ctsd.db import migrate
from ctsd.db.tables import metadata


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return Settings(database_url=f"sqlite:///{tmp_path / 'stairway.sqlite'}")
    return Settings(database_url=request.getfixturevalue("pg_database_url"))


@pytest.fixture
def engine(empty_database: Settings) -> Iterator[Engine]:
    engine = create_engine(empty_database.sync_database_url)
    yield engine
    engine.dispose()


def revisions(settings: Settings) -> list[Script]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(migrate.alembic_config(settings))
    return list(reversed(list(script.walk_revisions("base", "heads"))))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def test_revisions_form_one_line_with_one_head(empty_database):
    script = ScriptDirectory.from_config(migrate.alembic_config(empty_database))
    assert len(script.get_heads()) == 1
    steps = revisions(empty_database)
    assert steps[0].down_revision is None
    for previous, step in itertools.pairwise(steps):
        assert step.down_revision == previous.revision


def test_stairway_upgrade_downgrade_upgrade_every_revision(empty_database, engine):
    steps = revisions(empty_database)
    assert steps, "no migrations found"
    assert tables(engine) == set()
    for step in steps:
        migrate.upgrade(empty_database, step.revision)
        assert current_revision(engine) == step.revision
        schema_after_upgrade = _schema(engine)

        migrate.downgrade(empty_database, step.down_revision or "base")
        assert current_revision(engine) == step.down_revision
        if step.down_revision is None:
            assert tables(engine) == set(), "downgrade to base left tables behind"

        migrate.upgrade(empty_database, step.revision)
        assert current_revision(engine) == step.revision
        assert _schema(engine) == schema_after_upgrade

    migrate.downgrade(empty_database, "base")
    assert tables(engine) == set()
    assert current_revision(engine) is None


def test_migrated_schema_matches_the_table_definitions(empty_database, engine):
    migrate.upgrade(empty_database)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    assert differences == []
    assert tables(engine) == set(metadata.tables)


def test_upgrade_to_head_twice_is_a_no_op(empty_database, engine):
    migrate.upgrade(empty_database)
    schema = _schema(engine)
    migrate.upgrade(empty_database)
    assert _schema(engine) == schema
    assert current_revision(engine) == revisions(empty_database)[-1].revision


def _schema(engine: Engine) -> dict[str, tuple[list[str], list[str]]]:
    """Tables with their column and index names: enough to see a step not undone."""
    inspector = inspect(engine)
    return {
        name: (
            [column["name"] for column in inspector.get_columns(name)],
            sorted(str(index["name"]) for index in inspector.get_indexes(name)),
        )
        for name in sorted(tables(engine))
    }
