"""Imports whose answer never reached the client, kept briefly for the client's retry.

Pungi sends no Idempotency-Key but retries a POST for about two minutes when the
connection fails. When an import commits and the server then finds the client gone,
the answer is kept under a key made of the caller and a hash of the exact body; the
next identical import by the same caller within KEPT_ANSWER_TTL gets that answer
instead of a second compose. Only one retry can claim it (the row is deleted as it is
read), and a delivered answer is never kept, so identical imports whose answers arrive
(several composes of one release on one day) each still get their own compose.

The claim is made by the respin allocation (ctsd.db.respins): nothing is written before
it, and a kept answer belongs to an identical body, which passed the same checks.

The rows live in the idempotency_keys table under a prefix no client key can collide
with, because client keys are stored per user exactly as sent and this prefix holds a
character a header value cannot carry.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.engine import upsert_insert
from ctsd.db.tables import idempotency_keys

KEPT_ANSWER_TTL = timedelta(minutes=5)
_PREFIX = "lost-answer\n"

# Built once: this runs on every import without a key, so it must stay cheap. On
# PostgreSQL it runs inside the respin allocation statement (ctsd.db.compose_statements).
CLAIM = (
    delete(idempotency_keys)
    .where(idempotency_keys.c.username == bindparam("lost_username"),
           idempotency_keys.c.key == bindparam("lost_key"),
           idempotency_keys.c.created_at > bindparam("lost_since"))
    .returning(idempotency_keys.c.response)
)


def body_hash(body: Any) -> str:
    """The hash that names an exact request body (canonical JSON, SHA-256)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class KeptAnswerClaim:
    """Which kept answer an import may claim: its caller's, for this exact body."""

    username: str
    request_hash: str

    def parameters(self, now: datetime) -> dict[str, Any]:
        """The bound parameters of CLAIM (alone or inside the respin allocation)."""
        return {"lost_username": self.username, "lost_key": _PREFIX + self.request_hash,
                "lost_since": now - KEPT_ANSWER_TTL}


async def claim(conn: AsyncConnection, parameters: dict[str, Any]) -> Any | None:
    """The kept answer `parameters` name, removed as it is taken; else None."""
    row = (await conn.execute(CLAIM, parameters)).first()
    return json.loads(row.response) if row else None


async def keep(conn: AsyncConnection, username: str, request_hash: str, answer: Any,
               now: datetime) -> None:
    """Keep `answer` for the caller's next identical request (replaces an older one)."""
    values = {"username": username, "key": _PREFIX + request_hash,
              "request_hash": request_hash, "status": 200, "response": json.dumps(answer),
              "created_at": now}
    await conn.execute(
        upsert_insert(conn, idempotency_keys).values(**values)
        .on_conflict_do_update(index_elements=["username", "key"], set_=values)
    )
