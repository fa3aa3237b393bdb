"""The enabled backends, tried in the configured order, and the factory from Settings.

Each backend answers an Actor (these credentials are good), None (no credentials of
its kind in this request: ask the next one) or raises NotAuthenticated (credentials of
its kind that are wrong). Wrong credentials end the search: a request that carries a
bad token is refused even if it also came through the proxy, never silently demoted.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from ctsd.auth.cert import CertBackend
from ctsd.auth.groups import GroupResolver, group_resolver_from
from ctsd.auth.noauth import NoAuth
from ctsd.auth.oidc import OidcBackend
from ctsd.auth.proxy import ProxyBackend
from ctsd.auth.settings import AuthConfigured
from handlers.identity import Actor


class Backend(Protocol):
    async def authenticate(self, request: web.Request) -> Actor | None: ...


class AuthChain:
    def __init__(self, backends: list[Backend], oidc: OidcBackend | None = None) -> None:
        self.backends = backends
        # Kept apart: it knows the scope namespace and owns an HTTP session to close.
        self.oidc = oidc

    async def authenticate(self, request: web.Request) -> Actor | None:
        for backend in self.backends:
            actor = await backend.authenticate(request)
            if actor is not None:
                return actor
        return None

    def required_scope(self, name: str) -> str:
        return self.oidc.required_scope(name) if self.oidc is not None else name

    async def close(self) -> None:
        # The oidc backend and a proxy backend asking UserInfo own HTTP sessions.
        for backend in self.backends:
            close = getattr(backend, "close", None)
            if close is not None:
                await close()


def authenticator_from(settings: AuthConfigured, groups: GroupResolver | None = None) -> AuthChain:
    """The chain [auth] backend names, in that order (validated by ctsd.config)."""
    groups = groups or group_resolver_from(settings)
    backends: list[Backend] = []
    oidc = None
    for name in settings.auth_backends:
        if name == "noauth":
            backends.append(NoAuth())
        elif name == "oidc":
            assert settings.auth.oidc is not None  # ctsd.config refuses it otherwise
            oidc = OidcBackend(settings.auth.oidc, groups)
            backends.append(oidc)
        elif name == "proxy":
            backends.append(ProxyBackend(settings.auth.proxy, settings.trusted_proxies,
                                         groups))
        elif name == "cert":
            backends.append(CertBackend(settings.auth.cert, groups))
    return AuthChain(backends, oidc)
