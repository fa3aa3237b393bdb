"""identity: who changed what, and through which authentication backend (issue #4)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 14:40:00.000000

Reserved in the revision line so that work on several issues can proceed side by side;
the revision is filled in by that work and stays empty until then.
"""

from __future__ import annotations

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
