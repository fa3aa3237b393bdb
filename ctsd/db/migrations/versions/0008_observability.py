"""observability: trace context stored with outbox rows (issue #10)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:05:00.000000

Every outbox row keeps the W3C `traceparent` of the change that wrote it (NULL when
that change was not traced), so the relay can continue the writer's trace when it
publishes, and the event feed can show it. Mirrored in ctsd.db.tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable, no default: adding it rewrites nothing, whatever the outbox holds.
    op.add_column("outbox", sa.Column("traceparent", sa.String(255)))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("traceparent")
