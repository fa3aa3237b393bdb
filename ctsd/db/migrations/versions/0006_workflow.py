"""workflow: promotion requests, tag gates, removal and location history (issue #5)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 14:40:00.000000

New tables only; the existing ones are untouched. Composes that already have a URL get
it as their first recorded location (set when and by whom the compose was imported,
which is the best the old schema knows), so the location history is never empty for a
compose that has a location.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "promotion_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("compose_pk", sa.Integer(), nullable=False),
        sa.Column("from_state", sa.String(length=255), nullable=False),
        sa.Column("to_state", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("user_data", sa.Text(), nullable=True),
        sa.Column("decided_by", sa.String(length=255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("last_reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["compose_pk"], ["composes.pk"],
                                name="fk_promotion_requests_compose_pk_composes"),
        sa.PrimaryKeyConstraint("id", name="pk_promotion_requests"),
    )
    op.create_index("ix_promotion_requests_compose_pk", "promotion_requests",
                    ["compose_pk", "id"])
    op.create_index("ix_promotion_requests_state_id", "promotion_requests", ["state", "id"])
    op.create_table(
        "tag_gates",
        sa.Column("tag_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("other_tag_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["tag_id"], ["tags.id"], name="fk_tag_gates_tag_id_tags"),
        sa.ForeignKeyConstraint(["other_tag_id"], ["tags.id"],
                                name="fk_tag_gates_other_tag_id_tags"),
        sa.PrimaryKeyConstraint("tag_id", "kind", "other_tag_id", name="pk_tag_gates"),
    )
    op.create_table(
        "compose_locations",
        sa.Column("id", _BIG_ID, nullable=False),
        sa.Column("compose_pk", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["compose_pk"], ["composes.pk"],
                                name="fk_compose_locations_compose_pk_composes"),
        sa.PrimaryKeyConstraint("id", name="pk_compose_locations"),
    )
    op.create_index("ix_compose_locations_compose_pk", "compose_locations",
                    ["compose_pk", "id"])
    op.create_table(
        "removal_requests",
        sa.Column("compose_pk", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["compose_pk"], ["composes.pk"],
                                name="fk_removal_requests_compose_pk_composes"),
        sa.PrimaryKeyConstraint("compose_pk", name="pk_removal_requests"),
    )
    op.execute(
        'INSERT INTO compose_locations (compose_pk, url, time, "user") '
        "SELECT pk, compose_url, created_at, builder FROM composes "
        "WHERE compose_url IS NOT NULL ORDER BY pk"
    )


def downgrade() -> None:
    op.drop_table("removal_requests")
    op.drop_index("ix_compose_locations_compose_pk", table_name="compose_locations")
    op.drop_table("compose_locations")
    op.drop_table("tag_gates")
    op.drop_index("ix_promotion_requests_state_id", table_name="promotion_requests")
    op.drop_index("ix_promotion_requests_compose_pk", table_name="promotion_requests")
    op.drop_table("promotion_requests")
