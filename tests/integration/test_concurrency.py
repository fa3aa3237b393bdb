"""Races on one compose or one name, in-process on PostgreSQL (the production path).

The existing service answered 500 to concurrent tag/untag of one compose and wrote
duplicates; here every request must succeed (or be refused with a proper 4xx) and the
history and the outbox must record each real change exactly once.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable
from typing import Any

from aiohttp.test_utils import TestClient

from tests.conftest import compose_info, create_tag, import_compose, read_database

COMPOSE_ID = "test-1.0-20200526.0"
RACE_TIMEOUT = 60


def rows(url: str, sql: str, **params: Any) -> list[Any]:
    return read_database(url, sql, **params)


def compose_actions(url: str) -> list[str]:
    return [row.action for row in rows(url, """
        SELECT ch.action FROM compose_changes ch JOIN composes c ON c.pk = ch.compose_pk
        WHERE c.compose_id = :cid ORDER BY ch.id""", cid=COMPOSE_ID)]


def topics(url: str) -> list[str]:
    return [row.topic for row in rows(url, "SELECT topic FROM outbox ORDER BY id")]


async def all_at_once(requests: list[Awaitable[Any]]) -> list[tuple[int, Any]]:
    """Run requests concurrently (bounded in time); each answer as (status, JSON body)."""
    async def answer(request: Awaitable[Any]) -> tuple[int, Any]:
        response = await request
        return response.status, await response.json()

    return await asyncio.wait_for(asyncio.gather(*(answer(r) for r in requests)),
                                  timeout=RACE_TIMEOUT)


def patch(client: TestClient, action: str, tag: str) -> Awaitable[Any]:
    return client.patch(f"/api/1/composes/{COMPOSE_ID}", json={"action": action, "tag": tag})


async def test_concurrent_tagging_with_one_tag_is_one_change(pg_client, pg_url):
    await create_tag(pg_client, "race")
    await import_compose(pg_client)

    answers = await all_at_once([patch(pg_client, "tag", "race") for _ in range(50)])

    assert Counter(status for status, _ in answers) == {200: 50}
    assert all(body["tags"] == ["race"] for _, body in answers)
    assert compose_actions(pg_url) == ["created", "tagged"]
    assert topics(pg_url) == ["cts.compose-created", "cts.compose-tagged"]


async def test_concurrent_untagging_with_one_tag_is_one_change(pg_client, pg_url):
    await create_tag(pg_client, "race")
    await import_compose(pg_client)
    status, _ = (await all_at_once([patch(pg_client, "tag", "race")]))[0]
    assert status == 200

    answers = await all_at_once([patch(pg_client, "untag", "race") for _ in range(50)])

    assert Counter(status for status, _ in answers) == {200: 50}
    assert all(body["tags"] == [] for _, body in answers)
    assert compose_actions(pg_url) == ["created", "tagged", "untagged"]
    assert topics(pg_url) == ["cts.compose-created", "cts.compose-tagged",
                              "cts.compose-untagged"]


async def test_interleaved_tag_and_untag_keep_history_and_state_consistent(pg_client, pg_url):
    await create_tag(pg_client, "race")
    await import_compose(pg_client)

    answers = await all_at_once([patch(pg_client, "tag" if i % 2 else "untag", "race")
                                 for i in range(60)])

    assert Counter(status for status, _ in answers) == {200: 60}
    actions = compose_actions(pg_url)[1:]
    # Serialised per compose: a real change always flips the state, so the history
    # alternates, starts with a tagging, and its last entry is the state now.
    assert actions, "no tag request took effect"
    assert all(a != b for a, b in itertools.pairwise(actions)), actions
    assert actions[0] == "tagged"
    response = await pg_client.get(f"/api/1/composes/{COMPOSE_ID}")
    now_tagged = (await response.json())["tags"] == ["race"]
    assert now_tagged == (actions[-1] == "tagged")
    assert topics(pg_url)[1:] == [f"cts.compose-{action}" for action in actions]


async def test_concurrent_imports_with_one_idempotency_key_store_one_compose(pg_client,
                                                                             pg_url):
    body = {"compose_info": compose_info(), "parent_compose_ids": None, "respin_of": None}
    headers = {"Idempotency-Key": "import-once"}

    async def post() -> tuple[int, Any, str | None]:
        response = await pg_client.post("/api/1/composes/", json=body, headers=headers)
        return (response.status, await response.json(),
                response.headers.get("Idempotent-Replayed"))

    answers = await asyncio.wait_for(asyncio.gather(*(post() for _ in range(20))),
                                     timeout=RACE_TIMEOUT)

    assert Counter(status for status, _, _ in answers) == {200: 20}, answers
    bodies = [answer for _, answer, _ in answers]
    assert all(answer == bodies[0] for answer in bodies)
    assert bodies[0]["payload"]["compose"]["id"] == COMPOSE_ID
    assert Counter(replayed for _, _, replayed in answers) == {"true": 19, None: 1}
    assert [row.compose_id for row in rows(pg_url, "SELECT compose_id FROM composes")] == [
        COMPOSE_ID]
    assert topics(pg_url) == ["cts.compose-created"]
    # The losers' rolled-back attempts gave their respins back.
    assert [row.last_respin for row in rows(pg_url, "SELECT last_respin FROM respin_counters")
            ] == [0]


async def test_concurrent_creation_of_one_tag_name_creates_it_once(pg_client, pg_url):
    tag = {"name": "once", "description": "d", "documentation": "https://docs"}

    answers = await all_at_once([pg_client.post("/api/1/tags/", json=tag)
                                 for _ in range(20)])

    assert Counter(status for status, _ in answers) == {200: 1, 400: 19}, answers
    refusals = [body for status, body in answers if status == 400]
    assert all("already exists" in body["message"] for body in refusals), refusals
    assert [(row.name, row.action) for row in rows(pg_url, """
        SELECT t.name, ch.action FROM tag_changes ch JOIN tags t ON t.id = ch.tag_id""")
            ] == [("once", "created")]


async def test_each_answer_shows_its_own_change_while_others_wait_on_the_compose(
        pg_client, pg_url):
    # Tag and untag race on one compose: each request waits for the compose's lock, and
    # its answer must show the compose after its own change, not as it was before the
    # wait (the tags read with the lock must not come from before the wait).
    await create_tag(pg_client, "churn")
    await import_compose(pg_client)
    actions = ["tag", "untag"] * 25

    answers = await all_at_once([patch(pg_client, action, "churn") for action in actions])

    assert Counter(status for status, _ in answers) == {200: 50}
    for action, (_, body) in zip(actions, answers, strict=True):
        assert ("churn" in body["tags"]) == (action == "tag"), (action, body["tags"])
    history = compose_actions(pg_url)
    assert history[0] == "created"
    # Real changes alternate, whatever the order the requests were served in.
    assert all(a != b for a, b in itertools.pairwise(history[1:]))
