"""The one write path: run a command's handler inside one unit of work and commit.

HTTP views, the bus consumer and the CLI all call `CommandBus.execute`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random

from ctsd import lost_answers
from ctsd.db.engine import upsert_insert
from ctsd.db.stores import KeptAnswer
from ctsd.db.tables import idempotency_keys
from ctsd.db.uow import SqlUnitOfWork, utcnow
from handlers import HANDLERS
from handlers.errors import Conflict, InvalidInput
from handlers.identity import Actor, Roles

log = logging.getLogger(__name__)

# PostgreSQL SQLSTATEs that mean "run the same transaction again": serialization
# failure and deadlock. IntegrityError covers two callers creating one unique thing at
# once; the second attempt then sees the first one's row and answers properly.
_RETRY_SQLSTATES = {"40001", "40P01"}


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
        return code in _RETRY_SQLSTATES or "database is locked" in str(exc.orig)
    return False


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key sent with a request, and a hash of the request it keys."""

    key: str
    request_hash: str

    @classmethod
    def for_request(cls, key: str, payload: Any) -> Idempotency:
        if not key or len(key) > 255:
            raise InvalidInput("Idempotency-Key must be 1 to 255 characters")
        return cls(key, lost_answers.body_hash(payload))


@dataclass(frozen=True)
class BusCommand:
    """A command that came from the bus, with its sender and its message id."""

    command: Any
    actor: Actor
    message_id: str


@dataclass(frozen=True)
class Outcome:
    body: Any
    replayed: bool = False
    message_ids: tuple[str, ...] = ()


class CommandBus:
    def __init__(self, engine: AsyncEngine, roles: Roles, topic_prefix: str,
                 idempotency_ttl: timedelta = timedelta(hours=24),
                 allocator: AsyncEngine | None = None) -> None:
        self.engine = engine
        # PostgreSQL: a separate small pool for respin allocation (ctsd.db.engine).
        self.allocator = allocator
        self.roles = roles
        self.topic_prefix = topic_prefix
        self.idempotency_ttl = idempotency_ttl

    async def execute(self, command: Any, actor: Actor, *,
                      idempotency: Idempotency | None = None,
                      in_reply_to: str | None = None,
                      message_id: str | None = None,
                      lost_answer_of: str | None = None) -> Outcome:
        """Run the command's handler in one transaction and commit.

        `message_id` (bus input) is recorded as processed in that same transaction; a
        message whose id is already recorded runs nothing and answers a replayed
        Outcome with no body. `lost_answer_of` (a request body hash) first claims an
        answer kept for a client that went away (ctsd.lost_answers).
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient), stop=stop_after_attempt(4),
            wait=wait_random(0, 0.05), reraise=True,
        )
        lost = None
        if lost_answer_of is not None:
            lost = lost_answers.claim_parameters(actor.username, lost_answer_of, utcnow())
        async for attempt in retrying:
            with attempt:
                try:
                    return await self._execute_once(command, actor, idempotency,
                                                    in_reply_to, message_id, lost=lost)
                except KeptAnswer as kept:
                    return Outcome(kept.answer, replayed=True)
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def _execute_once(self, command: Any, actor: Actor, idempotency: Idempotency | None,
                            in_reply_to: str | None, message_id: str | None, *,
                            lost: dict[str, Any] | None) -> Outcome:
        # With a separate allocator (PostgreSQL) the respin allocation also claims a
        # kept answer, in the same statement (ctsd.db.stores); without one it is claimed
        # here, first.
        async with SqlUnitOfWork(self.engine, self.topic_prefix, in_reply_to,
                                 self.allocator, auth_backend=actor.backend,
                                 lost_answer=lost if self.allocator else None) as uow:
            if message_id is not None and not await uow.claim_message(message_id):
                return Outcome(None, replayed=True)
            if idempotency is not None:
                stored = await self._stored_answer(uow, actor, idempotency)
                if stored is not None:
                    return Outcome(stored, replayed=True)
            if lost is not None and self.allocator is None:
                kept = await lost_answers.claim(uow.connection, lost)
                if kept is not None:
                    await uow.commit()
                    return Outcome(kept, replayed=True)
            body = await HANDLERS[type(command)](command, uow, actor, self.roles)
            if idempotency is not None:
                await self._store_answer(uow, actor, idempotency, body)
            await uow.commit()
            return Outcome(body, message_ids=tuple(uow.emitted_message_ids))

    async def execute_batch(self, items: list[BusCommand]) -> list[Outcome]:
        """Run several bus commands in one transaction, in order, and commit once.

        Each message id is recorded as processed with the batch; a message already
        processed runs nothing (a replayed Outcome). One failing command fails the whole
        batch, nothing of it is kept, and the caller runs the commands one by one with
        `execute` to find out which one cannot be applied. Applying many messages per
        transaction is what lets the consumer keep up with a busy bus: most of a small
        command's cost is the round trips and the commit, not the work.
        """
        retrying = AsyncRetrying(
            retry=retry_if_exception(_is_transient), stop=stop_after_attempt(4),
            wait=wait_random(0, 0.05), reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                async with SqlUnitOfWork(self.engine, self.topic_prefix, None,
                                         self.allocator) as uow:
                    fresh = await uow.claim_messages([item.message_id for item in items])
                    # Every command locks its compose first: take all those locks at once.
                    await uow.composes.lock_all(sorted({
                        item.command.compose_id for item in items
                        if isinstance(getattr(item.command, "compose_id", None), str)}))
                    outcomes = []
                    for item in items:
                        if item.message_id not in fresh:
                            outcomes.append(Outcome(None, replayed=True))
                            continue
                        # A duplicate within the batch is a replay of the first one.
                        fresh.discard(item.message_id)
                        uow.begin_command(in_reply_to=item.message_id)
                        uow.auth_backend = item.actor.backend
                        handler = HANDLERS[type(item.command)]
                        body = await handler(item.command, uow, item.actor, self.roles)
                        outcomes.append(Outcome(body))
                    await uow.commit()
                    return outcomes
        raise AssertionError("unreachable: tenacity re-raises the last error")

    async def keep_lost_answer(self, actor: Actor, request_hash: str, answer: Any) -> None:
        """Keep an answer the client did not receive, for its retry (ctsd.lost_answers)."""
        async with SqlUnitOfWork(self.engine, self.topic_prefix) as uow:
            await lost_answers.keep(uow.connection, actor.username, request_hash, answer,
                                    uow.now())
            await uow.commit()

    async def _stored_answer(self, uow: SqlUnitOfWork, actor: Actor,
                             idem: Idempotency) -> Any | None:
        """Claim the key for this transaction, or answer what its first use answered.

        The claim is an insert: a concurrent request with the same key waits on it until
        this transaction ends, then finds the stored answer instead of doing the work.
        """
        keys = idempotency_keys.c
        mine = (keys.username == actor.username) & (keys.key == idem.key)
        await uow.connection.execute(delete(idempotency_keys).where(
            mine, keys.created_at < uow.now() - self.idempotency_ttl))
        claim = (
            upsert_insert(uow.connection, idempotency_keys)
            .values(username=actor.username, key=idem.key, request_hash=idem.request_hash,
                    status=0, response="", created_at=uow.now())
            .on_conflict_do_nothing()
            .returning(keys.key)
        )
        if (await uow.connection.execute(claim)).first() is not None:
            return None
        row = (await uow.connection.execute(select(idempotency_keys).where(mine))).one()
        if row.request_hash != idem.request_hash:
            raise Conflict("Idempotency-Key was already used with a different request")
        return json.loads(row.response)

    async def _store_answer(self, uow: SqlUnitOfWork, actor: Actor, idem: Idempotency,
                            body: Any) -> None:
        await uow.connection.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.username == actor.username,
                   idempotency_keys.c.key == idem.key)
            .values(status=200, response=json.dumps(body))
        )
