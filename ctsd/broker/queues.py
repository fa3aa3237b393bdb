"""The arguments the consumer declares its queues with ([consumer] queue_type,
single_active_consumer).

Several `ctsd consume` processes on one queue with a single active consumer: the
broker delivers to one of them only, in queue order, and when its connection goes (a
crash closes the socket at once; a dead host is noticed after two missed heartbeats)
it hands the queue, unacknowledged messages first, to the next. That keeps every
compose's order without a lock of ours. Pungi's notifications name their compose only
in the body, so partitioning by compose (a consistent-hash exchange hashes routing
keys or headers) cannot be done by the broker for them; one active consumer applies
well over 1,000 messages/s in batches, which is enough.

Changing either setting on an existing queue makes the broker refuse the declaration
(PRECONDITION_FAILED); the operator then drains and deletes the queue (README).
"""

from __future__ import annotations

from typing import Any


def consumer_queue_arguments(queue_type: str, single_active: bool) -> dict[str, Any]:
    arguments: dict[str, Any] = {}
    if queue_type != "classic":  # classic is the default: declare it as before
        arguments["x-queue-type"] = queue_type
    if single_active:
        arguments["x-single-active-consumer"] = True
    return arguments


def dead_letter_queue_arguments(queue_type: str) -> dict[str, Any]:
    """Read by people and tools, never consumed by ctsd: only its durability matters."""
    return {"x-queue-type": queue_type} if queue_type != "classic" else {}
