"""What the contents handlers need from storage (implemented in ctsd.db.contents_store)."""

from __future__ import annotations

from typing import Protocol

from handlers.contents_parse import ParsedImages, ParsedRpms
from handlers.ports import UnitOfWork


class ContentsStore(Protocol):
    # Each answers False (and writes nothing) when the stored digest is the same.
    async def replace_rpms(self, compose_pk: int, parsed: ParsedRpms, user: str) -> bool: ...
    async def replace_images(self, compose_pk: int, parsed: ParsedImages,
                             user: str) -> bool: ...
    async def set_variant_arches(self, compose_pk: int,
                                 pairs: set[tuple[str, str]]) -> None: ...
    # Queue (or re-queue, attempts reset) the automatic fetch from `url`, unless the
    # compose's build status says the build is not finished yet (and not `requested`:
    # someone asked for this fetch, who knows better).
    async def queue_fetch(self, compose_pk: int, url: str, *,
                          requested: bool = False) -> None: ...
    # Mark the fetch job done (when it still fetches `url`) / failed with a reason.
    async def complete_fetch(self, compose_pk: int, url: str) -> None: ...
    async def fail_fetch(self, compose_pk: int, reason: str) -> bool: ...


class ContentsUnitOfWork(UnitOfWork, Protocol):
    contents: ContentsStore
