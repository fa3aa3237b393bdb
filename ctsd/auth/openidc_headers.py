"""What Apache mod_auth_openidc hands the trusted-proxy backend besides the user: the
token's scope (OIDC_CLAIM_scope) and the access token, with which groups are asked from
the provider's UserInfo endpoint. Only read on connections from a trusted proxy."""

from __future__ import annotations

from aiohttp import web

from ctsd.auth.scopes import api_scopes
from ctsd.auth.settings import ProxySettings
from ctsd.auth.userinfo import UserInfoGroups


class OpenidcHeaders:
    def __init__(self, config: ProxySettings) -> None:
        self._scope_header = config.scope_header
        self._namespace = config.scope_namespace
        self._token_header = config.token_header
        self._userinfo = (UserInfoGroups(config.userinfo_url, config.userinfo_groups_claim,
                                         config.userinfo_cache_seconds)
                          if config.userinfo_url and config.token_header else None)

    @classmethod
    def from_settings(cls, config: ProxySettings) -> OpenidcHeaders | None:
        """None when neither a scope header nor UserInfo groups are configured."""
        if not config.scope_header and not (config.userinfo_url and config.token_header):
            return None
        return cls(config)

    async def read(self, request: web.Request) -> tuple[frozenset[str], frozenset[str] | None]:
        """(groups from UserInfo, API scopes); scopes None when no scope header is set
        up (then scopes are not checked, as before), empty when the header is absent."""
        scopes = None
        if self._scope_header:
            scopes = api_scopes(request.headers.get(self._scope_header, ""), self._namespace)
        groups: frozenset[str] = frozenset()
        token = request.headers.get(self._token_header, "") if self._token_header else ""
        if self._userinfo is not None and token.strip():
            groups = await self._userinfo.groups_for_token(token.strip())
        return groups, scopes

    async def close(self) -> None:
        if self._userinfo is not None:
            await self._userinfo.close()
