"""Compose metadata rules: parsing a submitted ComposeInfo and naming the compose.

Pure functions over productmd objects; nothing here touches storage. productmd owns the
format (we never re-implement it): we only add the checks the existing service lacked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from productmd.composeinfo import ComposeInfo

from handlers import productmd_validation, v1_texts
from handlers.errors import InvalidInput

productmd_validation.install()  # validators listed once per class

# A release short name ends up in compose IDs, URLs and file names; the existing
# service let "/" through. productmd's own RELEASE_SHORT_RE is stricter than real
# data ("RHEL", "Fedora"), so allow letters, digits, dot, underscore, plus and dash.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
_NUMBER = re.compile(r"(\d+)")
MAX_RESPIN = 1_000_000
# Longest value each stored text column takes (see ctsd/db/tables.py).
_COLUMN_LIMITS = {
    "compose_id": 255, "release_version_key": 255, "type": 20, "label": 100,
    "release_name": 255, "release_short": 100,
    "release_version": 100, "release_type": 20, "base_product_name": 255,
    "base_product_short": 100, "base_product_version": 100, "base_product_type": 20,
}


@dataclass(frozen=True)
class ParsedCompose:
    """A validated ComposeInfo plus the columns the list API filters on."""

    info: ComposeInfo

    @property
    def stream(self) -> str:
        """Respins are counted per release short + version + date (the ID promise)."""
        release = self.info.release
        return stream_of(release.short, release.version, self.info.compose.date)

    def with_respin(self, respin: int) -> ParsedCompose:
        self.info.compose.respin = respin
        self.info.compose.id = self.info.create_compose_id()
        return self

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.info.serialize(out)
        # productmd omits is_layered when false; v1 clients read it in every answer.
        out["payload"]["release"]["is_layered"] = bool(self.info.release.is_layered)
        return out

    def columns(self) -> dict[str, Any]:
        compose, release = self.info.compose, self.info.release
        base = self.info.base_product if release.is_layered else None
        return {
            "compose_id": compose.id,
            "date": compose.date,
            "respin": compose.respin,
            "type": compose.type,
            "label": compose.label,
            "final": bool(compose.final),
            "release_name": release.name,
            "release_short": release.short,
            "release_version": release.version,
            "release_version_key": version_sort_key(release.version),
            "release_is_layered": bool(release.is_layered),
            "release_type": release.type,
            "release_internal": bool(release.internal),
            "base_product_name": base.name if base else None,
            "base_product_short": base.short if base else None,
            "base_product_version": base.version if base else None,
            "base_product_type": base.type if base else None,
        }


def stream_of(short: str, version: str, date: str) -> str:
    return f"{short}\x1f{version}\x1f{date}"


def likely_stream_and_respin(raw: Any) -> tuple[str, int] | None:
    """What parse_compose_info(raw) will say the stream and the requested respin are,
    read from the raw ComposeInfo without productmd (whose parse is about a tenth of an
    import's CPU): exact for any ComposeInfo that parses; None where the shape alone
    shows that it will not. A ComposeInfo that passes this and still fails to parse
    is possible (a bad variant, say): callers must be ready for that."""
    try:
        payload = raw["payload"]
        short, version = payload["release"]["short"], payload["release"]["version"]
        date, respin = payload["compose"]["date"], payload["compose"]["respin"]
    except (KeyError, TypeError):
        return None
    names = (short, version, date)
    if not all(isinstance(name, str) and _SAFE_NAME.fullmatch(name) for name in names) \
            or not isinstance(respin, int) or isinstance(respin, bool) \
            or not 0 <= respin < MAX_RESPIN:
        return None
    return stream_of(short, version, date), respin


def parse_compose_info(raw: Any) -> ParsedCompose:
    """Validate a submitted ComposeInfo with productmd; InvalidInput names what is wrong."""
    if raw is None:
        raise InvalidInput(v1_texts.NO_COMPOSE_INFO_FIELD)
    if not isinstance(raw, dict):
        raise InvalidInput('"compose_info" must be a JSON object')
    info = ComposeInfo()
    try:
        # What productmd's loads() does after reading its string back into a dict:
        # deserialize, then validate (the JSON text round trip was 4 % of an
        # import's CPU). deserialize only reads the dict.
        info.deserialize(raw)
        info.validate()
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidInput(f'Cannot parse "compose_info": {_describe(exc)}') from exc
    for label, value in (("release.short", info.release.short),
                         ("release.version", info.release.version)):
        if not isinstance(value, str) or not _SAFE_NAME.fullmatch(value):
            raise InvalidInput(
                f'Cannot parse "compose_info": {label} {value!r} may only contain letters, '
                "digits, '.', '_', '+' and '-'"
            )
    if info.release.is_layered:
        for label, value in (("base_product.short", info.base_product.short),
                             ("base_product.version", info.base_product.version)):
            if not isinstance(value, str) or not _SAFE_NAME.fullmatch(value):
                raise InvalidInput(f'Cannot parse "compose_info": {label} {value!r} is not valid')
    respin = info.compose.respin
    if not isinstance(respin, int) or isinstance(respin, bool) or not 0 <= respin < MAX_RESPIN:
        raise InvalidInput(
            f'Cannot parse "compose_info": compose.respin must be 0 to {MAX_RESPIN - 1}'
        )
    _check_date(info.compose.date)
    # The client's own id is ignored: check the id we will store, at the longest respin
    # allocation could give it, so that no allocation can overflow the column later.
    requested = info.compose.respin
    parsed = ParsedCompose(info).with_respin(MAX_RESPIN - 1)
    _check_lengths(parsed.columns())
    return parsed.with_respin(requested)


def _check_date(date: str) -> None:
    # productmd has matched it to ^\d{8}$, which lets a trailing newline and non-ASCII
    # digits through: strptime("%Y%m%d") refused both, and so does this. datetime()
    # checks the calendar as strptime did, at a tenth of its cost (1-2 % of an import).
    try:
        if len(date) != 8 or not date.isascii():
            raise ValueError(date)
        datetime(int(date[:4]), int(date[4:6]), int(date[6:]))
    except ValueError as exc:
        raise InvalidInput(f'Cannot parse "compose_info": compose.date {date!r} is not a '
                           "real calendar date") from exc


def _check_lengths(columns: dict[str, Any]) -> None:
    for column, limit in _COLUMN_LIMITS.items():
        value = columns.get(column)
        if isinstance(value, str) and len(value) > limit:
            raise InvalidInput(
                f'Cannot parse "compose_info": {column} is longer than {limit} characters'
            )


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing field {exc.args[0]!r}"
    return str(exc) or type(exc).__name__


def version_sort_key(version: str) -> str:
    """Zero-pad every number so that a plain string sort is a numeric one (8.9 < 8.10)."""
    return _NUMBER.sub(lambda match: match.group(1).zfill(12), version)
