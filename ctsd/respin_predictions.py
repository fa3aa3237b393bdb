"""Imports whose respin this process predicts instead of allocating it ahead (PostgreSQL).

An import allocated ahead (ctsd.allocations_ahead) costs its caller a round trip before
its group's commit statement. A predicted one costs none: its group's statement bumps
the counter itself and checks the prediction (ctsd.db.predicted_imports); a wrong one
undoes the statement and the group runs again the usual way, which costs that group
the statement it wasted.

The prediction: the respin asked for on a stream this process has not seen (most
imports start a stream: a new release, version or date), else the one after the last
respin it saw there, if higher. Never for a stream with an import of this process in
flight, predicted or not: two imports of one stream in one statement would both predict
the same respin (and an upsert cannot change one counter twice in one statement), and
one allocated ahead meanwhile makes the prediction wrong (a burst of one stream's
imports). Such an import, and any the command itself shows cannot be written at commit
(it names parents or a respin, has a location or variants' arches, all written with
the compose's pk), is allocated ahead as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import Counter, OrderedDict
from typing import Any

from ctsd.db.respins import AllocatedAhead, Allocation
from ctsd.envelopes import Outcome
from handlers.contents_hooks import has_variant_arches


class RespinPredictions:
    def __init__(self, remembered: int = 4096) -> None:
        # Imports of this process in flight, per stream (predicted or not).
        self._in_flight: Counter[str] = Counter()
        # The last respin seen per stream, the most recently seen last; at most
        # `remembered` streams.
        self._last: OrderedDict[str, int] = OrderedDict()
        self._remembered = remembered

    def predict(self, command: Any, stream: str,
                requested: int) -> AllocatedAhead | None:
        """The predicted allocation of an import (handlers.commands.ImportCompose), or
        None if it is to be allocated ahead. Either way the import is in flight on its
        stream until `settle_when_answered`."""
        busy = stream in self._in_flight
        self._in_flight[stream] += 1
        if busy or command.parent_compose_ids or command.respin_of \
                or command.compose_url is not None or has_variant_arches(command.compose_info):
            return None
        last = self._last.get(stream)
        respin = requested if last is None or last < requested else last + 1
        return AllocatedAhead(stream, requested, Allocation(respin), predicted=True)

    def settle_when_answered(self, stream: str,
                             answered: asyncio.Future[Outcome] | None) -> None:
        """The import is no longer in flight once its answer is there (now, if None:
        it never got one), and a compose it created tells its stream's last respin. A
        caller that went away does not end the flight while its group may still write."""
        def settle(done: asyncio.Future[Outcome] | None) -> None:
            self._in_flight[stream] -= 1
            if self._in_flight[stream] <= 0:
                del self._in_flight[stream]
            if done is None or done.cancelled() or done.exception() is not None:
                return
            outcome = done.result()
            if not outcome.replayed:
                self._seen(stream, outcome.body)
        if answered is None or answered.done():
            settle(answered)
        else:
            answered.add_done_callback(settle)

    def _seen(self, stream: str, answer: Any) -> None:
        try:
            respin = answer["payload"]["compose"]["respin"]
        except (KeyError, TypeError):
            return
        if not isinstance(respin, int):
            return
        self._last[stream] = max(respin, self._last.get(stream, respin))
        self._last.move_to_end(stream)
        if len(self._last) > self._remembered:
            self._last.popitem(last=False)


def withdraw_predictions(group: list[Any]) -> None:
    """The group's transaction failed on a prediction: its predicted imports (items of
    ctsd.group_commit.Grouped) are to be allocated like any other when it runs again."""
    for item in group:
        ahead = item.request.allocated_ahead
        if ahead is not None and ahead.predicted:
            item.request = dataclasses.replace(item.request, allocated_ahead=None)
