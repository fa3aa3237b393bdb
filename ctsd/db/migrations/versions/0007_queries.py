"""queries: indexes for the latest-match, stream-neighbour and keyset queries (issue #5)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25 14:40:00.000000

The latest compose and a compose's stream neighbours are found by walking
(date, respin, pk) newest first, over all composes or within one release stream
(release short and version, type). Keyset pages of the list reuse the sort indexes of
0003. Mirrored in ctsd.db.tables.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEXES = {
    "ix_composes_date_respin_pk": ["date", "respin", "pk"],
    "ix_composes_stream": ["release_short", "release_version", "type", "date", "respin",
                           "pk"],
}


def upgrade() -> None:
    for name, columns in _INDEXES.items():
        op.create_index(name, "composes", columns, unique=False)


def downgrade() -> None:
    for name in _INDEXES:
        op.drop_index(name, table_name="composes")
