"""PostgreSQL: the respin allocations of several imports in ONE statement.

HTTP imports are allocated as their requests arrive (ctsd.allocations_ahead); under load
several arrive while one allocation is on its way, and each was a round trip of its own
on the allocator's pool (12 % of the workers' samples under create at c=8, py-spy).
Those that wait are sent together: the statement claims each import's kept answer
(ctsd.db.kept_answers) and bumps the counter of each stream whose import found none,
exactly as compose_statements' claim_then_bump does for one, and answers them in order.

One row per stream: an upsert cannot change a row twice in one statement, so the caller
sends at most one import of a stream per batch (the rest go in the next one). Counters
are bumped in stream order, so that two batches of two processes take their row locks
in the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

BATCH_ALLOCATION = """
WITH wanted AS (
    SELECT * FROM unnest($1::varchar[], $2::integer[], $3::varchar[], $4::varchar[],
                         $5::timestamptz[])
        WITH ORDINALITY AS w(stream, requested, username, key, since, n)
), claimed AS (
    DELETE FROM idempotency_keys AS k USING wanted AS w
    WHERE k.username = w.username AND k.key = w.key AND k.created_at > w.since
    RETURNING w.n, k.response
), bumped AS (
    INSERT INTO respin_counters AS c (stream, last_respin)
    SELECT stream, requested FROM wanted WHERE n NOT IN (SELECT n FROM claimed)
    ORDER BY stream
    ON CONFLICT (stream) DO UPDATE SET last_respin =
        CASE WHEN c.last_respin >= EXCLUDED.last_respin THEN c.last_respin + 1
             ELSE EXCLUDED.last_respin END
    RETURNING c.stream, c.last_respin, nextval('composes_pk_seq'::regclass) AS pk
)
SELECT w.n, b.last_respin AS respin, b.pk, k.response AS kept
FROM wanted AS w LEFT JOIN bumped AS b ON b.stream = w.stream
    LEFT JOIN claimed AS k ON k.n = w.n
ORDER BY w.n
"""


@dataclass(frozen=True)
class WantedRespin:
    """One import's allocation: its stream, the respin it asks for, and the kept answer
    it may claim (KeptAnswerClaim.parameters), if any."""

    stream: str
    requested: int
    kept: dict[str, Any] | None = None


def batch_arguments(wanted: list[WantedRespin]) -> list[list[Any]]:
    """BATCH_ALLOCATION's five array arguments, in the order of `wanted`."""
    def claim(item: WantedRespin, name: str) -> Any:
        return item.kept[name] if item.kept is not None else None
    since: list[datetime | None] = [claim(item, "lost_since") for item in wanted]
    return [[item.stream for item in wanted], [item.requested for item in wanted],
            [claim(item, "lost_username") for item in wanted],
            [claim(item, "lost_key") for item in wanted], since]
