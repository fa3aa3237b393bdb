"""compose lifecycle: build status and removal

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns with no default: PostgreSQL adds them without rewriting the table;
    # batch mode lets SQLite (which cannot drop columns in old versions) take the same path.
    with op.batch_alter_table('composes', schema=None) as batch_op:
        batch_op.add_column(sa.Column('build_status', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('removed_reason', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('composes', schema=None) as batch_op:
        batch_op.drop_column('removed_reason')
        batch_op.drop_column('removed_at')
        batch_op.drop_column('build_status')
