"""contents indexes: index-only digest lookups on import; a GIN index without pending list

Revision ID: 0014
Revises: 0011
Create Date: 2026-12-06 16:10:00.000000

1. An import looks up the ~35,000 distinct entries of a compose by digest. With the id
   in the index (PostgreSQL INCLUDE) that is an index-only scan: at 2,000 composes
   90 ms with a cold cache, against 466 ms when every match also read its heap page.
   The unique constraint becomes a unique index (ON CONFLICT (digest) still infers
   it); on SQLite, which has no INCLUDE, a plain unique index. Building it locks
   `rpms` against writes for a few seconds at 2,000 composes (~1.5 M rows).
2. The GIN index on compose_rpm_sets.rpm_ids gets fastupdate = off. With its pending
   list (up to 4 MB) every probe also scanned the list: a package's history, one probe
   per rpm row, took 197 ms instead of 58 ms at 2,000 composes, and every few imports
   one of them paid for merging the whole list. Without it an import inserts its
   ~50,000 ids at once: ~0.2 s more per import (1.06 s against 0.85 s measured).
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0011"
branch_labels = None
depends_on = None

_GIN = "ix_compose_rpm_sets_rpm_ids"


def upgrade() -> None:
    with op.batch_alter_table("rpms") as batch:
        batch.drop_constraint("uq_rpms_digest", type_="unique")
    op.create_index("ix_rpms_digest", "rpms", ["digest"], unique=True,
                    postgresql_include=["id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX {_GIN} SET (fastupdate = off)")
        # What waits in the list is merged now, not at the next vacuum.
        op.execute(f"SELECT gin_clean_pending_list('{_GIN}')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER INDEX {_GIN} RESET (fastupdate)")
    op.drop_index("ix_rpms_digest", table_name="rpms")
    with op.batch_alter_table("rpms") as batch:
        batch.create_unique_constraint("uq_rpms_digest", ["digest"])
