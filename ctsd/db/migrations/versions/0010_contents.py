"""contents: RPMs, images, variants and architectures of composes, durable fetch jobs (issue #12)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 20:05:00.000000

Creates the tables of ctsd.db.contents_tables (its docstring explains the storage
design) and fills compose_variant_arches from the ComposeInfo of existing composes.
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TABLES = ("contents_fetch_jobs", "compose_variant_arches", "compose_images",
           "compose_contents", "compose_rpm_sets", "rpms")


def upgrade() -> None:
    _create_rpms()
    _create_sets_and_contents()
    _create_images_and_variants()
    _create_fetch_jobs()
    _backfill_variant_arches()


def _create_rpms() -> None:
    op.create_table(
        "rpms",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("digest", sa.LargeBinary(16), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(255), nullable=False),
        sa.Column("release", sa.String(255), nullable=False),
        sa.Column("arch", sa.String(20), nullable=False),
        sa.Column("sigkey", sa.String(64)),
        sa.Column("category", sa.String(10), nullable=False),
        sa.Column("srpm_name", sa.String(255), nullable=False),
        sa.Column("srpm_epoch", sa.Integer(), nullable=False),
        sa.Column("srpm_version", sa.String(255), nullable=False),
        sa.Column("srpm_release", sa.String(255), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rpms"),
        sa.UniqueConstraint("digest", name="uq_rpms_digest"),
    )
    op.create_index("ix_rpms_nvr", "rpms", ["name", "version", "release"])
    op.create_index("ix_rpms_srpm_nvr", "rpms", ["srpm_name", "srpm_version", "srpm_release"])


def _create_sets_and_contents() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "compose_rpm_sets",
        sa.Column("compose_pk", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("arch", sa.String(20), nullable=False),
        sa.Column("category", sa.String(10), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("rpm_ids", postgresql.ARRAY(sa.Integer()) if is_pg else sa.Text(),
                  nullable=False),
        sa.ForeignKeyConstraint(["compose_pk"], ["composes.pk"],
                                name="fk_compose_rpm_sets_compose_pk_composes"),
        sa.PrimaryKeyConstraint("compose_pk", "variant", "arch", "category",
                                name="pk_compose_rpm_sets"),
    )
    op.create_index("ix_compose_rpm_sets_rpm_ids", "compose_rpm_sets", ["rpm_ids"],
                    postgresql_using="gin", sqlite_where=sa.text("0"))
    op.create_table(
        "compose_contents",
        sa.Column("compose_pk", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(255), nullable=False),
        sa.ForeignKeyConstraint(["compose_pk"], ["composes.pk"],
                                name="fk_compose_contents_compose_pk_composes"),
        sa.PrimaryKeyConstraint("compose_pk", "kind", name="pk_compose_contents"),
    )


def _create_images_and_variants() -> None:
    op.create_table(
        "compose_images",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("compose_pk", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("arch", sa.String(20), nullable=False),
        sa.Column("type", sa.String(50), nullable=False),
        sa.Column("format", sa.String(50), nullable=False),
        sa.Column("subvariant", sa.String(100), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("identity", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["compose_pk"], ["composes.pk"],
                                name="fk_compose_images_compose_pk_composes"),
        sa.PrimaryKeyConstraint("id", name="pk_compose_images"),
    )
    op.create_index("ix_compose_images_compose_pk", "compose_images",
                    ["compose_pk", "variant", "arch", "id"])
    op.create_table(
        "compose_variant_arches",
        sa.Column("compose_pk", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(100), nullable=False),
        sa.Column("arch", sa.String(20), nullable=False),
        sa.ForeignKeyConstraint(["compose_pk"], ["composes.pk"],
                                name="fk_compose_variant_arches_compose_pk_composes"),
        sa.PrimaryKeyConstraint("compose_pk", "variant", "arch",
                                name="pk_compose_variant_arches"),
    )
    op.create_index("ix_compose_variant_arches_variant", "compose_variant_arches",
                    ["variant", "arch", "compose_pk"])
    op.create_index("ix_compose_variant_arches_arch", "compose_variant_arches",
                    ["arch", "compose_pk"])


def _create_fetch_jobs() -> None:
    op.create_table(
        "contents_fetch_jobs",
        sa.Column("compose_pk", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True)),
        sa.Column("leased_by", sa.String(255)),
        sa.Column("last_error", sa.Text()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["compose_pk"], ["composes.pk"],
                                name="fk_contents_fetch_jobs_compose_pk_composes"),
        sa.PrimaryKeyConstraint("compose_pk", name="pk_contents_fetch_jobs"),
    )
    op.create_index("ix_contents_fetch_jobs_due", "contents_fetch_jobs",
                    ["state", "next_attempt_at"])


def _backfill_variant_arches() -> None:
    bind = op.get_bind()
    target = sa.table("compose_variant_arches", sa.column("compose_pk"),
                      sa.column("variant"), sa.column("arch"))
    rows = bind.execute(sa.text("SELECT pk, compose_info FROM composes"))
    batch: list[dict[str, object]] = []
    for pk, compose_info in rows:
        batch.extend({"compose_pk": pk, "variant": variant, "arch": arch}
                     for variant, arch in variant_arches(json.loads(compose_info)))
        if len(batch) >= 5000:
            bind.execute(sa.insert(target), batch)
            batch = []
    if batch:
        bind.execute(sa.insert(target), batch)


def variant_arches(compose_info: dict[str, object]) -> set[tuple[str, str]]:
    """(variant uid, arch) pairs of a serialised ComposeInfo, nested variants included.
    A copy of handlers.contents_parse.variant_arches: migrations must not import code
    that may change after them."""
    payload = compose_info.get("payload")
    variants = payload.get("variants") if isinstance(payload, dict) else None
    found: set[tuple[str, str]] = set()
    if isinstance(variants, dict):
        for variant in variants.values():
            if isinstance(variant, dict) and isinstance(variant.get("uid"), str):
                for arch in variant.get("arches") or []:
                    if isinstance(arch, str):
                        found.add((variant["uid"][:100], arch[:20]))
    return found


def downgrade() -> None:
    for name in _TABLES:
        op.drop_table(name)
