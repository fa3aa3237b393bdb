"""PostgreSQL: the write path's connections plan their prepared statements generically
(ctsd.db.engine.GENERIC_PLANS), so the group lock and the flush are not planned again
at every execution; reads keep PostgreSQL's choice, since a list page's plan depends on
its filter's values."""

from __future__ import annotations

from sqlalchemy import text

from ctsd.bootstrap import open_write_path
from ctsd.config import Settings
from ctsd.db.respins import SeparateTransactionRespins
from handlers.commands import ImportCompose
from tests.conftest import compose_info
from tests.relaying import ADMIN


async def _plan_cache_mode(engine) -> str:
    async with engine.connect() as conn:
        return str((await conn.execute(text("SHOW plan_cache_mode"))).scalar_one())


async def test_writes_plan_generically_and_reads_do_not(pg_url):
    async with open_write_path(Settings(database_url=pg_url)) as path:
        assert await _plan_cache_mode(path.bus.engine) == "force_generic_plan"
        assert await _plan_cache_mode(path.read_engine) == "auto"
        # The respin allocator's own pools too: they run one upsert, over and over.
        await path.bus.execute(ImportCompose(compose_info(short="gp")), ADMIN)
        respins = path.bus.respins
        assert isinstance(respins, SeparateTransactionRespins)
        assert await _plan_cache_mode(respins.engine) == "force_generic_plan"
        pool = respins._pool  # the driver pool the import just used
        assert pool is not None
        assert await pool.fetchval("SHOW plan_cache_mode") == "force_generic_plan"


async def test_the_write_path_runs_on_generic_plans(pg_url):
    """Every execution of the import's INSERT (in its group's commit statement), a
    prepared statement of the write connection, ran on a generic plan
    (pg_prepared_statements counts them); with "auto" PostgreSQL plans the first five
    custom, and the group lock and flush all of them."""
    async with open_write_path(Settings(database_url=pg_url), group_commit=True) as path:
        for n in range(8):
            await path.bus.execute(ImportCompose(compose_info(short=f"gl{n}")), ADMIN)
        async with path.bus.engine.connect() as conn:
            rows = (await conn.execute(text(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
                " WHERE statement LIKE '%INSERT INTO composes%'"))).all()
    assert rows, "the import's INSERT is a prepared statement of this connection"
    assert all(row.custom_plans == 0 and row.generic_plans >= 1 for row in rows), rows
