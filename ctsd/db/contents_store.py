"""SQL implementation of handlers.contents_ports.ContentsStore (storage design: see
ctsd.db.contents_tables). Runs inside the unit of work's transaction."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, any_, bindparam, delete, or_, select, update
from sqlalchemy.dialects.postgresql import ARRAY, BYTEA
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.contents_tables import (
    compose_contents,
    compose_images,
    compose_rpm_ids,
    compose_rpm_sets,
    compose_variant_arches,
    contents_fetch_jobs,
    rpms,
)
from ctsd.db.engine import insert_for
from ctsd.db.tables import composes
from handlers.contents_hooks import FINISHED_STATUSES
from handlers.contents_parse import ParsedImages, ParsedRpms, RpmEntry

_SQLITE_CHUNK = 500  # bound parameters per IN (...) on SQLite


def entry_digest(entry: RpmEntry) -> bytes:
    """The key of an `rpms` row: every field of the entry except variant and arch (the
    path already says where in the tree it lives)."""
    line = "\t".join((entry.category, entry.rpm.text, entry.srpm.text, entry.sigkey or "",
                      entry.path))
    return hashlib.blake2b(line.encode(), digest_size=16).digest()


def entry_digests(entries: list[RpmEntry]) -> list[bytes]:
    """entry_digest of each entry, hashing each distinct entry once (a source RPM or a
    noarch package is the same entry under every arch)."""
    known: dict[tuple[str, str, str, str | None, str], bytes] = {}
    digests = []
    for entry in entries:
        key = (entry.category, entry.rpm.text, entry.srpm.text, entry.sigkey, entry.path)
        digest = known.get(key)
        if digest is None:
            digest = known[key] = entry_digest(entry)
        digests.append(digest)
    return digests


def rpm_row(entry: RpmEntry, digest: bytes) -> dict[str, Any]:
    rpm, srpm = entry.rpm, entry.srpm
    return {"digest": digest, "name": rpm.name, "epoch": rpm.epoch, "version": rpm.version,
            "release": rpm.release, "arch": rpm.arch, "sigkey": entry.sigkey,
            "category": entry.category, "srpm_name": srpm.name, "srpm_epoch": srpm.epoch,
            "srpm_version": srpm.version, "srpm_release": srpm.release, "path": entry.path}


def encode_ids(dialect: str, ids: list[int]) -> Any:
    """An id list as the rpm_ids column stores it on this dialect."""
    return ids if dialect == "postgresql" else json.dumps(ids, separators=(",", ":"))


def decode_ids(value: Any) -> list[int]:
    return json.loads(value) if isinstance(value, str) else list(value)


class SqlContentsStore:
    def __init__(self, conn: AsyncConnection, now: Callable[[], datetime]) -> None:
        self._conn = conn
        self._now = now
        self._dialect = conn.dialect.name

    async def _unchanged(self, compose_pk: int, kind: str, digest: str) -> bool:
        stored = (await self._conn.execute(
            select(compose_contents.c.digest).where(compose_contents.c.compose_pk == compose_pk,
                                                    compose_contents.c.kind == kind)
        )).scalar()
        return stored == digest

    async def _record(self, compose_pk: int, kind: str, digest: str, count: int,
                      user: str) -> None:
        values = {"digest": digest, "count": count, "imported_at": self._now(),
                  "imported_by": user}
        statement = insert_for(self._dialect)(compose_contents).values(
            compose_pk=compose_pk, kind=kind, **values)
        await self._conn.execute(statement.on_conflict_do_update(
            index_elements=["compose_pk", "kind"], set_=values))

    async def replace_rpms(self, compose_pk: int, parsed: ParsedRpms, user: str) -> bool:
        if await self._unchanged(compose_pk, "rpms", parsed.digest):
            return False
        digests = entry_digests(parsed.entries)
        ids = await self._rpm_ids(parsed.entries, digests)
        sets: dict[tuple[str, str, str], list[tuple[str, str, int]]] = {}
        for entry, digest in zip(parsed.entries, digests, strict=True):
            key = (entry.variant, entry.arch, entry.category)
            sets.setdefault(key, []).append((entry.rpm.name, entry.rpm.text, ids[digest]))
        await self._replace_sets(compose_pk, sets)
        await self._replace_id_list(compose_pk, sorted(set(ids.values())))
        await self._record(compose_pk, "rpms", parsed.digest, len(parsed.entries), user)
        return True

    async def _replace_sets(self, compose_pk: int,
                            sets: dict[tuple[str, str, str], list[tuple[str, str, int]]]
                            ) -> None:
        await self._conn.execute(
            delete(compose_rpm_sets).where(compose_rpm_sets.c.compose_pk == compose_pk))
        rows = []
        for (variant, arch, category), members in sorted(sets.items()):
            # Sorted as the contents page lists them: a page is a slice of the array.
            ordered = list(dict.fromkeys(rpm_id for *_, rpm_id in sorted(members)))
            rows.append({"compose_pk": compose_pk, "variant": variant, "arch": arch,
                         "category": category, "count": len(ordered),
                         "rpm_ids": encode_ids(self._dialect, ordered)})
        if rows:
            await self._conn.execute(compose_rpm_sets.insert(), rows)

    async def _replace_id_list(self, compose_pk: int, ids: list[int]) -> None:
        """compose_rpm_ids: what the containment filters and the history probe."""
        await self._conn.execute(
            delete(compose_rpm_ids).where(compose_rpm_ids.c.compose_pk == compose_pk))
        if ids:
            await self._conn.execute(compose_rpm_ids.insert().values(
                compose_pk=compose_pk, rpm_ids=encode_ids(self._dialect, ids)))

    async def _rpm_ids(self, entries: list[RpmEntry], digests: list[bytes]) -> dict[bytes, int]:
        """The `rpms` id of every entry, inserting the entries never seen before."""
        wanted = dict(zip(digests, entries, strict=True))
        found = await self._existing_ids(list(wanted))
        # Sorted: concurrent imports then insert shared new rows in one order, so they
        # queue on each other's unique keys instead of deadlocking.
        missing = sorted(digest for digest in wanted if digest not in found)
        if missing:
            insert = (insert_for(self._dialect)(rpms).on_conflict_do_nothing()
                      .returning(rpms.c.digest, rpms.c.id))
            for start in range(0, len(missing), 5000):
                batch = [rpm_row(wanted[digest], digest)
                         for digest in missing[start:start + 5000]]
                found.update((row.digest, row.id)
                             for row in await self._conn.execute(insert, batch))
            # Rows another transaction inserted meanwhile were skipped by ON CONFLICT.
            found.update(await self._existing_ids([d for d in missing if d not in found]))
        return found

    async def _existing_ids(self, digests: list[bytes]) -> dict[bytes, int]:
        if not digests:
            return {}
        if self._dialect == "postgresql":
            chunks: Iterable[list[bytes]] = [digests]
        else:
            chunks = (digests[i:i + _SQLITE_CHUNK] for i in range(0, len(digests), _SQLITE_CHUNK))
        found: dict[bytes, int] = {}
        for chunk in chunks:
            condition = (rpms.c.digest == _any(chunk) if self._dialect == "postgresql"
                         else rpms.c.digest.in_(chunk))
            rows = await self._conn.execute(select(rpms.c.digest, rpms.c.id).where(condition))
            found.update((bytes(row.digest), row.id) for row in rows)
        return found

    async def replace_images(self, compose_pk: int, parsed: ParsedImages, user: str) -> bool:
        if await self._unchanged(compose_pk, "images", parsed.digest):
            return False
        await self._conn.execute(
            delete(compose_images).where(compose_images.c.compose_pk == compose_pk))
        if parsed.entries:
            await self._conn.execute(compose_images.insert(), [
                {"compose_pk": compose_pk, "variant": image.variant, "arch": image.arch,
                 "type": image.type, "format": image.format, "subvariant": image.subvariant,
                 "path": image.path, "identity": image.identity, "data": image.data}
                for image in parsed.entries])
        await self._record(compose_pk, "images", parsed.digest, len(parsed.entries), user)
        return True

    async def set_variant_arches(self, compose_pk: int, pairs: set[tuple[str, str]]) -> None:
        if pairs:
            await self._conn.execute(compose_variant_arches.insert(), [
                {"compose_pk": compose_pk, "variant": variant, "arch": arch}
                for variant, arch in sorted(pairs)])

    async def queue_fetch(self, compose_pk: int, url: str, *, requested: bool = False) -> None:
        status = (await self._conn.execute(
            select(composes.c.build_status).where(composes.c.pk == compose_pk))).scalar()
        if not requested and status is not None and status not in FINISHED_STATUSES:
            return  # the build is still running (or failed): its metadata is not there
        values = {"url": url, "state": "pending", "attempts": 0, "next_attempt_at": self._now(),
                  "lease_until": None, "leased_by": None, "last_error": None,
                  "updated_at": self._now()}
        statement = insert_for(self._dialect)(contents_fetch_jobs).values(
            compose_pk=compose_pk, **values)
        await self._conn.execute(statement.on_conflict_do_update(
            index_elements=["compose_pk"], set_=values))

    async def complete_fetch(self, compose_pk: int, url: str) -> None:
        jobs = contents_fetch_jobs.c
        await self._conn.execute(
            update(contents_fetch_jobs).where(jobs.compose_pk == compose_pk, jobs.url == url)
            .values(state="done", lease_until=None, leased_by=None, last_error=None,
                    updated_at=self._now()))

    async def fail_fetch(self, compose_pk: int, reason: str) -> bool:
        jobs = contents_fetch_jobs.c
        result = await self._conn.execute(
            update(contents_fetch_jobs)
            .where(jobs.compose_pk == compose_pk,
                   or_(jobs.state != "failed", and_(jobs.state == "failed",
                                                   jobs.last_error != reason)))
            .values(state="failed", lease_until=None, leased_by=None, last_error=reason,
                    updated_at=self._now()))
        return bool(result.rowcount)


def _any(values: list[Any]) -> Any:
    return any_(bindparam("digests", values, type_=ARRAY(BYTEA)))
