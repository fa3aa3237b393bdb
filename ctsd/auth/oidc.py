"""OpenID Connect bearer tokens (JWT access tokens), verified here with the provider's keys.

Checked: signature (with a key from the JWKS; the token's own `alg` must be one we allow
and match the key), issuer, audience, expiry and not-before. The username is one claim,
groups another plus the configured group sources, and the token's scopes limit which
API operations it may be used for (ctsd.api.auth).
"""

from __future__ import annotations

from typing import Any

import jwt
from aiohttp import web

from ctsd.auth.groups import GroupResolver
from ctsd.auth.jwks import JwksCache
from ctsd.auth.scopes import api_scopes
from ctsd.auth.settings import OidcSettings
from handlers.errors import NotAuthenticated
from handlers.identity import Actor

BACKEND = "oidc"

# What went wrong, in words a client author can act on; never the token or a key.
_REASONS: list[tuple[type[Exception], str]] = [
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not meant for this service (wrong audience)"),
    (jwt.InvalidIssuerError, "the token was not issued by the trusted identity provider "
                             "(wrong issuer)"),
    (jwt.InvalidSignatureError, "the token signature is invalid"),
    (jwt.InvalidAlgorithmError, "the token is signed with an algorithm that is not accepted"),
]


class OidcBackend:
    def __init__(self, config: OidcSettings, groups: GroupResolver,
                 jwks: JwksCache | None = None) -> None:
        self._config = config
        self._groups = groups
        self._jwks = jwks or JwksCache(config.jwks_url, config.jwks_cache_seconds,
                                       config.jwks_refetch_seconds, config.issuer)

    async def authenticate(self, request: web.Request) -> Actor | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None  # no token: another backend, or anonymous
        claims = await self.verify(token.strip())
        username = claims.get(self._config.username_claim)
        if not isinstance(username, str) or not username:
            raise NotAuthenticated(f"Invalid token: the {self._config.username_claim!r} "
                                   "claim naming the user is missing")
        groups = _strings(claims.get(self._config.groups_claim))
        groups |= await self._groups.groups_for(username)
        return Actor(username, groups, backend=BACKEND, scopes=self._scopes(claims))

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims; NotAuthenticated saying why when it is not acceptable."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise NotAuthenticated("Invalid token: it is not a signed JWT") from exc
        if header.get("alg") not in self._config.algorithms:
            # Covers "alg": "none" and HMAC algorithms before any key is looked at.
            raise NotAuthenticated(f"Invalid token: algorithm {str(header.get('alg'))[:20]!r} "
                                   "is not accepted")
        key = await self._jwks.key(header.get("kid"))
        if key is None:
            raise NotAuthenticated("Invalid token: it is signed with a key the identity "
                                   "provider does not publish (unknown key id)")
        try:
            return jwt.decode(
                token, key, algorithms=sorted(self._config.algorithms),
                audience=self._config.audience, issuer=self._config.issuer,
                leeway=self._config.leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"Invalid token: {_reason(exc)}") from exc

    def _scopes(self, claims: dict[str, Any]) -> frozenset[str]:
        raw = claims.get("scope", claims.get("scp", ""))
        return api_scopes(raw, self._config.scope_namespace)

    def required_scope(self, name: str) -> str:
        """The full scope string a client must request for an API scope name."""
        return self._config.scope_namespace + name

    async def close(self) -> None:
        await self._jwks.close()


def _reason(exc: Exception) -> str:
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"the token lacks the required {exc.claim!r} claim"
    for kind, reason in _REASONS:
        if isinstance(exc, kind):
            return reason
    return "the token is malformed"


def _strings(value: Any) -> frozenset[str]:
    if isinstance(value, list):
        return frozenset(item for item in value if isinstance(item, str))
    return frozenset()
