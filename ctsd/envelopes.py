"""What the command bus (ctsd.service) takes and gives around a command: how it arrived
(`Request`, `BusCommand`) and its answer (`Outcome`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ctsd.db.idempotency import Idempotency
from ctsd.db.kept_answers import KeptAnswerClaim
from ctsd.db.respins import AllocatedAhead
from handlers.identity import Actor


@dataclass(frozen=True)
class Request:
    """How a command arrived, for the steps around its handler (all optional)."""

    # An Idempotency-Key (HTTP).
    idempotency: Idempotency | None = None
    # The caller and body hash of a keyless import whose answer may have been kept.
    kept_answer: KeptAnswerClaim | None = None
    # The bus message this command answers, and that message's dedup id.
    in_reply_to: str | None = None
    message_id: str | None = None
    # An import's respin (and pk) allocated before its transaction, or its respin
    # predicted (AllocatedAhead.predicted: its commit statement allocates it).
    allocated_ahead: AllocatedAhead | None = None


@dataclass(frozen=True)
class BusCommand:
    """A command that came from the bus, with its sender and its message id."""

    command: Any
    actor: Actor
    message_id: str


@dataclass(frozen=True)
class Outcome:
    """The handler's answer; `replayed` when it is an earlier answer given again."""

    body: Any
    replayed: bool = False
