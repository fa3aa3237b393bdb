"""The write path's retry policy: a transaction that meets a transient conflict
(ctsd.db.failures) runs again, up to ATTEMPTS times in all, each time after a short
random pause.

The first attempt runs outside tenacity. Its retry state machine (built for every
transaction, iterated around every attempt) cost about 2 % of a worker's CPU under the
benchmark's create at c=8, for transactions that almost never conflict; once one does,
tenacity runs the attempts left.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_random,
)

from ctsd.db.failures import is_transient

T = TypeVar("T")
ATTEMPTS = 4
PAUSE = wait_random(0, 0.05)


async def with_retries(attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt()`'s result; `attempt` runs again while it fails transiently, up to
    ATTEMPTS runs. Any other error, or the last attempt's, is raised as it is."""
    try:
        return await attempt()
    except Exception as exc:
        if not is_transient(exc):
            raise
    async for retry in _attempts_left():
        with retry:
            return await attempt()
    raise AssertionError("unreachable: tenacity re-raises the last error")


def _attempts_left() -> AsyncRetrying:
    return AsyncRetrying(retry=retry_if_exception(is_transient),
                         stop=stop_after_attempt(ATTEMPTS - 1), wait=PAUSE,
                         before=_pause_before_first, reraise=True)


async def _pause_before_first(state: RetryCallState) -> None:
    # tenacity pauses between its own attempts; this is the pause after the first one.
    if state.attempt_number == 1:
        await asyncio.sleep(PAUSE(state))
