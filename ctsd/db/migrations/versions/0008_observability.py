"""observability: trace context stored with outbox rows (issue #10)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 20:05:00.000000

Reserved in the revision line so that work on several issues can proceed side by side;
the revision is filled in by that work and stays empty until then.
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
