"""input hardening: checks that keep every input a 4xx (issue #15)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 20:05:00.000000

Reserved in the revision line so that work on several issues can proceed side by side;
the revision is filled in by that work and stays empty until then.
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
