"""The `[workflow]` section of ctsd.toml: promotion ladder, reminders, expiry policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from handlers.commands import DEFAULT_LADDER, ExpiryPolicy
from handlers.errors import CommandError
from handlers.tags import check_tag_name


class WorkflowConfigError(ValueError):
    """Turned into ctsd.config.ConfigError by the caller."""


@dataclass(frozen=True)
class WorkflowSettings:
    ladder: tuple[str, ...] = DEFAULT_LADDER
    # A pending promotion request is re-announced once per this many seconds; 0: never.
    reminder_interval_seconds: int = 86400
    # How often the daemon looks for due reminders and expired composes.
    check_interval_seconds: int = 60
    expiry: tuple[ExpiryPolicy, ...] = ()


_KEYS = {"ladder", "reminder_interval_seconds", "check_interval_seconds", "expire"}


def parse_workflow(raw: dict[str, Any]) -> WorkflowSettings:
    unknown = set(raw) - _KEYS
    if unknown:
        raise WorkflowConfigError(f"unknown [workflow] keys: {sorted(unknown)}")
    values: dict[str, Any] = {}
    if "ladder" in raw:
        values["ladder"] = _ladder(raw["ladder"])
    for key in ("reminder_interval_seconds", "check_interval_seconds"):
        if key in raw:
            values[key] = _whole(raw[key], key, minimum=0 if key.startswith("rem") else 1)
    if "expire" in raw:
        values["expiry"] = tuple(_policy(item) for item in _list(raw["expire"], "expire"))
    return WorkflowSettings(**values)


def _ladder(raw: Any) -> tuple[str, ...]:
    states = _list(raw, "ladder")
    if len(states) < 2 or len(set(states)) != len(states):
        raise WorkflowConfigError("[workflow] ladder must list at least two distinct states")
    for state in states:
        try:
            # Each state (and "<state>-requested") is a v1 tag name.
            check_tag_name(state)
            check_tag_name(f"{state}-requested")
        except CommandError as exc:
            raise WorkflowConfigError(f"[workflow] ladder state {state!r}: {exc.message}"
                                      ) from exc
    return tuple(states)


def _policy(raw: Any) -> ExpiryPolicy:
    if not isinstance(raw, dict) or set(raw) - {"days", "compose_type", "release_short"}:
        raise WorkflowConfigError("[[workflow.expire]] entries take days, compose_type "
                                  "and release_short")
    if "days" not in raw:
        raise WorkflowConfigError("[[workflow.expire]] needs days")
    for key in ("compose_type", "release_short"):
        if key in raw and not isinstance(raw[key], str):
            raise WorkflowConfigError(f"[[workflow.expire]] {key} must be a string")
    return ExpiryPolicy(_whole(raw["days"], "expire.days", minimum=1),
                        raw.get("compose_type"), raw.get("release_short"))


def _list(raw: Any, key: str) -> list[Any]:
    if not isinstance(raw, list):
        raise WorkflowConfigError(f"[workflow] {key} must be a list")
    return raw


def _whole(raw: Any, key: str, *, minimum: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
        raise WorkflowConfigError(f"[workflow] {key} must be a whole number >= {minimum}")
    return raw
