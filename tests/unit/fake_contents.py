"""In-memory contents store for the fake unit of work (tests/unit/fakes.py). Its rows
live in the FakeDatabase (as extra attributes), so they commit and roll back with it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers.contents_hooks import FINISHED_STATUSES
from handlers.contents_parse import ParsedImages, ParsedRpms

if TYPE_CHECKING:
    from tests.unit.fakes import FakeDatabase


class FakeContentsStore:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        # (compose pk, kind) -> (digest, entries); compose pk -> variant/arch pairs; jobs
        for name in ("contents", "variant_arches", "fetch_jobs"):
            db.__dict__.setdefault(name, {})

    @property
    def _tables(self) -> dict[str, dict[Any, Any]]:
        return self._db.__dict__

    async def _replace(self, compose_pk: int, kind: str, parsed: Any) -> bool:
        stored = self._tables["contents"].get((compose_pk, kind))
        if stored is not None and stored[0] == parsed.digest:
            return False
        self._tables["contents"][(compose_pk, kind)] = (parsed.digest, list(parsed.entries))
        return True

    async def replace_rpms(self, compose_pk: int, parsed: ParsedRpms, user: str) -> bool:
        return await self._replace(compose_pk, "rpms", parsed)

    async def replace_images(self, compose_pk: int, parsed: ParsedImages, user: str) -> bool:
        return await self._replace(compose_pk, "images", parsed)

    async def set_variant_arches(self, compose_pk: int, pairs: set[tuple[str, str]]) -> None:
        self._tables["variant_arches"][compose_pk] = set(pairs)

    async def queue_fetch(self, compose_pk: int, url: str, *, requested: bool = False) -> None:
        status = self._db.composes[compose_pk].build_status
        if requested or status is None or status in FINISHED_STATUSES:
            self._tables["fetch_jobs"][compose_pk] = {"url": url, "state": "pending",
                                                      "reason": None}

    async def complete_fetch(self, compose_pk: int, url: str) -> None:
        job = self._tables["fetch_jobs"].get(compose_pk)
        if job is not None and job["url"] == url:
            job["state"] = "done"

    async def fail_fetch(self, compose_pk: int, reason: str) -> bool:
        job = self._tables["fetch_jobs"].get(compose_pk)
        if job is None or (job["state"] == "failed" and job["reason"] == reason):
            return False
        job.update(state="failed", reason=reason)
        return True
