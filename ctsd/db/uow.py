"""The SQL unit of work: one transaction per command, events go to the outbox in it."""

from __future__ import annotations

import functools
import logging
import uuid
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from ctsd.db.contents_store import SqlContentsStore
from ctsd.db.driver_rows import execute_many, rows_of
from ctsd.db.engine import insert_for, open_write_connection
from ctsd.db.errors import is_outage
from ctsd.db.flush_statements import (
    CHANGE_ROW,
    EVENT_ROW,
    GROUP_FLUSH,
    GROUP_FLUSH_WITH_COMPOSES,
    GROUP_FLUSH_WITH_TAG_CHANGES,
    SINGLE_FLUSH,
    SINGLE_FLUSH_WITH_ANSWER,
    change_params,
    event_params,
    group_flush_params,
    single_flush_params,
    tag_changes_params,
)
from ctsd.db.gate_store import SqlGateStore
from ctsd.db.kept_answers import KeptAnswerClaim
from ctsd.db.location_store import SqlLocationStore
from ctsd.db.predicted_imports import write_predicted_group
from ctsd.db.promotion_store import SqlPromotionStore, SqlRemovalRequestStore
from ctsd.db.rendering import STORE_ANSWER
from ctsd.db.respins import InTransactionRespins, RespinAllocator
from ctsd.db.stores import SqlComposeStore
from ctsd.db.tables import processed_messages
from ctsd.db.tag_store import SqlTagStore
from ctsd.db.waiting_composes import new_compose_params
from ctsd.db.waiting_tag_changes import check_written
from ctsd.observability.tracing import outbox_traceparent

if TYPE_CHECKING:
    from handlers.ports import UnitOfWork

OUTBOX_CHANNEL = "cts_outbox"  # NOTIFY channel of the outbox trigger (migration 0003)
log = logging.getLogger(__name__)


@functools.cache
def _claim_message_statement(dialect: str) -> Any:
    return (insert_for(dialect)(processed_messages).on_conflict_do_nothing()
            .returning(processed_messages.c.message_id))


def utcnow() -> datetime:
    return datetime.now(UTC)


class SqlUnitOfWork:
    """Use as `async with SqlUnitOfWork(...) as uow:`; commit with `await uow.commit()`.

    Leaving the block without commit rolls everything back, events included.
    """

    composes: SqlComposeStore
    tags: SqlTagStore
    promotions: SqlPromotionStore
    gates: SqlGateStore
    locations: SqlLocationStore
    removal_requests: SqlRemovalRequestStore

    def __init__(self, engine: AsyncEngine, topic_prefix: str,
                 in_reply_to: str | None = None, respins: RespinAllocator | None = None,
                 *, auth_backend: str | None = None) -> None:
        self._engine = engine
        # The backend the acting user authenticated with: the stores stamp it on every
        # history row. A batch of commands sets it per command.
        self.auth_backend = auth_backend
        self._respins: RespinAllocator = respins or InTransactionRespins()
        self._topic_prefix = topic_prefix
        self._in_reply_to = in_reply_to
        self._conn: AsyncConnection | None = None
        self._now = utcnow()
        # Rows nothing reads back before commit (compose history, outbox) are written
        # together at commit: on PostgreSQL the usual one-of-each in a single statement.
        self._pending_changes: list[dict[str, Any]] = []
        self._pending_events: list[dict[str, Any]] = []

    @property
    def connection(self) -> AsyncConnection:
        assert self._conn is not None, "unit of work used outside `async with`"
        return self._conn

    async def __aenter__(self) -> SqlUnitOfWork:
        self._conn = await open_write_connection(self._engine)
        await self._conn.begin()
        self.composes = SqlComposeStore(self._conn, self.now, self._respins,
                                        self._pending_changes.append,
                                        lambda: self.auth_backend,
                                        on_tags=self._tags_read_with_locks)
        self.gates = SqlGateStore(self._conn)
        self.tags = SqlTagStore(self._conn, self.now, lambda: self.auth_backend,
                                on_rename=self.composes.forget_tagged_answers,
                                on_gates=self.gates.know)
        self.promotions = SqlPromotionStore(self._conn, self.now)
        self.locations = SqlLocationStore(self._conn, self.now)
        self.removal_requests = SqlRemovalRequestStore(self._conn, self.now)
        self.contents = SqlContentsStore(self._conn, self.now)
        return self

    def _tags_read_with_locks(self, found: list[dict[str, Any]]) -> None:
        # The compose store exists before the tag store (which calls back into it).
        self.tags.know(found)

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._conn is not None
        try:
            if self._conn.in_transaction():
                self.composes.allocations.free_taken_ahead()
                await self._conn.rollback()
                await self._release_respins()
        finally:
            await self._conn.close()
            self._conn = None

    async def _release_respins(self) -> None:
        try:
            await self.composes.allocations.release()
        except Exception as exc:
            # Best effort: failing here only leaves a gap; the original error matters.
            # With the database away that is expected: one line, no traceback.
            log.warning("could not give back respins %s", self.composes.allocations.allocated,
                        exc_info=not is_outage(exc))

    def now(self) -> datetime:
        # One timestamp per command: its history rows and events agree on "when".
        return self._now

    async def emit(self, event: str, body: dict[str, Any], ordering_key: str | None) -> None:
        self._pending_events.append({
            "message_id": str(uuid.uuid4()), "topic": self._topic_prefix + event,
            "body": body, "ordering_key": ordering_key, "in_reply_to": self._in_reply_to,
            "traceparent": outbox_traceparent(self._in_reply_to),
            "created_at": self._now, "attempts": 0,
        })

    def accept_kept_answer(self, claim: KeptAnswerClaim) -> None:
        """Let this command's respin allocation claim the caller's kept answer instead
        (ctsd.db.kept_answers); `answered_from_kept_answer` then says it did."""
        self.composes.allocations.kept_answer_claim = claim.parameters(self._now)

    @property
    def answered_from_kept_answer(self) -> bool:
        return self.composes.allocations.claimed_kept_answer

    def begin_command(self, in_reply_to: str | None) -> None:
        """Start the next command of a batch that shares this transaction: it gets its
        own timestamp, and its events answer its own request message."""
        self._now = utcnow()
        self._in_reply_to = in_reply_to
        self.composes.allocations.next_command()

    async def claim_messages(self, message_ids: list[str]) -> set[str]:
        """Record many bus messages as processed in one statement; the ids not yet
        processed are returned (see claim_message)."""
        if not message_ids:
            return set()
        claim = _claim_message_statement(self.connection.dialect.name)
        rows = [{"message_id": message_id, "processed_at": self._now}
                for message_id in dict.fromkeys(message_ids)]
        # One statement for all rows (SQLAlchemy's "insertmanyvalues"), compiled once.
        claimed = await self.connection.execute(claim, rows)
        return set(claimed.scalars())

    async def claim_message(self, message_id: str) -> bool:
        """Record a bus message as processed by this transaction; False if it already was.

        The row commits with the message's effect or not at all, so a redelivery after a
        crash either finds it (and does nothing) or finds nothing (and does the work).
        On PostgreSQL a concurrent claim of the same id waits here for the first one.
        """
        claim = _claim_message_statement(self.connection.dialect.name)
        claimed = await self.connection.execute(
            claim, {"message_id": message_id, "processed_at": self._now})
        return claimed.first() is not None

    async def commit(self) -> None:
        await self._flush()
        # On PostgreSQL a trigger on outbox NOTIFYs relays (migration 0003); the
        # notification is delivered at commit, so relays wake up at once.
        await self.connection.commit()

    async def _flush(self) -> None:
        conn, changes, events = self.connection, self._pending_changes, self._pending_events
        answers = await self.composes.answers_to_store()
        tags_added, tags_removed = self.composes.tag_changes_to_write()
        if tags_added or tags_removed:
            await self.composes.new_rows.write_now(conn)  # (the bus never lets both wait)
        new_composes = self.composes.new_rows.take()
        if not (changes or events or answers or tags_added or tags_removed or new_composes):
            return
        predicted = self.composes.allocations.predicted
        if new_composes:
            # Imports whose rows waited (ctsd.db.waiting_composes): one statement, and
            # when nothing was sent before it, the whole transaction. With predicted
            # respins it also allocates them (ctsd.db.predicted_imports).
            params = {**group_flush_params(changes, events, answers),
                      **new_compose_params(new_composes)}
            if predicted:
                await write_predicted_group(conn, params, predicted)
            else:
                await rows_of(conn, GROUP_FLUSH_WITH_COMPOSES, params, last=True)
        elif tags_added or tags_removed:
            # Tag changes that waited for commit (PostgreSQL only: SqlComposeStore.lock_all)
            # go with the rest: a group of tag changes writes in this one statement.
            (written,) = await rows_of(conn, GROUP_FLUSH_WITH_TAG_CHANGES, {
                **group_flush_params(changes, events, answers),
                **tag_changes_params(tags_added, tags_removed)})
            check_written(tags_added, tags_removed, written)
        elif conn.dialect.name == "postgresql" and len(changes) == 1 and len(events) == 1 \
                and len(answers) <= 1:
            # One history row, one event and the changed compose's answer (an import
            # stores its own with the INSERT): what almost every command writes, in one
            # statement (ctsd.db.flush_statements).
            statement = SINGLE_FLUSH_WITH_ANSWER if answers else SINGLE_FLUSH
            await rows_of(conn, statement, single_flush_params(
                changes[0], events[0], answers[0] if answers else None))
        elif conn.dialect.name == "postgresql":
            # A group, or a command that writes more: also one statement, rows in order.
            await rows_of(conn, GROUP_FLUSH, group_flush_params(changes, events, answers))
        else:
            # SQLite: row order kept by executemany.
            if answers:
                await execute_many(conn, STORE_ANSWER, answers)
            if changes:
                await execute_many(conn, CHANGE_ROW, [change_params(row) for row in changes])
            if events:
                await execute_many(conn, EVENT_ROW, [event_params(row) for row in events])
        changes.clear()
        events.clear()


if TYPE_CHECKING:
    # mypy holds the SQL unit of work to the handlers' port.
    def _satisfies_the_port(uow: SqlUnitOfWork) -> UnitOfWork:
        return uow
