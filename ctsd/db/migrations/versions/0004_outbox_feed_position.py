"""outbox: the event feed's commit-safe position

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:00:00.000000

`GET /api/1/events/` pages through the outbox. Row ids are handed out at insert, but
transactions commit in any order, so "id > cursor" would skip a row whose lower id
commits after a higher one was served. On PostgreSQL each row therefore records
`feed_xid`: the greater of its own transaction id and the latest transaction id that had
ended when the row was written. The feed orders by (feed_xid, id) and serves only rows
whose feed_xid is below the oldest running transaction (see ctsd/api/events.py).

Stored as bigint (the 64-bit, epoch-extended xid8 value cast through text): ordinary
integers compare and index everywhere, and schema comparison needs no custom type.
Rows written before this revision all get the value of the migrating transaction, which
orders them by id ahead of every later row. The default uses only stable functions, so
PostgreSQL adds the column without rewriting the table.

SQLite has one writer at a time and ids commit in order: the column stays NULL there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FEED_XID_DEFAULT = (
    "GREATEST(pg_current_xact_id()::text::bigint, "
    "pg_snapshot_xmax(pg_current_snapshot())::text::bigint - 1)"
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.add_column("outbox", sa.Column("feed_xid", sa.BigInteger(), nullable=True,
                                          server_default=sa.text(FEED_XID_DEFAULT)))
        op.create_index("ix_outbox_feed", "outbox", ["feed_xid", "id"], unique=False)
        return
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("feed_xid", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_outbox_feed", ["feed_xid", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_feed")
        batch_op.drop_column("feed_xid")
