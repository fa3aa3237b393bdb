"""compose date counts: exact list totals without counting composes (issue #14)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 16:10:00.000000

Creates compose_date_counts (ctsd.db.count_tables explains it) and, on PostgreSQL, the
trigger that keeps it exact, then fills it from the composes already there. The trigger
is created before the fill and in the same transaction: CREATE TRIGGER locks composes
against writes until this migration commits, so no compose is missed or counted twice.

On SQLite the table is created (the schema is the same everywhere) but not maintained:
the embedded database is small enough to count, and a later batch migration of composes
would silently drop SQLite triggers (it recreates the table).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# Deferred: the counter row is locked from its upsert to the end of the commit, so
# concurrent imports of one date and slot queue for a commit's length only. The slot is
# the backend's pid modulo 16: one connection runs one transaction at a time.
_FOLLOW = """
CREATE FUNCTION compose_date_counts_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    my_slot smallint := pg_backend_pid() % 16;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO compose_date_counts AS counted (date, slot, n)
        VALUES (OLD.date, my_slot, -1)
        ON CONFLICT (date, slot) DO UPDATE SET n = counted.n - 1;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO compose_date_counts AS counted (date, slot, n)
        VALUES (NEW.date, my_slot, 1)
        ON CONFLICT (date, slot) DO UPDATE SET n = counted.n + 1;
    END IF;
    RETURN NULL;
END $$
"""
_TRUNCATE = """
CREATE FUNCTION compose_date_counts_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE compose_date_counts;
    RETURN NULL;
END $$
"""
_TRIGGERS = [
    """CREATE CONSTRAINT TRIGGER composes_date_counted
       AFTER INSERT OR DELETE OR UPDATE OF date ON composes
       DEFERRABLE INITIALLY DEFERRED
       FOR EACH ROW EXECUTE FUNCTION compose_date_counts_follow()""",
    # Row triggers do not see a TRUNCATE; without this the counts would outlive the rows.
    """CREATE TRIGGER composes_truncated AFTER TRUNCATE ON composes
       FOR EACH STATEMENT EXECUTE FUNCTION compose_date_counts_truncate()""",
]
_FILL = """
INSERT INTO compose_date_counts (date, slot, n)
SELECT date, 0, count(*) FROM composes GROUP BY date
"""


def upgrade() -> None:
    op.create_table(
        "compose_date_counts",
        sa.Column("date", sa.String(8), nullable=False),
        sa.Column("slot", sa.SmallInteger(), nullable=False),
        sa.Column("n", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("date", "slot", name="pk_compose_date_counts"),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    for statement in (_FOLLOW, _TRUNCATE, *_TRIGGERS, _FILL):
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER composes_truncated ON composes")
        op.execute("DROP TRIGGER composes_date_counted ON composes")
        op.execute("DROP FUNCTION compose_date_counts_truncate()")
        op.execute("DROP FUNCTION compose_date_counts_follow()")
    op.drop_table("compose_date_counts")
