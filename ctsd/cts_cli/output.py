"""How `cts` subcommands print: JSON for scripts, one short line per item for people."""

from __future__ import annotations

import json
import sys
from typing import Any


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def compose_id(representation: dict[str, Any]) -> str:
    return str(representation["compose_info"]["payload"]["compose"]["id"])


def compose_line(representation: dict[str, Any]) -> str:
    """`<id>  tags: a,b  [removed]  <url>`: what a person scans a list for."""
    parts = [compose_id(representation)]
    parts.append("tags: " + (",".join(representation.get("tags") or []) or "-"))
    if representation.get("removed"):
        parts.append("[removed]")
    if representation.get("compose_url"):
        parts.append(representation["compose_url"])
    return "  ".join(parts)
