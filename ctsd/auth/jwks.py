"""The identity provider's signing keys (JWKS), fetched with aiohttp and cached.

Keys are refetched when the cache is older than `cache_seconds`, and when a token names
a key id we do not know (the provider rotated its keys) — but then at most once per
`refetch_seconds`, so tokens with made-up key ids cannot turn us into a flood of
requests to the provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import aiohttp
import jwt

from ctsd.auth.errors import AuthUnavailable

log = logging.getLogger(__name__)

FETCH_TIMEOUT = aiohttp.ClientTimeout(total=10)


class KeysUnavailable(AuthUnavailable):
    """The provider's key set could not be fetched and none is cached."""


class JwksCache:
    def __init__(self, url: str, cache_seconds: float, refetch_seconds: float,
                 issuer: str = "") -> None:
        # No url: ask the issuer's discovery document for it, on the first fetch.
        self._url = url
        self._issuer = issuer
        self._cache_seconds = cache_seconds
        self._refetch_seconds = refetch_seconds
        self._keys: dict[str | None, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def key(self, kid: str | None) -> jwt.PyJWK | None:
        """The key with this id (None: the token names none), or None if unknown."""
        if time.monotonic() - self._fetched_at > self._cache_seconds:
            await self._refresh(force=True)
        if kid not in self._keys:
            await self._refresh(force=False)
        return self._keys.get(kid)

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            age = time.monotonic() - self._fetched_at
            # Someone else refreshed while we waited, or the rate limit says not yet.
            if (force and age <= self._cache_seconds) or (
                    not force and age < self._refetch_seconds):
                return
            try:
                self._keys = _parse(await self._fetch())
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                log.warning("cannot fetch the JWKS from %s: %s",
                            self._url or f"{self._issuer} (discovery)", exc)
                if not self._keys:
                    raise KeysUnavailable("The identity provider's keys cannot be fetched "
                                          "now; try again later") from exc
                # Keep serving with the keys we have; try again after the rate limit.
            self._fetched_at = time.monotonic()

    async def _fetch(self) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=FETCH_TIMEOUT)
        if not self._url:
            self._url = await self._discover()
        return await self._get_json(self._url)

    async def _discover(self) -> str:
        """The jwks_uri of the issuer's OpenID Connect discovery document."""
        document = await self._get_json(
            self._issuer.rstrip("/") + "/.well-known/openid-configuration")
        # The document must be the issuer's own (OpenID Connect Discovery 1.0, 4.3).
        if not isinstance(document, dict) or document.get("issuer") != self._issuer:
            raise ValueError("the discovery document names another issuer")
        jwks_uri = document.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri.startswith(("https://", "http://")):
            raise ValueError("the discovery document has no jwks_uri")
        return jwks_uri

    async def _get_json(self, url: str) -> Any:
        assert self._session is not None
        async with self._session.get(url) as response:
            response.raise_for_status()
            return await response.json(content_type=None)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _parse(document: Any) -> dict[str | None, jwt.PyJWK]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWKS document")
    keys: dict[str | None, jwt.PyJWK] = {}
    for raw in document["keys"]:
        if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
            continue
        try:
            keys[raw.get("kid")] = jwt.PyJWK(raw)
        except jwt.PyJWTError as exc:
            # One key of a type we cannot use must not hide the others.
            log.info("skipping JWKS key %r: %s", raw.get("kid"), exc)
    return keys
