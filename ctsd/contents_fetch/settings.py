"""`[contents]` in ctsd.toml: the automatic fetch of rpms.json / images.json."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any


class ContentsConfigError(ValueError):
    pass


@dataclass(frozen=True)
class ContentsFetchSettings:
    # false: no daemon fetches (jobs are still queued, for a daemon that does).
    fetch: bool = True
    # Tries per compose before it is given up, with the reason on the compose.
    max_attempts: int = 5
    # A claimed job is taken again by any daemon after this long (a crashed fetcher).
    lease_seconds: float = 300.0
    # One download (connect + whole body); must stay below lease_seconds.
    timeout_seconds: float = 60.0
    # Wait before try n+1: backoff_seconds * 2**(n-1), at most max_backoff_seconds.
    backoff_seconds: float = 30.0
    max_backoff_seconds: float = 3600.0
    # How often an idle daemon looks for due jobs.
    poll_seconds: float = 10.0

    def backoff(self, attempts: int) -> float:
        return float(min(self.backoff_seconds * 2 ** max(attempts - 1, 0),
                         self.max_backoff_seconds))


def parse_contents(raw: dict[str, Any]) -> ContentsFetchSettings:
    known = {field.name for field in fields(ContentsFetchSettings)}
    unknown = set(raw) - known
    if unknown:
        raise ContentsConfigError(f"unknown [contents] keys: {sorted(unknown)}")
    settings = ContentsFetchSettings(**raw)
    if settings.max_attempts < 1 or settings.timeout_seconds >= settings.lease_seconds:
        raise ContentsConfigError("[contents] needs max_attempts >= 1 and "
                                  "timeout_seconds < lease_seconds")
    return settings
