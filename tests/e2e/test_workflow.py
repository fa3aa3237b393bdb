"""The issue #5 walk, end to end: two real `ctsd serve` processes on one PostgreSQL,
relaying to the real RabbitMQ. A compose goes from import through the whole ladder
behind two QE gates, with a rejected request, a stale-request reminder (sent by one of
the two daemons only) and a removal; the state, the history, the v1 view and every
published message are checked."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from schemas import PUBLISHED_BY_EVENT, SCHEMA_NAMES
from tests.conftest import compose_info
from tests.e2e.conftest import Server, server_environment
from tests.relaying import AMQP_URL, BoundQueue

pytestmark = pytest.mark.e2e

REMINDER_SECONDS = 5
COMPOSE_ID = "test-1.0-20200526.0"


def write_config(path: Path) -> Path:
    path.write_text("\n".join([
        "[workflow]",
        'ladder = ["periodic", "nightly", "milestone-candidate", "milestone"]',
        f"reminder_interval_seconds = {REMINDER_SECONDS}",
        "check_interval_seconds = 1",
        "",
    ]))
    return path


class Api:
    def __init__(self, http: aiohttp.ClientSession, server: Server) -> None:
        self.http, self.base = http, server.base_url

    async def call(self, method: str, path: str, expected: int, body: Any = None) -> Any:
        async with self.http.request(method, self.base + path, json=body) as response:
            answer = await response.json()
            assert response.status == expected, answer
            return answer

    async def tags(self) -> list[str]:
        return (await self.call("GET", f"/api/1/composes/{COMPOSE_ID}", 200))["tags"]


def create_ladder_tags(env: dict[str, str], workdir: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "ctsd.cli", "tag", "create-ladder"],
                          cwd=workdir, env=env, capture_output=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()
    return json.loads(done.stdout)["created"]


async def wait_for_topic(queue: BoundQueue, topic: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        queue.fetch()
        if any(m.routing_key == topic for m in queue.received):
            return
        await asyncio.sleep(0.1)
    pytest.fail(f"no {topic} within {timeout} s")


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}.cts."


@pytest.fixture
def queue(prefix: str):
    bound = BoundQueue(prefix)
    yield bound
    bound.close()


async def test_compose_walks_the_ladder_behind_gates(start_ctsd, e2e_database_url, tmp_path,
                                                     http, prefix, queue):
    config = write_config(tmp_path / "workflow.toml")
    env = dict(CTSD_DATABASE_URL=e2e_database_url, CTSD_AMQP_URL=AMQP_URL,
               CTSD_TOPIC_PREFIX=prefix, CTSD_CONFIG=str(config))
    first, second = start_ctsd(2, **env)
    api, other = Api(http, first), Api(http, second)
    assert create_ladder_tags(server_environment(**env), tmp_path) == [
        "nightly", "nightly-requested", "milestone-candidate",
        "milestone-candidate-requested", "milestone", "milestone-requested"]

    await api.call("POST", "/api/1/composes/", 200,
                   {"compose_info": compose_info(), "compose_url": "https://a.example/c"})
    for name in ("installability-passed", "qa-passed"):
        await api.call("POST", "/api/1/tags/", 200, {"name": name, "description": name,
                                                     "documentation": "https://qe"})
    await api.call("PUT", "/api/1/tags/qa-passed/gates", 200,
                   {"requires": ["installability-passed"]})
    await other.call("PUT", "/api/1/tags/nightly/gates", 200, {"requires": ["qa-passed"]})

    nightly = await api.call("POST", f"/api/1/composes/{COMPOSE_ID}/promotions/", 201,
                             {"to": "nightly", "reason": "best of the day"})
    assert await api.tags() == ["nightly-requested"]
    refused = await api.call("POST", f"/api/1/promotions/{nightly['id']}/perform", 409)
    assert "requires qa-passed" in refused["message"]
    refused = await api.call("PATCH", f"/api/1/composes/{COMPOSE_ID}", 409,
                             {"action": "tag", "tag": "qa-passed"})
    assert "installability-passed" in refused["message"]
    for name in ("installability-passed", "qa-passed"):
        await other.call("PATCH", f"/api/1/composes/{COMPOSE_ID}", 200,
                         {"action": "tag", "tag": name})

    # Left pending: one of the two daemons re-announces it once the interval passed.
    await wait_for_topic(queue, f"{prefix}compose-promotion-reminder")
    await other.call("POST", f"/api/1/promotions/{nightly['id']}/perform", 200)
    assert await api.tags() == ["installability-passed", "nightly", "qa-passed"]

    await api.call("POST", f"/api/1/composes/{COMPOSE_ID}/promotions/", 409,
                   {"to": "milestone"})  # a skipped step
    candidate = await api.call("POST", f"/api/1/composes/{COMPOSE_ID}/promotions/", 201,
                               {"to": "milestone-candidate"})
    rejected = await other.call("POST", f"/api/1/promotions/{candidate['id']}/reject", 200,
                                {"reason": "installer crashes"})
    assert rejected["state"] == "rejected"
    await api.call("POST", f"/api/1/promotions/{candidate['id']}/perform", 409)
    for to in ("milestone-candidate", "milestone"):
        made = await api.call("POST", f"/api/1/composes/{COMPOSE_ID}/promotions/", 201,
                              {"to": to})
        await other.call("POST", f"/api/1/promotions/{made['id']}/perform", 200)
    await api.call("POST", f"/api/1/composes/{COMPOSE_ID}/removal", 200,
                   {"reason": "expired from storage"})

    await check_state(api)
    await check_messages(queue, prefix)


async def check_state(api: Api) -> None:
    assert await api.tags() == ["installability-passed", "milestone", "milestone-candidate",
                                "nightly", "qa-passed"]
    status = await api.call("GET", f"/api/1/composes/{COMPOSE_ID}/status", 200)
    assert status["promotion_state"] == "milestone" and status["removed"] is True
    assert status["removed_reason"] == "expired from storage"
    promotions = (await api.call("GET", f"/api/1/composes/{COMPOSE_ID}/promotions/", 200)
                  )["promotions"]
    assert [(p["to"], p["state"]) for p in promotions] == [
        ("nightly", "performed"), ("milestone-candidate", "rejected"),
        ("milestone-candidate", "performed"), ("milestone", "performed")]
    changes = (await api.call("GET", f"/api/1/composes/{COMPOSE_ID}/changes/", 200)
               )["changes"]
    assert [c["action"] for c in changes] == [
        "created", "tagged", "promotion_requested", "tagged", "tagged",
        "tagged", "untagged", "promoted",
        "tagged", "promotion_requested", "untagged", "promotion_rejected",
        "tagged", "promotion_requested", "tagged", "untagged", "promoted",
        "tagged", "promotion_requested", "tagged", "untagged", "promoted",
        "removed"]
    locations = (await api.call("GET", f"/api/1/composes/{COMPOSE_ID}/locations/", 200)
                 )["locations"]
    assert [loc["url"] for loc in locations] == ["https://a.example/c"]


async def check_messages(queue: BoundQueue, prefix: str) -> None:
    expected = [
        "compose-created",
        "compose-tagged", "compose-promotion-requested",
        "compose-tagged", "compose-tagged",
        "compose-promotion-reminder",
        "compose-tagged", "compose-untagged", "compose-promoted",
        "compose-tagged", "compose-promotion-requested",
        "compose-untagged", "compose-promotion-rejected",
        "compose-tagged", "compose-promotion-requested",
        "compose-tagged", "compose-untagged", "compose-promoted",
        "compose-tagged", "compose-promotion-requested",
        "compose-tagged", "compose-untagged", "compose-promoted",
        "compose-removed",
    ]
    received = await queue.wait_for(len(expected))
    assert [m.routing_key.removeprefix(prefix) for m in received] == expected
    assert len({m.message_id for m in received}) == len(expected)
    for message in received:
        body = json.loads(message.body)
        cls = PUBLISHED_BY_EVENT[body["event"]]
        cls(body=body, topic=message.routing_key).validate()
        assert message.properties.headers["fedora_messaging_schema"] == SCHEMA_NAMES[cls]
    bodies = [json.loads(m.body) for m in received]
    reminder = bodies[5]
    assert reminder["agent"] is None and reminder["promotion"]["to"] == "nightly"
    assert reminder["promotion"]["state"] == "requested"
    assert bodies[6]["tag"] == "nightly" and bodies[7]["tag"] == "nightly-requested"
    assert bodies[12]["promotion"]["decision_reason"] == "installer crashes"
    assert bodies[-1]["compose"]["removed"] is True
    assert bodies[-2]["compose"]["tags"] == ["installability-passed", "milestone",
                                             "milestone-candidate", "nightly", "qa-passed"]
