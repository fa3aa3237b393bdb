"""The compose representation is built on three paths: from the rows the list and get
views read (two queries), from the row that locks a compose for a change plus one query
for its relations, and (PostgreSQL) from the statement that adds or removes a tag, which
also reads the relations. All must give the same answer, or messages would disagree
with GET."""

from __future__ import annotations

from ctsd.config import Settings
from ctsd.db.engine import create_engine as create_async_engine
from ctsd.db.representation import compose_representations
from ctsd.db.uow import SqlUnitOfWork
from tests.conftest import compose_info, create_tag, import_compose

# Mixed case and punctuation: PostgreSQL's default collation would sort these unlike
# Python does.
TAG_NAMES = ["beta", "Zeta", "alpha-2", "alpha_1", "ALPHA"]


async def lineage(client) -> str:
    """A compose with parents, a child, a respin and several tags; its id."""
    parent_a = (await import_compose(client, short="pa"))["payload"]["compose"]["id"]
    parent_b = (await import_compose(client, short="pb"))["payload"]["compose"]["id"]
    resp = await client.post("/api/1/composes/", json={
        "compose_info": compose_info(short="mid"), "parent_compose_ids": [parent_b, parent_a]})
    middle = (await resp.json())["payload"]["compose"]["id"]
    await client.post("/api/1/composes/", json={
        "compose_info": compose_info(short="kid"), "parent_compose_ids": [middle]})
    await client.post("/api/1/composes/", json={
        "compose_info": compose_info(short="mid"), "respin_of": middle})
    for name in TAG_NAMES:
        await create_tag(client, name)
        resp = await client.patch(f"/api/1/composes/{middle}",
                                  json={"action": "tag", "tag": name})
        assert resp.status == 200
    return middle


async def test_lock_and_tag_change_representations_agree_with_a_fresh_read(client, settings):
    compose_id = await lineage(client)
    engine = create_async_engine(Settings(database_url=settings.database_url))
    try:
        async with SqlUnitOfWork(engine, "cts.") as uow:
            ref = await uow.composes.lock(compose_id)
            assert ref is not None
            fresh = await compose_representations(uow.connection, [ref.pk])
            locked = await uow.composes.representation(ref.pk)
            assert locked == fresh[ref.pk]
            assert locked["tags"] == sorted(TAG_NAMES)
            assert len(locked["parents"]) == 2 and len(locked["children"]) == 1
            assert len(locked["respun_by"]) == 1

            tag = await uow.tags.get("beta")
            assert tag is not None
            before = await uow.composes.representation(ref.pk)
            assert await uow.composes.remove_tag(ref.pk, tag.id)
            assert not await uow.composes.remove_tag(ref.pk, tag.id)
            after_untag = await uow.composes.representation(ref.pk)
            assert after_untag == (await compose_representations(uow.connection,
                                                                 [ref.pk]))[ref.pk]
            assert "beta" not in after_untag["tags"] and "beta" in before["tags"]

            assert await uow.composes.add_tag(ref.pk, tag.id)
            assert not await uow.composes.add_tag(ref.pk, tag.id)
            after_tag = await uow.composes.representation(ref.pk)
            assert after_tag == (await compose_representations(uow.connection,
                                                               [ref.pk]))[ref.pk]
    finally:
        await engine.dispose()
