"""What a compose store's transaction already knows of the composes it read, and the
decorator that keeps it true when the store changes one (ctsd.db.stores)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast

from ctsd import jsonio

Mutator = TypeVar("Mutator", bound=Callable[..., Awaitable[Any]])


class KnownComposes:
    """What this transaction already knows of composes, so it need not ask again.

    `representations`: representations not changed since they were built (a command
    that announces a change and then answers it reads the compose once). `rows`: rows
    read by locking, valid until a column changes. `answers`: the stored answers of
    locked rows (`current` turns one into a representation). Entries go when the
    compose changes (`forget`, called only by the `changes_compose` decorator) or when
    another change alters its answer (the store's `forget_stored_answers`).
    """

    def __init__(self) -> None:
        self.representations: dict[int, dict[str, Any]] = {}
        self.rows: dict[int, Any] = {}
        self.pks: dict[str, int] = {}
        # Composes this transaction changed, whose stored answer is written at commit
        # (ctsd.db.rendering).
        self.changed: set[int] = set()
        # The stored answers (ctsd.db.rendering) of locked rows that nothing in this
        # transaction has changed since: the compose's representation, current because
        # every change to a compose or its relations rewrites or clears its stored
        # answer, which the lock reads in its latest version.
        self.answers: dict[int, str] = {}

    def forget(self, compose_pk: int, *, columns: bool) -> None:
        self.representations.pop(compose_pk, None)
        self.answers.pop(compose_pk, None)
        self.changed.add(compose_pk)
        if columns:
            self.rows.pop(compose_pk, None)

    def current(self, compose_pk: int) -> dict[str, Any] | None:
        """The compose's representation as it is now, if known without a query."""
        if compose_pk not in self.representations and compose_pk in self.answers:
            self.representations[compose_pk] = jsonio.loads(self.answers.pop(compose_pk))
        return self.representations.get(compose_pk)


def changes_compose(*, columns: bool) -> Callable[[Mutator], Mutator]:
    """Mark a store method that changes the compose its first argument names: before it
    runs, what the transaction knew of that compose is forgotten (its locked row too
    when the method changes `composes` columns), and its stored answer is written anew
    at commit. The one place caches are invalidated: a new mutator only has to carry
    this decorator. A mutator that answers False changed nothing (a tag the compose
    already had): its stored answer stays as it is, unless something else changed it."""
    def decorate(method: Mutator) -> Mutator:
        @functools.wraps(method)
        async def changing(self: _KnowsComposes, compose_pk: int, *args: Any,
                           **kwargs: Any) -> Any:
            changed_before = compose_pk in self._known.changed
            self._known.forget(compose_pk, columns=columns)
            result = await method(self, compose_pk, *args, **kwargs)
            if result is False and not changed_before:
                self._known.changed.discard(compose_pk)
            return result
        return cast(Mutator, changing)
    return decorate


class _KnowsComposes(Protocol):
    _known: KnownComposes
