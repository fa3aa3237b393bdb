"""contents: RPMs, images, variants and architectures of composes, durable fetch jobs (issue #12)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 20:05:00.000000

Reserved in the revision line so that work on several issues can proceed side by side;
the revision is filled in by that work and stays empty until then.
"""

from __future__ import annotations

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
