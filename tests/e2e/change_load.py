"""A steady load of HTTP changes on several composes, and the checks that every change
is in the database once and its message arrived, in the order of the compose's history.

Each load worker owns one compose (its own release, so its own compose id): it imports
it, then tags and untags it `rounds` times, each change with its own user_data, so that
every answer can be found again in the history and among the messages.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from tests.conftest import compose_info
from tests.e2e.conftest import query
from tests.relaying import Received, outbox_rows

TAG = "bus-load"
API = "/api/1"
RETRY_PAUSE = 0.05

EVENT_OF_ACTION = {"created": "compose-created", "tagged": "compose-tagged",
                   "untagged": "compose-untagged", "url_changed": "compose-changed",
                   "build_status": "compose-changed", "removed": "compose-removed"}
ACTION_OF_KIND = {"import": "created", "tag": "tagged", "untag": "untagged"}


@dataclass(frozen=True)
class Answered:
    """A change the server answered 200 to."""

    kind: str  # "import" | "tag" | "untag"
    compose_id: str
    user_data: str | None = None


class Targets:
    """The servers' base URLs; worker n uses urls[n % len(urls)]. While a server is down
    (`down()` … `replace()`), workers wait instead of hammering a closed port."""

    def __init__(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self.up = asyncio.Event()
        self.up.set()

    def url(self, worker: int) -> str:
        return self.urls[worker % len(self.urls)]

    def down(self) -> None:
        self.up.clear()

    def replace(self, urls: Sequence[str]) -> None:
        self.urls = list(urls)
        self.up.set()


class ChangeLoad:
    """`composes` workers, each doing 1 import + 2 * `rounds` tag/untag changes; with
    `rounds=None`, rounds go on until `finish()` (each worker completes its round).

    With `retry`, a request that fails at the connection level (the server was killed)
    is sent again once the server is back: imports carry an Idempotency-Key, and a
    repeated tag or untag is a no-op, so a retry never applies a change twice.
    """

    def __init__(self, http: aiohttp.ClientSession, targets: Targets, *, composes: int = 8,
                 rounds: int | None = 20, pause: float = 0.0, retry: bool = False) -> None:
        self.http = http
        self.targets = targets
        self.composes = composes
        self.rounds = rounds
        self.pause = pause
        self.retry = retry
        self.release = f"bus{uuid.uuid4().hex[:8]}"
        self.answered: list[Answered] = []
        self.retries = 0
        self._finishing = False

    @property
    def total(self) -> int:
        """How many changes the load makes (known in advance only with fixed rounds)."""
        assert self.rounds is not None
        return self.composes * (1 + 2 * self.rounds)

    def finish(self) -> None:
        self._finishing = True

    def release_of(self, worker: int) -> str:
        return f"{self.release}w{worker}"

    async def prepare(self) -> None:
        await self._send(0, "POST", f"{API}/tags/", {
            "name": TAG, "description": "load test tag", "documentation": "https://docs"})

    async def run(self) -> None:
        await asyncio.gather(*(self._worker(n) for n in range(self.composes)))

    async def until_answered(self, count: int) -> None:
        while len(self.answered) < count:
            await asyncio.sleep(0.02)

    async def _worker(self, n: int) -> None:
        body = {"compose_info": compose_info(short=self.release_of(n))}
        answer = await self._send(n, "POST", f"{API}/composes/", body,
                                  headers={"Idempotency-Key": str(uuid.uuid4())})
        compose_id = answer["payload"]["compose"]["id"]
        self.answered.append(Answered("import", compose_id))
        round_ = 0
        while self._another_round(round_):
            for action in ("tag", "untag"):
                await asyncio.sleep(self.pause)
                user_data = f"{action} {round_} of {compose_id}"
                await self._send(n, "PATCH", f"{API}/composes/{compose_id}",
                                 {"action": action, "tag": TAG, "user_data": user_data})
                self.answered.append(Answered(action, compose_id, user_data))
            round_ += 1

    def _another_round(self, done: int) -> bool:
        return not self._finishing if self.rounds is None else done < self.rounds

    async def _send(self, worker: int, method: str, path: str, body: dict[str, Any],
                    headers: dict[str, str] | None = None) -> Any:
        while True:
            await self.targets.up.wait()
            url = self.targets.url(worker) + path
            try:
                async with self.http.request(method, url, json=body, headers=headers) as reply:
                    text = await reply.text()
                    assert reply.status == 200, f"{method} {path}: {reply.status} {text}"
                    return json.loads(text)
            except aiohttp.ClientConnectionError:
                if not self.retry:
                    raise
                self.retries += 1
                await asyncio.sleep(RETRY_PAUSE)


def compose_of(message: Received) -> str:
    return json.loads(message.body)["compose"]["compose_info"]["payload"]["compose"]["id"]


def _identity(event: str, user_data: str | None) -> tuple[str, str | None]:
    # Only tag changes carry user_data in their message body.
    return event, user_data if event in ("compose-tagged", "compose-untagged") else None


def check_messages(database_url: str, received: list[Received]) -> int:
    """Every outbox row arrived, nothing else did, a repeated message_id always repeats
    the same message, and each compose's messages follow its history in order.

    Returns how many duplicates (repeats of a message_id) arrived.
    """
    rows = outbox_rows(database_url)
    by_id = {row.message_id: row for row in rows}
    first: dict[str, Received] = {}  # in order of arrival
    duplicates = 0
    for message in received:
        earlier = first.get(message.message_id)
        if earlier is None:
            first[message.message_id] = message
        else:
            duplicates += 1
            assert (message.routing_key, message.body) == (earlier.routing_key, earlier.body), (
                f"message_id {message.message_id} carried two different messages")
    unknown = set(first) - set(by_id)
    assert not unknown, f"{len(unknown)} messages that are not outbox rows, e.g. {unknown.pop()}"
    lost = [row for row in rows if row.message_id not in first]
    assert not lost, (f"{len(lost)} of {len(rows)} messages lost, first: row {lost[0].id} "
                      f"{lost[0].topic} sent_at={lost[0].sent_at}")

    arrived: dict[str, list[Any]] = defaultdict(list)
    for message_id, message in first.items():
        row = by_id[message_id]
        assert message.routing_key == row.topic
        arrived[row.ordering_key].append(row)
    for compose_id, seen in arrived.items():
        ids = [row.id for row in seen]
        assert ids == sorted(ids), f"messages about {compose_id} arrived out of order: {ids}"

    history: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
    for compose_id, action, user_data in query(
            database_url, "SELECT c.compose_id, h.action, h.user_data FROM compose_changes h "
            "JOIN composes c ON c.pk = h.compose_pk ORDER BY h.id"):
        history[compose_id].append(_identity(EVENT_OF_ACTION[action], user_data))
    published = {compose_id: [_identity(row.body["event"], row.body.get("user_data"))
                              for row in seen] for compose_id, seen in arrived.items()}
    assert published == dict(history), "the messages do not retell the history"
    return duplicates


def check_answers(database_url: str, answered: list[Answered], received: list[Received]
                  ) -> None:
    """Every change answered 200 is in the history exactly once, and its message arrived."""
    applied = Counter(
        (compose_id, action, user_data) for compose_id, action, user_data in query(
            database_url, "SELECT c.compose_id, h.action, h.user_data FROM compose_changes h "
            "JOIN composes c ON c.pk = h.compose_pk"))
    arrived = {(compose_of(m), *_identity(json.loads(m.body)["event"],
                                         json.loads(m.body).get("user_data")))
               for m in received}
    for answer in answered:
        action = ACTION_OF_KIND[answer.kind]
        key = (answer.compose_id, action, answer.user_data)
        assert applied[key] == 1, f"{answer} is in the history {applied[key]} times"
        assert (answer.compose_id, *_identity(EVENT_OF_ACTION[action], answer.user_data)
                ) in arrived, f"no message for {answer}"
