"""contents lookups: index-only digest lookups on import; compose_rpm_ids for containment

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 16:10:00.000000

1. An import looks up the ~35,000 distinct entries of a compose by digest. With the id
   in the index (PostgreSQL INCLUDE) that is an index-only scan: at 2,000 composes
   90 ms with a cold cache, against 466 ms when every match also read its heap page.
   The unique constraint becomes a unique index (ON CONFLICT (digest) still infers
   it); on SQLite, which has no INCLUDE, a plain unique index. Building it locks
   `rpms` against writes for a few seconds at 2,000 composes (~1.5 M rows).
2. `compose_rpm_ids` (one array of every distinct rpm id per compose, filled here from
   compose_rpm_sets) takes over the GIN index from compose_rpm_sets: a hit is then a
   row of a tiny heap instead of a set row of a 64 MB one (see ctsd.db.contents_tables),
   probed through the function cts_composes_holding (why a function: below).
   The GIN index has fastupdate = off: with its pending list (up to 4 MB) every probe
   also scanned the list (a package's history, one probe per rpm row: 197 ms instead
   of 58 ms at 2,000 composes), and every few imports one paid for merging it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_BACKFILL_PG = """
INSERT INTO compose_rpm_ids (compose_pk, rpm_ids)
SELECT compose_pk, array_agg(DISTINCT id ORDER BY id)
FROM compose_rpm_sets CROSS JOIN unnest(rpm_ids) AS id GROUP BY compose_pk
"""
_BACKFILL_SQLITE = """
INSERT INTO compose_rpm_ids (compose_pk, rpm_ids)
SELECT compose_pk, json_group_array(id) FROM (
    SELECT DISTINCT s.compose_pk AS compose_pk, j.value AS id
    FROM compose_rpm_sets AS s, json_each(s.rpm_ids) AS j ORDER BY 1, 2)
GROUP BY compose_pk
"""


# The GIN probe as a function that can only be a bitmap scan (sequential and plain
# index scans off): compose_rpm_ids has a tiny heap (its arrays are TOASTed), so the
# planner, which does not count detoasting, preferred a sequential scan that detoasted
# every compose's 136 KB array per probe (2.9 s for a package history at 200
# composes); a walk of the primary key filtering each row would be as bad. A function
# with SET clauses is never inlined, so the settings hold for this statement only.
_HOLDING = """
CREATE FUNCTION cts_composes_holding(ids integer[]) RETURNS SETOF integer
LANGUAGE sql STABLE PARALLEL SAFE ROWS 100
SET enable_seqscan = off SET enable_indexscan = off
AS 'SELECT compose_pk FROM compose_rpm_ids WHERE rpm_ids && ids'
"""


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    with op.batch_alter_table("rpms") as batch:
        batch.drop_constraint("uq_rpms_digest", type_="unique")
    op.create_index("ix_rpms_digest", "rpms", ["digest"], unique=True,
                    postgresql_include=["id"])
    op.create_table(
        "compose_rpm_ids",
        sa.Column("compose_pk", sa.Integer(), nullable=False),
        sa.Column("rpm_ids", postgresql.ARRAY(sa.Integer()) if is_pg else sa.Text(),
                  nullable=False),
        sa.ForeignKeyConstraint(["compose_pk"], ["composes.pk"],
                                name="fk_compose_rpm_ids_compose_pk_composes"),
        sa.PrimaryKeyConstraint("compose_pk", name="pk_compose_rpm_ids"),
    )
    op.execute(_BACKFILL_PG if is_pg else _BACKFILL_SQLITE)
    op.drop_index("ix_compose_rpm_sets_rpm_ids", table_name="compose_rpm_sets")
    # Built after the backfill: one bulk build rather than row by row.
    op.create_index("ix_compose_rpm_ids_rpm_ids", "compose_rpm_ids", ["rpm_ids"],
                    postgresql_using="gin", postgresql_with={"fastupdate": "off"},
                    sqlite_where=sa.text("0"))
    if is_pg:
        op.execute(_HOLDING)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION cts_composes_holding(integer[])")
    op.create_index("ix_compose_rpm_sets_rpm_ids", "compose_rpm_sets", ["rpm_ids"],
                    postgresql_using="gin", sqlite_where=sa.text("0"))
    op.drop_index("ix_compose_rpm_ids_rpm_ids", table_name="compose_rpm_ids")
    op.drop_table("compose_rpm_ids")
    op.drop_index("ix_rpms_digest", table_name="rpms")
    with op.batch_alter_table("rpms") as batch:
        batch.create_unique_constraint("uq_rpms_digest", ["digest"])
