"""One log line per outage window instead of one per refused request.

While the database is away every request answers 503: under load that was ~800
warning lines in 4 s, which buries everything else and can trip journald's rate
limit. The first 503 of a window is logged as it comes; the rest of that window are
counted and logged as one line when it ends.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

WINDOW_SECONDS = 10.0


class OutageLog:
    """Logs the first outage of each window, then one count of the others."""

    def __init__(self, log: logging.Logger, window_seconds: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = log
        self._window = window_seconds
        self._clock = clock
        self._window_ends = float("-inf")
        self._counted = 0

    def record(self, what: str) -> None:
        """One request refused because the database is away (`what` says which)."""
        now = self._clock()
        if now >= self._window_ends:
            self._log_counted()
            self._window_ends = now + self._window
            self._log.warning("database unavailable on %s (503; more within %g s are "
                              "counted, then logged as one line)", what, self._window)
            return
        self._counted += 1
        if self._counted == 1:
            # Report this window's count when it ends, even if no request follows.
            asyncio.get_running_loop().call_later(self._window_ends - now, self._log_counted)

    def _log_counted(self) -> None:
        if self._counted:
            self._log.warning("database unavailable: %d more requests answered 503 in "
                              "%g s", self._counted, self._window)
            self._counted = 0
