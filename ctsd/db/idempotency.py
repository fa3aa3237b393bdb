"""Idempotency-Key answers: a retried request with the same key gets the first answer.

The key is claimed by an insert in the command's own transaction, so a concurrent
request with the same key waits on it until that transaction ends, then finds the
stored answer instead of doing the work again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from ctsd.db.engine import upsert_insert
from ctsd.db.kept_answers import body_hash
from ctsd.db.tables import idempotency_keys
from handlers.errors import Conflict, InvalidInput

MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class Idempotency:
    """An Idempotency-Key sent with a request, and a hash of the request it keys."""

    key: str
    request_hash: str

    @classmethod
    def for_request(cls, key: str, payload: Any) -> Idempotency:
        if not key or len(key) > MAX_KEY_LENGTH:
            raise InvalidInput("Idempotency-Key must be 1 to 255 characters")
        return cls(key, body_hash(payload))


async def claim_key(conn: AsyncConnection, username: str, idem: Idempotency,
                    now: datetime, ttl: timedelta) -> Any | None:
    """Claim the key for this transaction (None), or answer what its first use answered.

    A key older than `ttl` is forgotten first; a key used with a different request is a
    Conflict.
    """
    keys = idempotency_keys.c
    mine = (keys.username == username) & (keys.key == idem.key)
    await conn.execute(delete(idempotency_keys).where(mine, keys.created_at < now - ttl))
    claim = (
        upsert_insert(conn, idempotency_keys)
        .values(username=username, key=idem.key, request_hash=idem.request_hash,
                status=0, response="", created_at=now)
        .on_conflict_do_nothing()
        .returning(keys.key)
    )
    if (await conn.execute(claim)).first() is not None:
        return None
    row = (await conn.execute(select(idempotency_keys).where(mine))).one()
    if row.request_hash != idem.request_hash:
        raise Conflict("Idempotency-Key was already used with a different request")
    return json.loads(row.response)


async def store_answer(conn: AsyncConnection, username: str, idem: Idempotency,
                       answer: Any) -> None:
    """Record the answer under the key claimed by claim_key in this transaction."""
    await conn.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.username == username, idempotency_keys.c.key == idem.key)
        .values(status=200, response=json.dumps(answer))
    )
