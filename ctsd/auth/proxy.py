"""A trusted front proxy (Apache with mod_auth_gssapi or mod_ssl) names the user in a header.

The header is believed only on connections from [http] trusted_proxies (addresses or
CIDR networks). From anyone else it is a forgery attempt and is refused with 401, not
ignored, so a misrouted client learns at once that it bypassed the proxy. The proxy must
remove any such header sent by its own clients before setting it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

from ctsd.auth.groups import GroupResolver
from ctsd.auth.openidc_headers import OpenidcHeaders
from ctsd.auth.settings import ProxySettings
from handlers.errors import NotAuthenticated
from handlers.identity import Actor

BACKEND = "proxy"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses or CIDR networks; raises ValueError naming an entry that is neither."""
    return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)


class ProxyBackend:
    def __init__(self, config: ProxySettings, trusted: Iterable[str],
                 groups: GroupResolver) -> None:
        self._header = config.user_header
        self._strip_realm = config.strip_realm
        self._trusted = parse_networks(trusted)
        self._groups = groups
        self._openidc = OpenidcHeaders.from_settings(config)

    async def authenticate(self, request: web.Request) -> Actor | None:
        values = request.headers.getall(self._header, [])
        if not values:
            return None
        if not self._from_proxy(request.remote):
            raise NotAuthenticated(f"The {self._header} header is accepted only from the "
                                   "trusted front proxy")
        if len(values) != 1 or not values[0].strip():
            raise NotAuthenticated(f"The {self._header} header must name exactly one user")
        username = values[0].strip()
        if self._strip_realm:
            username = username.split("@", 1)[0]
        groups = await self._groups.groups_for(username)
        if self._openidc is None:
            return Actor(username, groups, backend=BACKEND)
        extra_groups, scopes = await self._openidc.read(request)
        return Actor(username, groups | extra_groups, backend=BACKEND, scopes=scopes)

    async def close(self) -> None:
        if self._openidc is not None:
            await self._openidc.close()

    def _from_proxy(self, remote: str | None) -> bool:
        try:
            address = ipaddress.ip_address(remote or "")
        except ValueError:
            return False  # a UNIX socket or unknown peer is no configured proxy
        return any(address in network for network in self._trusted)
