"""The per-compose order check of bench/bus_bench.py, on every message of a run.

Each bus request's user_data is "bench <n>", n rising in publish order, so for every
compose the applied history (compose_changes) and the change messages, in arrival
order, must list its n's in rising order, each exactly once.
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any


def bench_number(user_data: str | None) -> int | None:
    if not user_data or not user_data.startswith("bench "):
        return None
    return int(user_data.split()[1])


def check_applied_order(conn: Any) -> int:
    """Raise unless every compose's history has its bench requests in publish order;
    return how many were checked."""
    per_compose: dict[int, list[int]] = defaultdict(list)
    with conn.cursor() as cur:
        cur.execute("SELECT compose_pk, user_data FROM compose_changes ORDER BY id")
        for compose_pk, user_data in cur.fetchall():
            number = bench_number(user_data)
            if number is not None:
                per_compose[compose_pk].append(number)
    return _check(per_compose, "applied")


def check_published_order(arrivals: list[tuple[float, str | None, bytes]]) -> int:
    """The same for the change messages, in the order they arrived."""
    per_compose: dict[str, list[int]] = defaultdict(list)
    seen: set[str | None] = set()
    for _, correlation_id, body in arrivals:
        message = json.loads(body)
        number = bench_number(message.get("user_data"))
        if "event" not in message or number is None or correlation_id in seen:
            continue  # a request itself, not a bench answer, or a re-publication
        seen.add(correlation_id)
        compose = message["compose"]["compose_info"]["payload"]["compose"]["id"]
        per_compose[compose].append(number)
    return _check(per_compose, "published")


def _check(per_compose: dict[Any, list[int]], what: str) -> int:
    for compose, numbers in per_compose.items():
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise SystemExit(f"order broken: compose {compose}'s requests {what} as "
                             f"{numbers[:20]}...")
    return sum(len(numbers) for numbers in per_compose.values())
