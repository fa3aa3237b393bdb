"""The relational schema. Alembic migrations create exactly these tables.

Every filter and sort the list API offers has an index, because the existing service
had none and its deep pages crawled.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from ctsd.db.metadata import metadata

# SQLite only auto-increments INTEGER PRIMARY KEY, so BigInteger falls back to Integer there.
BigId = BigInteger().with_variant(Integer(), "sqlite")

composes = Table(
    "composes",
    metadata,
    Column("pk", Integer, primary_key=True),
    Column("compose_id", String(255), nullable=False, unique=True),
    Column("date", String(8), nullable=False),
    Column("respin", Integer, nullable=False),
    Column("type", String(20), nullable=False),
    Column("label", String(100)),
    Column("final", Boolean, nullable=False, default=False),
    Column("release_name", String(255), nullable=False),
    Column("release_short", String(100), nullable=False),
    Column("release_version", String(100), nullable=False),
    # release_version with every number zero-padded, so "8.10" sorts after "8.9".
    Column("release_version_key", String(255), nullable=False),
    Column("release_is_layered", Boolean, nullable=False, default=False),
    Column("release_type", String(20), nullable=False),
    Column("release_internal", Boolean, nullable=False, default=False),
    Column("base_product_name", String(255)),
    Column("base_product_short", String(100)),
    Column("base_product_version", String(100)),
    Column("base_product_type", String(20)),
    Column("builder", String(255), nullable=False),
    Column("compose_url", Text),
    Column("respin_of_pk", Integer, ForeignKey("composes.pk")),
    # The productmd ComposeInfo exactly as stored (with the allocated id and respin):
    # answers are built from it rather than re-assembled from columns, so nothing the
    # client sent (variants, final) is dropped.
    Column("compose_info", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # What the build tool last reported (Pungi's STARTED … FINISHED); None until it does.
    Column("build_status", String(30)),
    # Set once when the compose's data is gone from storage; never cleared.
    Column("removed_at", DateTime(timezone=True)),
    Column("removed_reason", Text),
    # The compose's v1 answer as JSON, written in the same transaction as every change
    # of what it shows (ctsd.db.rendering), so reads answer it as stored instead of
    # rebuilding it from compose_info and four relations. NULL means "render it live":
    # rows from before migration 0012, and composes whose answer another compose's
    # change altered (a new child, a respin, a renamed tag).
    Column("rendered", Text),
    # The list pages sort on these and then fetch pks: carrying pk in the index makes a
    # deep page an index-only scan on PostgreSQL instead of a sort of the whole table.
    Index("ix_composes_date_compose_id", "date", "compose_id", postgresql_include=["pk"]),
    Index("ix_composes_release_short_date", "release_short", "date", "compose_id",
          postgresql_include=["pk"]),
    Index("ix_composes_release_version_key", "release_version_key", "compose_id",
          postgresql_include=["pk"]),
    Index("ix_composes_release_name", "release_name"),
    Index("ix_composes_release_version", "release_version"),
    Index("ix_composes_type", "type"),
    Index("ix_composes_label", "label"),
    Index("ix_composes_builder", "builder"),
    Index("ix_composes_respin", "respin"),
    Index("ix_composes_release_type", "release_type"),
    Index("ix_composes_base_product_short", "base_product_short"),
    Index("ix_composes_base_product_name", "base_product_name"),
    Index("ix_composes_base_product_version", "base_product_version"),
    Index("ix_composes_respin_of_pk", "respin_of_pk"),
    # The newest-first order of the query extensions (ctsd/db/queries/compose_streams.py), over
    # all composes and within one release stream (latest, neighbours); migration 0007.
    Index("ix_composes_date_respin_pk", "date", "respin", "pk"),
    Index("ix_composes_stream", "release_short", "release_version", "type", "date",
          "respin", "pk"),
)

# One row per release stream and date: the last respin handed out. Allocation bumps
# it with one atomic upsert, which row-locks it until commit, so concurrent imports
# queue on it instead of colliding and retrying; a rolled-back import gives its
# respin back, so respins stay gap-free.
respin_counters = Table(
    "respin_counters",
    metadata,
    Column("stream", String(255), primary_key=True),
    Column("last_respin", Integer, nullable=False),
)

compose_parents = Table(
    "compose_parents",
    metadata,
    Column("child_pk", Integer, ForeignKey("composes.pk"), primary_key=True),
    Column("parent_pk", Integer, ForeignKey("composes.pk"), primary_key=True),
    Index("ix_compose_parents_parent_pk", "parent_pk"),
)

tags = Table(
    "tags",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("description", Text, nullable=False),
    Column("documentation", Text, nullable=False),
)

# Who may add (tagger) or remove (untagger) a tag: users and groups.
tag_permissions = Table(
    "tag_permissions",
    metadata,
    Column("tag_id", Integer, ForeignKey("tags.id"), primary_key=True),
    Column("role", String(10), primary_key=True),  # "tagger" | "untagger"
    Column("kind", String(10), primary_key=True),  # "user" | "group"
    Column("name", String(255), primary_key=True),
)

compose_tags = Table(
    "compose_tags",
    metadata,
    Column("compose_pk", Integer, ForeignKey("composes.pk"), primary_key=True),
    Column("tag_id", Integer, ForeignKey("tags.id"), primary_key=True),
    Index("ix_compose_tags_tag_id", "tag_id", "compose_pk"),
)

compose_changes = Table(
    "compose_changes",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("compose_pk", Integer, ForeignKey("composes.pk"), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("action", String(50), nullable=False),
    Column("user", String(255)),
    Column("message", Text, nullable=False),
    Column("user_data", Text),
    # Which authentication backend the user came through (migration 0005).
    Column("auth_backend", String(50)),
    Index("ix_compose_changes_compose_pk", "compose_pk", "id"),
)

tag_changes = Table(
    "tag_changes",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("tag_id", Integer, ForeignKey("tags.id"), nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("action", String(50), nullable=False),
    Column("user", String(255)),
    Column("message", Text, nullable=False),
    Column("user_data", Text),
    # Which authentication backend the user came through (migration 0005).
    Column("auth_backend", String(50)),
    Index("ix_tag_changes_tag_id", "tag_id", "id"),
)

# Transactional outbox: written in the same transaction as the change it announces,
# published later by the relay. `message_id` stays the same on every publish retry.
outbox = Table(
    "outbox",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("topic", String(255), nullable=False),
    Column("body", JSON, nullable=False),
    # The compose the event is about: the relay keeps order per compose.
    Column("ordering_key", String(255)),
    # The request message this event answers, when it came from the bus.
    Column("in_reply_to", String(255)),
    # W3C trace context of the change that wrote the row (migration 0008, issue #10).
    Column("traceparent", String(255)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    # The event feed's position (ctsd/api/events.py), PostgreSQL only: the newest
    # transaction id this row may depend on, i.e. its own or the latest one ended when it
    # was written. Filled by the column's default (migration 0004); NULL on SQLite, whose
    # single writer commits ids in order, so the feed goes by id there.
    Column("feed_xid", BigInteger),
    Index("ix_outbox_unsent", "sent_at", "id"),
    Index("ix_outbox_feed", "feed_xid", "id"),
)

# Answers to requests that carried an Idempotency-Key, so that a retried request
# gets the first answer instead of a second effect.
idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("username", String(255), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status", Integer, nullable=False),
    Column("response", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# Bus messages whose effect is committed: a redelivery finds its id here and is skipped.
processed_messages = Table(
    "processed_messages",
    metadata,
    Column("message_id", String(255), primary_key=True),
    Column("processed_at", DateTime(timezone=True), nullable=False),
)

# Workflow (issue #5). A promotion request moves a compose one step up the configured
# ladder; its v1 view is the `<to>-requested` tag and then the `<to>` tag.
promotion_requests = Table(
    "promotion_requests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("compose_pk", Integer, ForeignKey("composes.pk"), nullable=False),
    Column("from_state", String(255), nullable=False),
    Column("to_state", String(255), nullable=False),
    Column("state", String(20), nullable=False),  # requested|performed|rejected|withdrawn
    Column("requested_by", String(255), nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("reason", Text),
    Column("user_data", Text),
    Column("decided_by", String(255)),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", Text),
    # When the daemon last re-announced this pending request (None: never). The reminder
    # claims a row by moving this forward in one UPDATE, so one daemon of several sends.
    Column("last_reminded_at", DateTime(timezone=True)),
    Index("ix_promotion_requests_compose_pk", "compose_pk", "id"),
    Index("ix_promotion_requests_state_id", "state", "id"),
)

# Chained gates: tag `tag_id` may only be added when every `requires` tag is present and
# no `excludes` tag is.
tag_gates = Table(
    "tag_gates",
    metadata,
    Column("tag_id", Integer, ForeignKey("tags.id"), primary_key=True),
    Column("kind", String(10), primary_key=True),  # "requires" | "excludes"
    Column("other_tag_id", Integer, ForeignKey("tags.id"), primary_key=True),
)

# Every location a compose had, with when and who set it; composes.compose_url is the
# current one.
compose_locations = Table(
    "compose_locations",
    metadata,
    Column("id", BigId, primary_key=True),
    Column("compose_pk", Integer, ForeignKey("composes.pk"), nullable=False),
    Column("url", Text, nullable=False),
    Column("time", DateTime(timezone=True), nullable=False),
    Column("user", String(255), nullable=False),
    Index("ix_compose_locations_compose_pk", "compose_pk", "id"),
)

# Composes the expiry policy already asked to remove: a removal request goes out once.
removal_requests = Table(
    "removal_requests",
    metadata,
    Column("compose_pk", Integer, ForeignKey("composes.pk"), primary_key=True),
    Column("requested_at", DateTime(timezone=True), nullable=False),
    Column("policy", Text, nullable=False),
)

__all__ = [
    "compose_changes",
    "compose_locations",
    "compose_parents",
    "compose_tags",
    "composes",
    "idempotency_keys",
    "metadata",
    "outbox",
    "processed_messages",
    "promotion_requests",
    "removal_requests",
    "respin_counters",
    "tag_changes",
    "tag_gates",
    "tag_permissions",
    "tags",
]

# The contents tables (issue #12) and the per-date counts (issue #14) live in their own
# modules on this same metadata; importing them here makes `metadata` complete for
# whoever imports this module.
from ctsd.db import contents_tables, count_tables  # noqa: E402, F401
