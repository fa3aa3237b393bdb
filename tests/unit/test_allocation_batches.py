"""The batches allocations that wait are sent in (ctsd.allocations_ahead): in order, one
allocation per stream (an upsert cannot change a row twice), at most `most`."""

from __future__ import annotations

from typing import Any

from ctsd.allocations_ahead import _one_per_stream
from ctsd.db.respin_batches import WantedRespin


def _waiting(*streams: str) -> Any:
    return [(WantedRespin(stream, 0), index) for index, stream in enumerate(streams)]


def test_a_stream_waits_for_the_next_batch_when_it_is_in_this_one():
    batch, rest = _one_per_stream(_waiting("a", "b", "a", "c", "b", "a"))
    assert [index for _, index in batch] == [0, 1, 3]
    assert [index for _, index in rest] == [2, 4, 5]
    batch, rest = _one_per_stream(rest)
    assert [index for _, index in batch] == [2, 4] and [index for _, index in rest] == [5]


def test_a_batch_holds_at_most_most():
    batch, rest = _one_per_stream(_waiting("a", "b", "c"), most=2)
    assert [index for _, index in batch] == [0, 1] and [index for _, index in rest] == [2]
