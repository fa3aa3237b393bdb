"""Tables of compose contents (issue #12): RPMs, images, variants/arches, fetch jobs.

Storage design. Consecutive nightlies of one stream share ~98 % of their packages, so
an RPM entry is stored once, not once per compose:

- `rpms` holds one row per distinct entry (NEVRA, sigkey, category, source RPM and the
  path inside the compose tree), found again by `digest`, a 16-byte BLAKE2b of those
  fields. A new nightly adds only the ~2 % of entries it does not share.
- `compose_rpm_sets` holds, per compose × variant × arch × category, the ids of its
  entries as one integer array (PostgreSQL `integer[]`, SQLite a JSON text), sorted in
  the order the contents page lists them (name, then NEVRA): a page is an array slice
  and ~20 primary-key lookups.
- `compose_rpm_ids` holds, per compose, all its distinct rpm ids in one array. On
  PostgreSQL a GIN index on it answers "which composes contain any of these rpm ids"
  (`&&`, through the function cts_composes_holding), so "composes containing an NVR"
  is: index lookup of the NVR's ids in `rpms`, GIN probe, then the usual compose
  filters on the few hundred matches.
- A diff loads the two composes' set arrays and compares them as sets in memory
  (~50,000 ints each), then reads only the differing rows of `rpms`.
- `compose_contents` says what was imported per compose and kind, with a digest of
  the whole file's entries: re-importing identical contents changes nothing.
- `compose_images` has one row per image (a compose has tens, not thousands).
- `compose_variant_arches` makes the variants and arches of the stored ComposeInfo
  filterable on the compose list.
- `contents_fetch_jobs` is the durable queue of automatic fetches: one row per compose,
  written in the transaction that gave the compose its location, leased by a daemon
  (`lease_until`) so a crashed daemon's claim is taken again after expiry.

Nothing here is deleted when a compose is marked removed: that is when people ask.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    text,
)
from sqlalchemy.dialects import postgresql

from ctsd.db.metadata import metadata

# PostgreSQL: integer[] (GIN-indexable); SQLite: the ids as a JSON array in TEXT.
IdArray = postgresql.ARRAY(Integer).with_variant(Text(), "sqlite")


rpms = Table(
    "rpms",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("digest", LargeBinary(16), nullable=False),
    Column("name", String(255), nullable=False),
    Column("epoch", Integer, nullable=False),
    Column("version", String(255), nullable=False),
    Column("release", String(255), nullable=False),
    Column("arch", String(20), nullable=False),
    Column("sigkey", String(64)),
    Column("category", String(10), nullable=False),  # binary | debug | source
    Column("srpm_name", String(255), nullable=False),
    Column("srpm_epoch", Integer, nullable=False),
    Column("srpm_version", String(255), nullable=False),
    Column("srpm_release", String(255), nullable=False),
    Column("path", Text, nullable=False),
    # An import finds its entries by digest: with the id in the index (PostgreSQL) that
    # is an index-only scan, which does not read the rows' heap pages.
    Index("ix_rpms_digest", "digest", unique=True, postgresql_include=["id"]),
    # rpm_nvr / rpm_nevra / rpm_name and a package's history; srpm_nvr.
    Index("ix_rpms_nvr", "name", "version", "release"),
    Index("ix_rpms_srpm_nvr", "srpm_name", "srpm_version", "srpm_release"),
)

compose_rpm_sets = Table(
    "compose_rpm_sets",
    metadata,
    Column("compose_pk", Integer, ForeignKey("composes.pk"), primary_key=True),
    Column("variant", String(100), primary_key=True),
    Column("arch", String(20), primary_key=True),
    Column("category", String(10), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("rpm_ids", IdArray, nullable=False),
)

# Every distinct rpm id of a compose, ascending, in one array: what "which composes
# contain these rpms" and a package's history probe. A GIN hit here is a compose row
# whose heap is tiny (the arrays are TOASTed out of line): with the GIN index on
# compose_rpm_sets instead, every hit read a set row from a 64 MB heap (2,000
# composes), and a cold package history spent 0.5 s reading those pages. PostgreSQL
# queries probe it through cts_composes_holding (migration 0014), which pins the plan
# to the GIN index: seeing a tiny heap, the planner would scan and detoast every array.
compose_rpm_ids = Table(
    "compose_rpm_ids",
    metadata,
    Column("compose_pk", Integer, ForeignKey("composes.pk"), primary_key=True),
    Column("rpm_ids", IdArray, nullable=False),
    # GIN for "which composes contain any of these ids" (&&). SQLite cannot use it:
    # there the index is partial over no rows (WHERE 0), so it costs nothing but keeps
    # both schemas declaring the same indexes. No pending list (fastupdate): every probe
    # would scan it (up to 4 MB), and a package's history probes once per rpm row.
    Index("ix_compose_rpm_ids_rpm_ids", "rpm_ids", postgresql_using="gin",
          postgresql_with={"fastupdate": "off"}, sqlite_where=text("0")),
)

compose_contents = Table(
    "compose_contents",
    metadata,
    Column("compose_pk", Integer, ForeignKey("composes.pk"), primary_key=True),
    Column("kind", String(10), primary_key=True),  # rpms | images
    Column("digest", String(64), nullable=False),
    Column("count", Integer, nullable=False),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("imported_by", String(255), nullable=False),
)

compose_images = Table(
    "compose_images",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("compose_pk", Integer, ForeignKey("composes.pk"), nullable=False),
    Column("variant", String(100), nullable=False),
    Column("arch", String(20), nullable=False),
    Column("type", String(50), nullable=False),
    Column("format", String(50), nullable=False),
    Column("subvariant", String(100), nullable=False),
    Column("path", Text, nullable=False),
    # The image's identity across composes: type, format, subvariant and the path with
    # the compose's own date/respin label masked (images are renamed every compose).
    Column("identity", Text, nullable=False),
    Column("data", JSON, nullable=False),  # the productmd Image as serialised
    Index("ix_compose_images_compose_pk", "compose_pk", "variant", "arch", "id"),
)

compose_variant_arches = Table(
    "compose_variant_arches",
    metadata,
    Column("compose_pk", Integer, ForeignKey("composes.pk"), primary_key=True),
    Column("variant", String(100), primary_key=True),
    Column("arch", String(20), primary_key=True),
    Index("ix_compose_variant_arches_variant", "variant", "arch", "compose_pk"),
    Index("ix_compose_variant_arches_arch", "arch", "compose_pk"),
)

contents_fetch_jobs = Table(
    "contents_fetch_jobs",
    metadata,
    Column("compose_pk", Integer, ForeignKey("composes.pk"), primary_key=True),
    Column("url", Text, nullable=False),
    Column("state", String(10), nullable=False),  # pending | done | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False),
    Column("lease_until", DateTime(timezone=True)),
    Column("leased_by", String(255)),
    Column("last_error", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Index("ix_contents_fetch_jobs_due", "state", "next_attempt_at"),
)

CONTENTS_TABLES = (rpms, compose_rpm_sets, compose_rpm_ids, compose_contents, compose_images,
                   compose_variant_arches, contents_fetch_jobs)
