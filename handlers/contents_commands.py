"""Commands about compose contents (issue #12): import, and a fetch that gave up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CONTENT_KINDS = ("rpms", "images")


@dataclass(frozen=True)
class ImportComposeContents:
    """Store a compose's `rpms.json` or `images.json` (`kind`), replacing what was
    stored; identical contents change nothing. `document` is the parsed JSON.
    `fetch_url` is set when the automatic fetch imports: its job is completed in the
    same transaction."""

    compose_id: str
    kind: str
    document: Any
    fetch_url: str | None = None


@dataclass(frozen=True)
class FetchComposeContents:
    """Queue the automatic fetch of a compose's rpms.json / images.json from
    `compose_url` (the top of a compose tree; default: the compose's own location),
    whatever its build status says. The bus's way to import contents: a file of tens
    of megabytes does not belong in a message, its location does."""

    compose_id: str
    compose_url: str | None = None


@dataclass(frozen=True)
class RecordContentsFetchFailure:
    """The automatic fetch of a compose's contents failed for good: record why."""

    compose_id: str
    reason: str
