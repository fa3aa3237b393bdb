"""What the relay's connection to its broker looks like right now, for /health/ready.

One per process (each `ctsd serve` worker runs its own relay). `refused` marks a
configuration error (the broker refused our certificate or login, or we refused its
certificate): unlike an outage, waiting does not cure it, so readiness fails.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


@dataclass
class BrokerLink:
    configured: bool = False
    connected: bool = False
    url: str = ""  # without the password
    error: str = ""
    refused: bool = False
    changed_at: float = 0.0

    def up(self, url: str) -> None:
        self.configured, self.connected, self.url = True, True, url
        self.error, self.refused, self.changed_at = "", False, time.time()

    def down(self, error: str, *, refused: bool) -> None:
        self.configured, self.connected = True, False
        self.error, self.refused, self.changed_at = error, refused, time.time()

    def forget(self) -> None:
        """The relay stopped: nothing is linked any more (and a later relay in the same
        process, as in tests, starts from a clean state)."""
        self.configured, self.connected, self.url = False, False, ""
        self.error, self.refused, self.changed_at = "", False, time.time()

    def as_json(self) -> dict[str, Any]:
        if not self.configured:
            return {"configured": False}
        return {"configured": True, "connected": self.connected, "url": self.url,
                "error": self.error or None, "credentials_refused": self.refused,
                "since": self.changed_at}


RELAY_LINK = BrokerLink()
