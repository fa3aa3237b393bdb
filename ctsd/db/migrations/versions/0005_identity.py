"""identity: who changed what, and through which authentication backend (issue #4)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:40:00.000000

Every history row records the backend its user authenticated with (noauth, oidc,
proxy, cert, amqp, cli). Rows written before this revision keep NULL: how their user
authenticated was not recorded, and guessing would be false history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

HISTORY_TABLES = ("compose_changes", "tag_changes")


def upgrade() -> None:
    for table in HISTORY_TABLES:
        op.add_column(table, sa.Column("auth_backend", sa.String(50), nullable=True))


def downgrade() -> None:
    for table in HISTORY_TABLES:
        # Batch mode: SQLite before 3.35 cannot drop a column in place.
        with op.batch_alter_table(table) as batch:
            batch.drop_column("auth_backend")
