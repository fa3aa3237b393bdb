"""Alembic environment: runs migrations online over the blocking driver."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool, text

from ctsd.db.tables import metadata

config = context.config
MIGRATION_LOCK = 0x43545344  # "CTSD"


def run_migrations_online() -> None:
    connectable = engine_from_config(
        config.get_section(config.config_ini_section, {}),
        prefix="sqlalchemy.",
        poolclass=pool.NullPool,
    )
    with connectable.connect() as connection:
        if connection.dialect.name == "postgresql":
            # Several ctsd processes may start at once: one migrates, the others wait
            # and then find nothing left to do.
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK})
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            # SQLite cannot ALTER most things; batch mode rebuilds tables instead.
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()


run_migrations_online()
