"""rendered answers: each compose's v1 answer stored with it (issue #14)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 16:20:00.000000

`composes.rendered` holds the compose's answer as JSON, kept current by the write path
in the same transaction as each change (ctsd.db.rendering). Existing rows start NULL:
readers render those live, exactly as before, until their next change. Mirrored in
ctsd.db.tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites no row, however many composes there are.
    op.add_column("composes", sa.Column("rendered", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("composes") as batch:
        batch.drop_column("rendered")
