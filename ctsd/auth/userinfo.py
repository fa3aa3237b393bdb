"""Groups from the identity provider's UserInfo endpoint, asked with the user's own
access token (as the existing CTS does behind mod_auth_openidc).

Answers are cached briefly per token. Any failure (unreachable, non-200, not JSON, no
groups claim) counts as no groups from this source, as in the existing CTS: the user is
still who the proxy says, only without the rights groups would give.
"""

from __future__ import annotations

import hashlib
import logging
import time

import aiohttp

log = logging.getLogger(__name__)

_MAX_CACHED_TOKENS = 10000


class UserInfoGroups:
    def __init__(self, url: str, claim: str = "groups", ttl_seconds: float = 60.0,
                 timeout_seconds: float = 5.0) -> None:
        self._url = url
        self._claim = claim
        self._ttl = ttl_seconds
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None
        # sha256(token) -> (expires at, groups): tokens themselves are not kept.
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    async def groups_for_token(self, token: str) -> frozenset[str]:
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._cache.get(key)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        groups = await self._fetch(token)
        if len(self._cache) >= _MAX_CACHED_TOKENS:
            self._cache.clear()
        self._cache[key] = (time.monotonic() + self._ttl, groups)
        return groups

    async def _fetch(self, token: str) -> frozenset[str]:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.get(
                    self._url, headers={"Authorization": f"Bearer {token}"}) as reply:
                if reply.status != 200:
                    log.warning("UserInfo answered %d: no groups from it", reply.status)
                    return frozenset()
                claims = await reply.json(content_type=None)
        except (TimeoutError, aiohttp.ClientError, ValueError) as exc:
            log.warning("UserInfo failed (%s): no groups from it", type(exc).__name__)
            return frozenset()
        groups = claims.get(self._claim) if isinstance(claims, dict) else None
        if not isinstance(groups, list):
            return frozenset()
        return frozenset(group for group in groups if isinstance(group, str))

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
