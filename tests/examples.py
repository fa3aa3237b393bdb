"""Real message bodies CTS publishes (tests/fixtures/published), for schema and relay tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PUBLISHED_EXAMPLES = Path(__file__).parent / "fixtures" / "published"


def published_example(name: str) -> dict[str, Any]:
    """The body in tests/fixtures/published/<name>.json (a fresh copy every call)."""
    return json.loads((PUBLISHED_EXAMPLES / f"{name}.json").read_text())


def published_example_names() -> list[str]:
    return sorted(path.stem for path in PUBLISHED_EXAMPLES.glob("*.json"))
