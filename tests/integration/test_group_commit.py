"""Group commit over real databases (ctsd.group_commit): concurrent HTTP imports and tag
changes share transactions, and each still gets its own answer, history row and event;
a bad request among them gets its own error and undoes nothing of the others."""

from __future__ import annotations

import asyncio

from ctsd.config import Settings
from ctsd.db.engine import create_engine
from tests.conftest import create_tag, import_compose, read_database


async def test_concurrent_tags_share_transactions_and_keep_their_own_answers(client,
                                                                            database_url):
    await create_tag(client, "qa-passed")
    ids = [(await import_compose(client, short=f"g{n}"))["payload"]["compose"]["id"]
           for n in range(24)]
    before = read_database(database_url, "SELECT count(*) FROM outbox")[0][0]

    async def tag(compose_id: str, tag_name: str = "qa-passed") -> tuple[int, dict]:
        response = await client.patch(f"/api/1/composes/{compose_id}",
                                      json={"action": "tag", "tag": tag_name})
        return response.status, await response.json()

    results = await asyncio.gather(
        *(tag(compose_id) for compose_id in ids[:12]),
        tag("nope-1.0-20200526.0"),            # no such compose
        tag(ids[12], "no-such-tag"),           # no such tag
        *(tag(compose_id) for compose_id in ids[12:]))
    good = results[:12] + results[14:]
    for compose_id, (status, body) in zip(ids, good, strict=True):
        assert status == 200, body
        assert body["compose_info"]["payload"]["compose"]["id"] == compose_id
        assert body["tags"] == ["qa-passed"]
    assert results[12][0] == 404 and results[12][1]["message"] == "No such compose found."
    assert results[13][0] == 400, results[13]

    events = read_database(database_url,
                           "SELECT ordering_key, topic FROM outbox ORDER BY id")[before:]
    assert sorted(key for key, _ in events) == sorted(ids)
    assert {topic for _, topic in events} == {"cts.compose-tagged"}
    history = read_database(database_url, "SELECT c.compose_id FROM compose_changes h "
                                          "JOIN composes c ON c.pk = h.compose_pk "
                                          "WHERE h.action = 'tagged'")
    assert sorted(row[0] for row in history) == sorted(ids)


async def test_tags_of_one_burst_commit_in_fewer_transactions_than_requests(pg_client,
                                                                            pg_url):
    """PostgreSQL stamps each row with its transaction (xmin): rows of one group share
    it. Without group commit there would be one transaction per tag."""
    client = pg_client
    await create_tag(client, "burst")
    ids = [(await import_compose(client, short=f"b{n}"))["payload"]["compose"]["id"]
           for n in range(30)]
    responses = await asyncio.gather(*(
        client.patch(f"/api/1/composes/{compose_id}", json={"action": "tag", "tag": "burst"})
        for compose_id in ids))
    assert [r.status for r in responses] == [200] * 30
    rows = read_database(pg_url, "SELECT xmin::text FROM compose_changes "
                                 "WHERE action = 'tagged'")
    assert len(rows) == 30
    assert len({row[0] for row in rows}) < 30


async def test_colliding_imports_in_groups_get_gapless_respins(client, database_url):
    made = await asyncio.gather(*(import_compose(client, short="col") for _ in range(40)))
    respins = sorted(m["payload"]["compose"]["respin"] for m in made)
    assert respins == list(range(1, 41)) or respins == list(range(0, 40))
    assert len({m["payload"]["compose"]["id"] for m in made}) == 40
    events = read_database(database_url,
                           "SELECT count(*) FROM outbox WHERE topic = 'cts.compose-created'")
    assert events[0][0] == 40


async def test_a_compose_locked_elsewhere_holds_up_only_its_own_command(pg_client, pg_url):
    """Another transaction (a long contents import, say) holds one compose: a tag of it
    waits for that transaction, and tags of other composes meanwhile go through."""
    client = pg_client
    await create_tag(client, "qa-passed")
    ids = [(await import_compose(client, short=f"h{n}"))["payload"]["compose"]["id"]
           for n in range(4)]
    engine = create_engine(Settings(database_url=pg_url))
    try:
        async with engine.connect() as holder:
            await holder.begin()
            await holder.exec_driver_sql(
                "SELECT pk FROM composes WHERE compose_id = $1 FOR UPDATE", (ids[0],))
            blocked = asyncio.ensure_future(client.patch(
                f"/api/1/composes/{ids[0]}", json={"action": "tag", "tag": "qa-passed"}))
            await asyncio.sleep(0.3)
            others = await asyncio.wait_for(asyncio.gather(*(
                client.patch(f"/api/1/composes/{compose_id}",
                             json={"action": "tag", "tag": "qa-passed"})
                for compose_id in ids[1:])), timeout=10)
            assert [r.status for r in others] == [200, 200, 200]
            assert not blocked.done(), "it waits for the lock held elsewhere"
            await holder.rollback()
        response = await asyncio.wait_for(blocked, timeout=10)
        assert response.status == 200
        assert (await response.json())["tags"] == ["qa-passed"]
    finally:
        await engine.dispose()
