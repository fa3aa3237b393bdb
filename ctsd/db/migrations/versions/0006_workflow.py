"""workflow: promotion requests, tag gates, removal and location history (issue #5)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:40:00.000000

Reserved in the revision line so that work on several issues can proceed side by side;
the revision is filled in by that work and stays empty until then.
"""

from __future__ import annotations

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
