"""A serving process freezes what start-up built out of the garbage collector's full
passes (issue #14: those passes walked ~156,000 permanent objects, 95-135 ms each)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from ctsd.config import Settings
from ctsd.db import migrate
from ctsd.serving import serving_app


async def test_the_serving_app_freezes_its_start_up_objects(
        aiohttp_client: Any, tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'cts.sqlite'}")
    migrate.upgrade(settings)
    gc.unfreeze()
    try:
        client = await aiohttp_client(serving_app(settings))
        assert gc.get_freeze_count() > 10_000
        assert (await client.get("/api/1/about/")).status == 200
    finally:
        gc.unfreeze()
