"""Page parameters, the v1 pagination envelope, and absolute links to other pages."""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from aiohttp import web
from multidict import MultiMapping
from yarl import URL

from ctsd.config import Settings
from handlers.errors import InvalidInput

PAGE_PARAMETERS = ("page", "per_page")

_POSITIVE = re.compile(r"^[0-9]{1,18}$")
# A host name, IPv4 or bracketed IPv6 address, with an optional port.
_HOST = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class PageRequest:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def page_request(query: MultiMapping[str], settings: Settings) -> PageRequest:
    """page (default 1) and per_page (default and maximum from the settings)."""
    page = _positive(query, "page", 1)
    per_page = _positive(query, "per_page", settings.per_page_default)
    if per_page > settings.per_page_max:
        raise InvalidInput(f"per_page must be at most {settings.per_page_max}")
    return PageRequest(page, per_page)


def _positive(query: MultiMapping[str], key: str, default: int) -> int:
    values = [value for value in query.getall(key, []) if value]
    if len(values) > 1:
        raise InvalidInput(f"{key} may be given only once")
    if not values:
        return default
    if not _POSITIVE.match(values[0]) or int(values[0]) < 1:
        raise InvalidInput(f"{key} must be a positive integer, not {values[0]!r}")
    return int(values[0])


def envelope(request: web.Request, settings: Settings, page: PageRequest, total: int,
             items: list[Any]) -> dict[str, Any]:
    """The v1 list answer: the items and links that keep every filter of the request."""
    # Like Flask-SQLAlchemy's paginate(), which existing clients know: 0 pages when empty.
    pages = math.ceil(total / page.per_page)
    base = _absolute_url(request, settings)
    # The existing CTS (Flask url_for) writes page and per_page first, then the other
    # parameters in request order without "_"-prefixed ones; its clients compare them.
    kept = [(key, value) for key, value in request.query.items()
            if key not in PAGE_PARAMETERS and not key.startswith("_")]

    def link(number: int) -> str:
        return str(base.with_query([("page", number), ("per_page", page.per_page), *kept]))

    meta = {
        "page": page.page,
        "pages": pages,
        "per_page": page.per_page,
        "total": total,
        "first": link(1),
        "last": link(pages),  # page=0 for an empty result, as Flask-SQLAlchemy says
        "prev": link(page.page - 1) if page.page > 1 else None,
        "next": link(page.page + 1) if page.page < pages else None,
    }
    return {"items": items, "meta": meta}


def cursor_envelope(request: web.Request, settings: Settings, per_page: int,
                    next_cursor: str | None, items: list[Any]) -> dict[str, Any]:
    """A keyset page (?cursor=): no total or page count, which would cost a COUNT, and
    a `next` link carrying the cursor after this page (null on the last page)."""
    base = _absolute_url(request, settings)
    kept = [(key, value) for key, value in request.query.items()
            if key not in ("cursor", "per_page")]

    def link(cursor: str) -> str:
        return str(base.with_query([*kept, ("cursor", cursor), ("per_page", per_page)]))

    meta = {"per_page": per_page, "first": link(""),
            "next": link(next_cursor) if next_cursor is not None else None}
    return {"items": items, "meta": meta}


def _absolute_url(request: web.Request, settings: Settings) -> URL:
    scheme, host = request.scheme, request.host
    # X-Forwarded-* are plain client headers unless a proxy we trust set them; the
    # existing service believed them from anyone and so let callers forge its links.
    if _is_trusted(request.remote, settings.trusted_proxies):
        scheme = _forwarded(request, "X-Forwarded-Proto", ("http", "https")) or scheme
        host = _forwarded(request, "X-Forwarded-Host", None) or host
    if not _HOST.match(host):
        raise InvalidInput("The Host header is not a valid host name")
    return URL.build(scheme=scheme, authority=host, path=request.path)


def _forwarded(request: web.Request, header: str, allowed: tuple[str, ...] | None) -> str | None:
    values = request.headers.getall(header, [])
    if not values:
        return None
    # The right-most value is the one our trusted proxy added; earlier ones came from
    # further away (possibly from the client itself).
    value = values[-1].split(",")[-1].strip()
    if allowed is not None:
        return value.lower() if value.lower() in allowed else None
    return value if _HOST.match(value) else None


def _is_trusted(remote: str | None, proxies: frozenset[str]) -> bool:
    if not remote or not proxies:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in network for network in _networks(proxies))


@lru_cache(maxsize=8)
def _networks(proxies: frozenset[str]) -> tuple[Network, ...]:
    # Entries are addresses or CIDR networks; an entry that is neither trusts nobody.
    networks = []
    for entry in proxies:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return tuple(networks)
