"""The one write path: open a unit of work, run the command's handler, commit; run it all
again on a transient conflict.

HTTP views, the bus consumer, the CLI and the daemon's own tasks all call
`CommandBus.execute` (or `execute_batch` for a batch of bus messages). The duties
around the handler are the explicit steps of `_run`, each with its SQL in `ctsd/db/`:

1. a bus message id already processed runs nothing (`SqlUnitOfWork.claim_message`);
2. an Idempotency-Key already used answers its first answer (`ctsd.db.idempotency`);
3. an import without a key may get the answer kept for a client that went away
   (`ctsd.db.kept_answers`), claimed with its respin (`ctsd.allocations_ahead`,
   `ctsd.db.respins`) or, for a predicted respin, by the group's commit statement
   (`ctsd.respin_predictions`, `ctsd.db.predicted_imports`);
4. the handler (`handlers.HANDLERS`);
5. a keyed request's answer is stored under its key.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.allocations_ahead import AllocationsAhead
from ctsd.db import idempotency, kept_answers
from ctsd.db.errors import is_outage
from ctsd.db.failures import is_transient
from ctsd.db.idempotency import Idempotency
from ctsd.db.kept_answers import KeptAnswerClaim
from ctsd.db.predicted_imports import is_prediction_failure
from ctsd.db.respins import (
    InTransactionRespins,
    RespinAllocator,
    SeparateTransactionRespins,
)
from ctsd.db.retries import with_retries
from ctsd.db.uow import SqlUnitOfWork
from ctsd.db.waiting_tag_changes import StaleStoredAnswer
from ctsd.envelopes import BusCommand, Outcome, Request
from ctsd.group_commit import GroupCommitter, Grouped, GroupFailed
from ctsd.respin_predictions import RespinPredictions, withdraw_predictions
from handlers import HANDLERS
from handlers.commands import (
    ImportCompose,
    SetComposeUrl,
    TagCompose,
    UntagCompose,
    composes_named,
    tags_named,
)
from handlers.composes import respin_wanted
from handlers.identity import Actor, Roles

__all__ = ["BusCommand", "CommandBus", "Idempotency", "Outcome", "Request"]

log = logging.getLogger(__name__)
T = TypeVar("T")
# The small, frequent commands of release engineering's bursts: grouped when the bus
# has group commit (ctsd.group_commit). Others (promotions, contents imports: longer,
# and rare) always run alone.
GROUPED_COMMANDS = (ImportCompose, TagCompose, UntagCompose, SetComposeUrl)


@dataclass
class CommandBus:
    engine: AsyncEngine
    roles: Roles
    topic_prefix: str
    idempotency_ttl: timedelta = timedelta(hours=24)
    # The dialect's respin strategy (ctsd.bootstrap picks it).
    respins: RespinAllocator = field(default_factory=InTransactionRespins)
    # Run concurrent GROUPED_COMMANDS of this process in shared transactions, at most
    # `group_transactions` of them at a time.
    group_commit: bool = False
    group_transactions: int = 1

    def __post_init__(self) -> None:
        self._groups = (GroupCommitter(self._run_group_in_transaction, self._run_alone,
                                       max_transactions=self.group_transactions)
                        if self.group_commit else None)
        # Imports allocated on arrival, where groups run on the separate allocator;
        # or, where they can be, predicted (ctsd.respin_predictions).
        self._ahead = (AllocationsAhead(self.respins) if self.group_commit
                       and isinstance(self.respins, SeparateTransactionRespins) else None)
        self._predictions = RespinPredictions()

    async def execute(self, command: Any, actor: Actor, *,
                      idempotency: Idempotency | None = None,
                      in_reply_to: str | None = None,
                      message_id: str | None = None,
                      lost_answer_of: str | None = None) -> Outcome:
        """Run the command's handler in one transaction and commit.

        `message_id` (bus input) is recorded as processed in that same transaction; a
        message whose id is already recorded runs nothing and answers a replayed
        Outcome with no body. `lost_answer_of` (a request body hash) lets an import
        claim an answer kept for a client that went away (ctsd.db.kept_answers).
        """
        kept = (KeptAnswerClaim(actor.username, lost_answer_of)
                if lost_answer_of is not None else None)
        request = Request(idempotency, kept, in_reply_to, message_id)
        if (self._groups is None or message_id is not None
                or not isinstance(command, GROUPED_COMMANDS)):
            return await self._run_alone(Grouped(command, actor, request))
        # An HTTP import without a key is allocated (or predicted) as it arrives; one
        # whose stream and respin cannot be read fails in its handler, which says why.
        wanted = (respin_wanted(command, actor, self.roles) if self._ahead is not None
                  and isinstance(command, ImportCompose) and idempotency is None else None)
        if self._ahead is None or wanted is None:
            outcome: Outcome = await self._groups.submit(Grouped(command, actor, request))
            return outcome
        predicted = self._predictions.predict(command, *wanted)
        answered = None
        try:
            if predicted is not None:
                ahead = predicted  # its claim goes with the prediction
            else:
                ahead = await self._ahead.allocate(wanted, kept)
                if ahead.allocation.respin is None:
                    return Outcome(ahead.allocation.kept_answer, replayed=True)
                kept = None  # claimed: nothing was kept
            item = Grouped(command, actor,
                           Request(idempotency, kept, in_reply_to, message_id, ahead))
            answered = item.answer
            try:
                outcome = await self._groups.submit(item)
                return outcome
            finally:
                if not ahead.predicted:
                    await self._ahead.give_back_unused(ahead, item.answer)
        finally:
            self._predictions.settle_when_answered(wanted[0], answered)

    async def _run_alone(self, item: Grouped) -> Outcome:
        request = item.request
        return await self._in_transaction(
            lambda uow: self._run(uow, item.command, item.actor, request),
            in_reply_to=request.in_reply_to, auth_backend=item.actor.backend)

    async def _run_group_in_transaction(self,
                                        group: list[Grouped]) -> list[Outcome | None]:
        try:
            try:
                return await self._in_transaction(lambda uow: self._run_group(uow, group))
            except Exception as exc:
                if not is_prediction_failure(exc):
                    raise
                # A predicted respin was taken (ctsd.db.predicted_imports): nothing of
                # the group was kept; it runs again with every respin allocated.
                withdraw_predictions(group)
                return await self._in_transaction(lambda uow: self._run_group(uow, group))
        except StaleStoredAnswer:
            # Not the callers' fault (see _in_transaction): each command runs alone;
            # one whose kept answer an earlier attempt claimed keeps that.
            return [item.final for item in group]

    async def _run_group(self, uow: SqlUnitOfWork,
                         group: list[Grouped]) -> list[Outcome | None]:
        """The commands of a group in order, in one transaction (ctsd.group_commit).
        None for a command left to run alone: its compose is held by another
        transaction (or does not exist), and the group does not wait for it."""
        # Every command locks its compose first: take all those locks at once, in order.
        commands = [item.command for item in group]
        named = composes_named(commands)
        locked = await uow.composes.lock_all(named, skip_locked=True,
                                             tag_names=tags_named(commands),
                                             tag_changes_at_commit=True)
        # A group of imports: their rows may wait for the commit statement, which is
        # then the whole transaction (ctsd.db.waiting_composes).
        uow.composes.new_rows.at_commit = all(isinstance(command, ImportCompose)
                                             for command in commands)
        held_elsewhere = set(named) - locked
        outcomes: list[Outcome | None] = []
        for index, item in enumerate(group):
            if item.final is not None:  # a kept answer, claimed by an earlier attempt
                outcomes.append(item.final)
                continue
            if getattr(item.command, "compose_id", None) in held_elsewhere:
                outcomes.append(None)
                continue
            uow.begin_command(item.request.in_reply_to)
            uow.auth_backend = item.actor.backend
            try:
                outcome = await self._run(uow, item.command, item.actor, item.request)
            except Exception as exc:
                if is_transient(exc) or is_outage(exc) or is_prediction_failure(exc):
                    # Not this command's fault: the whole group runs again (with_retries),
                    # or each command alone once the database is back.
                    raise
                raise GroupFailed(index, exc) from exc
            if uow.answered_from_kept_answer and not isinstance(self.respins,
                                                                InTransactionRespins):
                item.final = outcome  # its claim committed on its own
            outcomes.append(outcome)
        return outcomes

    async def execute_batch(self, items: list[BusCommand]) -> list[Outcome]:
        """Run several bus commands in one transaction, in order, and commit once.

        Each message id is recorded as processed with the batch; a message already
        processed runs nothing (a replayed Outcome). One failing command fails the whole
        batch, nothing of it is kept, and the caller runs the commands one by one with
        `execute` to find out which one cannot be applied. Applying many messages per
        transaction is what lets the consumer keep up with a busy bus: most of a small
        command's cost is the round trips and the commit, not the work.
        """
        return await self._in_transaction(lambda uow: self._run_batch(uow, items))

    async def keep_lost_answer(self, actor: Actor, request_hash: str, answer: Any) -> None:
        """Keep an answer the client did not receive, for its retry (ctsd.db.kept_answers)."""
        async def keep(uow: SqlUnitOfWork) -> None:
            await kept_answers.keep(uow.connection, actor.username, request_hash, answer,
                                    uow.now())
        await self._in_transaction(keep)

    async def _in_transaction(self, work: Callable[[SqlUnitOfWork], Awaitable[T]], *,
                              in_reply_to: str | None = None,
                              auth_backend: str | None = None) -> T:
        """Open a unit of work, do `work`, commit; again on a transient conflict."""
        async def attempt() -> T:
            async with SqlUnitOfWork(self.engine, self.topic_prefix, in_reply_to,
                                     self.respins, auth_backend=auth_backend) as uow:
                result = await work(uow)
                await uow.commit()
                return result
        try:
            return await with_retries(attempt)
        except StaleStoredAnswer as exc:
            # A bug to report, and answers GET must no longer serve; the caller runs
            # the commands again the slow way.
            stale = exc.compose_pks
            log.error("stored answers of composes %s were stale, now cleared: %s",
                      stale, exc)
            await self._in_transaction(lambda uow: uow.composes.forget_stored_answers(stale))
            raise

    async def _run(self, uow: SqlUnitOfWork, command: Any, actor: Actor,
                   request: Request) -> Outcome:
        """The steps around one handler (see the module docstring)."""
        if request.message_id is not None and not await uow.claim_message(request.message_id):
            return Outcome(None, replayed=True)
        if request.idempotency is not None:
            stored = await idempotency.claim_key(uow.connection, actor.username,
                                                 request.idempotency, uow.now(),
                                                 self.idempotency_ttl)
            if stored is not None:
                return Outcome(stored, replayed=True)
        if request.kept_answer is not None:
            uow.accept_kept_answer(request.kept_answer)
        uow.composes.allocations.ahead = request.allocated_ahead
        body = await HANDLERS[type(command)](command, uow, actor, self.roles)
        if uow.answered_from_kept_answer:
            return Outcome(body, replayed=True)
        if request.idempotency is not None:
            await idempotency.store_answer(uow.connection, actor.username,
                                           request.idempotency, body)
        return Outcome(body)

    async def _run_batch(self, uow: SqlUnitOfWork, items: list[BusCommand]) -> list[Outcome]:
        fresh = await uow.claim_messages([item.message_id for item in items])
        # Every command locks its compose first: take all those locks at once.
        commands = [item.command for item in items]
        await uow.composes.lock_all(
            composes_named(commands), tag_names=tags_named(commands),
            tag_changes_at_commit=all(isinstance(command, GROUPED_COMMANDS)
                                      for command in commands))
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
            outcomes.append(Outcome(await handler(item.command, uow, item.actor, self.roles)))
        return outcomes
