"""Contents work that other handlers start in their own transaction: the variants and
arches of an imported compose, and the automatic fetch when a compose gets its location.

Kept apart from handlers.contents so that the compose handlers can call these without
importing the contents handlers (which themselves use the compose helpers).
"""

from __future__ import annotations

from typing import Any, cast

from handlers.contents_parse import variant_arches
from handlers.contents_ports import ContentsStore, ContentsUnitOfWork
from handlers.ports import UnitOfWork

# Build statuses after which the compose's metadata/ folder is complete.
FINISHED_STATUSES = ("FINISHED", "FINISHED_INCOMPLETE")


def contents_of(uow: UnitOfWork) -> ContentsStore:
    return cast(ContentsUnitOfWork, uow).contents


async def record_variant_arches(uow: UnitOfWork, compose_pk: int,
                                compose_info: dict[str, Any]) -> None:
    await contents_of(uow).set_variant_arches(compose_pk, variant_arches(compose_info))


def has_variant_arches(compose_info: dict[str, Any]) -> bool:
    """Whether record_variant_arches writes anything for this compose."""
    return bool(variant_arches(compose_info))


async def queue_contents_fetch(uow: UnitOfWork, compose_pk: int, url: str) -> None:
    """Queue fetching `<url>/metadata/{rpms,images}.json`, committed with the caller's
    change (the store skips composes whose build is reported but not finished)."""
    await contents_of(uow).queue_fetch(compose_pk, url)
