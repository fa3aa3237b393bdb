"""Imports whose respin this process predicts instead of allocating it ahead (PostgreSQL).

An import allocated ahead (ctsd.allocations_ahead) costs its caller a round trip before
its group's commit statement. A predicted one costs none: its group's statement bumps
the counter itself and checks the prediction (ctsd.db.predicted_imports); a wrong one
undoes the statement and the group runs again the usual way, which costs that group
the statement it wasted.

The prediction: the respin asked for on a stream this process has not seen (most
imports start a stream: a new release, version or date), else the one after the last
respin it saw there, if higher. Never for a stream with an import of this process in
flight: two imports of one stream in one statement would both predict the same respin
(and an upsert cannot change one counter twice in one statement). Such an import, and
any the command itself shows cannot be written at commit (it names parents or a respin,
has a location or variants' arches, all written with the compose's pk), is allocated
ahead as before.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections import OrderedDict
from typing import Any

from ctsd.db.respins import AllocatedAhead, Allocation
from ctsd.envelopes import Outcome
from handlers.commands import ImportCompose
from handlers.composes import respin_wanted
from handlers.contents_hooks import has_variant_arches
from handlers.identity import Actor, Roles


class RespinPredictions:
    def __init__(self, roles: Roles, remembered: int = 4096) -> None:
        self._roles = roles
        self._in_flight: set[str] = set()
        # The last respin seen per stream, the most recently seen last; at most
        # `remembered` streams.
        self._last: OrderedDict[str, int] = OrderedDict()
        self._remembered = remembered

    def predict(self, command: ImportCompose, actor: Actor) -> AllocatedAhead | None:
        """The import's predicted allocation, or None if it is to be allocated ahead.
        A prediction made must be settled once the command is answered."""
        if command.parent_compose_ids or command.respin_of or command.compose_url is not None:
            return None
        wanted = respin_wanted(command, actor, self._roles)
        if wanted is None or has_variant_arches(command.compose_info):
            return None
        stream, requested = wanted
        if stream in self._in_flight:
            return None
        self._in_flight.add(stream)
        last = self._last.get(stream)
        respin = requested if last is None or last < requested else last + 1
        return AllocatedAhead(stream, requested, Allocation(respin), predicted=True)

    def settle_when_answered(self, predicted: AllocatedAhead,
                             answered: asyncio.Future[Outcome]) -> None:
        """`settled` once the command's answer is there: a caller that went away does
        not free its stream while its group may still write it."""
        def settle(done: asyncio.Future[Outcome]) -> None:
            outcome = None if done.cancelled() or done.exception() else done.result()
            created = outcome.body if outcome is not None and not outcome.replayed else None
            self.settled(predicted, created)
        if answered.done():
            settle(answered)
        else:
            answered.add_done_callback(settle)

    def settled(self, predicted: AllocatedAhead, answer: Any | None) -> None:
        """The predicted import was answered: `answer` is its ComposeInfo if it created
        a compose (predicted or not, that is the stream's last respin now), else None."""
        self._in_flight.discard(predicted.stream)
        try:
            respin = answer["payload"]["compose"]["respin"] if answer is not None else None
        except (KeyError, TypeError):
            respin = None
        if not isinstance(respin, int):
            return
        self._last[predicted.stream] = max(respin, self._last.get(predicted.stream, respin))
        self._last.move_to_end(predicted.stream)
        if len(self._last) > self._remembered:
            self._last.popitem(last=False)


def withdraw_predictions(group: list[Any]) -> None:
    """The group's transaction failed on a prediction: its predicted imports (items of
    ctsd.group_commit.Grouped) are to be allocated like any other when it runs again."""
    for item in group:
        ahead = item.request.allocated_ahead
        if ahead is not None and ahead.predicted:
            item.request = dataclasses.replace(item.request, allocated_ahead=None)
