"""Parsers of single configuration values, and the error every configuration check
raises. Kept apart from ctsd/config.py (the layout of the file and the environment) so
that each stays small; ctsd.config re-exports what callers import from it."""

from __future__ import annotations

from typing import Any

from handlers.identity import PrincipalSet


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which key is wrong."""


def principals_from_toml(raw: Any, where: str) -> PrincipalSet:
    if raw is None:
        return PrincipalSet()
    if not isinstance(raw, dict) or set(raw) - {"users", "groups"}:
        raise ConfigError(f"{where} must be a table with 'users' and 'groups' lists")
    return PrincipalSet(frozenset(raw.get("users", [])), frozenset(raw.get("groups", [])))


_DRIVERS = {
    "postgresql": ("postgresql+asyncpg", "postgresql+psycopg2"),
    "sqlite": ("sqlite+aiosqlite", "sqlite"),
}


def to_driver_url(url: str, *, asynchronous: bool) -> str:
    """Swap whatever driver a URL names for the one this code path needs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(f"database url {url!r} has no scheme")
    dialect = scheme.split("+", 1)[0]
    if dialect == "postgres":
        dialect = "postgresql"
    if dialect not in _DRIVERS:
        raise ConfigError(f"database url {url!r}: only postgresql and sqlite are supported")
    return f"{_DRIVERS[dialect][0 if asynchronous else 1]}://{rest}"


def translate_paths(raw: Any) -> tuple[tuple[str, str], ...]:
    """[consumer] translate_paths: the same shape as Pungi's own `translate_paths`,
    [[path_prefix, url_prefix], ...]."""
    if not isinstance(raw, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(p, str) for p in pair)
        for pair in raw
    ):
        raise ConfigError("[consumer] translate_paths must be a list of "
                          "[path_prefix, url_prefix] pairs")
    return tuple((prefix, url) for prefix, url in raw)


def require_whole_number(value: Any, minimum: int, name: str, hint: str = "") -> None:
    """ConfigError unless `value` is an int (not a bool) of at least `minimum`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name} must be a whole number, {minimum} or more{hint}")
