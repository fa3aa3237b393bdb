"""covering list indexes; outbox NOTIFY from a trigger

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:30:00.000000

The sort indexes of the list API carry pk, so deep pages are index-only scans on
PostgreSQL. New outbox rows NOTIFY relays from a statement trigger, which saves every
writing transaction a round trip (the unit of work used to call pg_notify itself).
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_OLD = {
    "ix_composes_date_compose_id": ["date", "compose_id"],
    "ix_composes_release_short_date": ["release_short", "date", "compose_id"],
    "ix_composes_release_version_key": ["release_version_key"],
}
_NEW = {
    "ix_composes_date_compose_id": ["date", "compose_id"],
    "ix_composes_release_short_date": ["release_short", "date", "compose_id"],
    "ix_composes_release_version_key": ["release_version_key", "compose_id"],
}


def _recreate(columns_by_name: dict[str, list[str]], include: list[str] | None) -> None:
    with op.batch_alter_table("composes", schema=None) as batch_op:
        for name, columns in columns_by_name.items():
            batch_op.drop_index(name)
            batch_op.create_index(name, columns, unique=False, postgresql_include=include or [])


def upgrade() -> None:
    _recreate(_NEW, ["pk"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION cts_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN PERFORM pg_notify('cts_outbox', ''); RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox "
            "FOR EACH STATEMENT EXECUTE FUNCTION cts_outbox_notify()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbox_notify ON outbox")
        op.execute("DROP FUNCTION cts_outbox_notify()")
    _recreate(_OLD, None)
