"""How `cts` subcommands print: JSON for scripts (--json), tables and fields for people.

On a terminal, a table's header is bold (unless $NO_COLOR is set) and rows are cut to
the terminal's width; into a pipe or a file, every cell is printed whole and plain, so
that `cts find | grep ...` never loses text to an ellipsis or escape codes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterable, Sequence
from typing import Any

BOLD, RESET = "\x1b[1m", "\x1b[0m"
GAP = "  "


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def on_terminal() -> bool:
    return sys.stdout.isatty()


def _bold(text: str) -> str:
    return f"{BOLD}{text}{RESET}" if on_terminal() and "NO_COLOR" not in os.environ else text


def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """Left-aligned columns under an upper-case header line."""
    rows = [[cell if cell else "-" for cell in row] for row in rows]
    widths = [max([len(header), *(len(row[i]) for row in rows)])
              for i, header in enumerate(headers)]
    limit = shutil.get_terminal_size().columns if on_terminal() else None
    header = GAP.join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    print(_bold(_cut(header.rstrip(), limit)))
    for row in rows:
        line = GAP.join(cell.ljust(w) for cell, w in zip(row, widths, strict=True))
        print(_cut(line.rstrip(), limit))


def _cut(line: str, limit: int | None) -> str:
    if limit is None or len(line) <= limit:
        return line
    return line[: max(limit - 1, 0)] + "…"


def print_fields(fields: Iterable[tuple[str, Any]]) -> None:
    """`Name:  value` lines; lists are joined with commas, empty values shown as -."""
    fields = list(fields)
    width = max(len(name) for name, _ in fields) + 1
    for name, value in fields:
        print(f"{_bold((name + ':').ljust(width))} {_shown(value)}")


def _shown(value: Any) -> str:
    if isinstance(value, list | tuple):
        value = ", ".join(str(item) for item in value)
    return "-" if value is None or value == "" else str(value)


def compose_id(representation: dict[str, Any]) -> str:
    return str(representation["compose_info"]["payload"]["compose"]["id"])


def compose_state(representation: dict[str, Any]) -> str:
    """`removed`, else Pungi's build status (STARTED, FINISHED, ...), else -."""
    if representation.get("removed"):
        return "removed"
    return representation.get("build_status") or "-"


COMPOSE_COLUMNS = ("id", "date", "type", "state", "tags", "location")


def compose_row(representation: dict[str, Any]) -> list[str]:
    compose = representation["compose_info"]["payload"]["compose"]
    return [compose["id"], compose.get("date") or "-", compose.get("type") or "-",
            compose_state(representation), ",".join(representation.get("tags") or []),
            representation.get("compose_url") or ""]


def print_composes(representations: Iterable[dict[str, Any]]) -> None:
    print_table(COMPOSE_COLUMNS, (compose_row(item) for item in representations))


def compose_line(representation: dict[str, Any]) -> str:
    """`<id>  tags: a,b  [removed]  <url>`: one compose after a change."""
    parts = [compose_id(representation)]
    parts.append("tags: " + (",".join(representation.get("tags") or []) or "-"))
    if representation.get("removed"):
        parts.append("[removed]")
    if representation.get("compose_url"):
        parts.append(representation["compose_url"])
    return "  ".join(parts)
