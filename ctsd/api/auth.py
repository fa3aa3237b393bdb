"""Authentication for HTTP callers: turns a request into an Actor, or refuses it.

The backends live in `ctsd.auth` (chosen by [auth] backend); this middleware decides
401 and the token scopes:

- credentials that are present but wrong (expired token, header from a non-proxy,
  ...) answer 401 on every route, public GETs included: a client with a broken token
  learns so at once instead of silently reading as anonymous;
- no credentials: public reads work anonymously; writes (any method but GET, HEAD,
  OPTIONS) answer 401;
- an OIDC token may only be used for the API operations its scopes grant (the
  existing service's scopes, below): 403 otherwise. Roles (admins, builders, taggers)
  are then the handlers' decision.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web
from aiohttp.typedefs import Middleware

from ctsd.api.errors import Handler, json_error
from ctsd.api.keys import ACTOR
from ctsd.auth.errors import AuthUnavailable
from ctsd.auth.noauth import NoAuth
from handlers.errors import Forbidden, NotAuthenticated
from handlers.identity import Actor

__all__ = ["ROUTE_SCOPES", "Authenticator", "NoAuth", "auth_middleware", "route_scope"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The scope a token needs per write route, as in the existing CTS (`require_scopes`).
ROUTE_SCOPES = {
    ("POST", "/api/1/composes/"): "new-compose",
    ("PATCH", "/api/1/composes/{compose_id}"): "edit-compose",
    ("POST", "/api/1/tags/"): "new-tag",
    ("PATCH", "/api/1/tags/{tag}"): "edit-tag",
}


def route_scope(method: str, route: str) -> str:
    """The scope a write needs. Writes added after v1 (promotions, removal, tag gates)
    edit a tag or a compose, so a token needs edit-tag or edit-compose for them."""
    if (method, route) in ROUTE_SCOPES:
        return ROUTE_SCOPES[(method, route)]
    return "edit-tag" if route.startswith("/api/1/tags/") else "edit-compose"


class Authenticator(Protocol):
    async def authenticate(self, request: web.Request) -> Actor | None: ...

    def required_scope(self, name: str) -> str: ...


def unauthenticated(message: str) -> web.Response:
    response = json_error(401, message)
    # RFC 6750/7235: a 401 names how to authenticate.
    response.headers["WWW-Authenticate"] = 'Bearer realm="CTS"'
    return response


def auth_middleware(authenticator: Authenticator) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            actor = await authenticator.authenticate(request)
        except NotAuthenticated as exc:
            return unauthenticated(exc.message)
        except AuthUnavailable as exc:
            return json_error(503, str(exc))
        if actor is not None:  # anonymous: no ACTOR, so request.get(ACTOR) is None
            request[ACTOR] = actor
        if request.method in SAFE_METHODS or request.match_info.http_exception is not None:
            return await handler(request)
        if actor is None:
            return unauthenticated(f"Authentication is required to {request.method} "
                                   f"{request.path}")
        resource = request.match_info.route.resource
        scope = route_scope(request.method, resource.canonical if resource else "")
        if not actor.has_scope(scope):
            raise Forbidden(f"The token does not grant the scope "
                            f"{authenticator.required_scope(scope)} needed for this request")
        return await handler(request)

    return middleware
