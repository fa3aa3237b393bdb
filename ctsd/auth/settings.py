"""The [auth] configuration of the real backends and group sources (see config/ctsd.toml).

`ctsd.config` owns the Settings object and calls `auth_settings_from_toml` for the
sub-tables; errors are `AuthConfigError`, which it turns into its `ConfigError`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

BACKENDS = ("noauth", "oidc", "proxy", "cert")
# Asymmetric algorithms only: with an HMAC algorithm allowed, a public key from the
# JWKS could be used as a shared secret to forge tokens ("algorithm confusion").
SAFE_ALGORITHMS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                             "ES256", "ES384", "ES512", "EdDSA"})
# Subject attributes that may name the user of a client certificate (ctsd.auth.cert).
CERT_ATTRIBUTES = ("CN", "UID", "emailAddress", "OU", "O")


class AuthConfigError(ValueError):
    """An [auth] option cannot be used; the message names it."""


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    audience: str
    # Empty: found through the provider's discovery document,
    # <issuer>/.well-known/openid-configuration (its jwks_uri).
    jwks_url: str = ""
    # Scopes are "<scope_namespace><name>", e.g. https://id.example.org/scope/cts/new-compose.
    scope_namespace: str = ""
    username_claim: str = "sub"
    groups_claim: str = "groups"
    algorithms: frozenset[str] = frozenset({"RS256", "ES256"})
    leeway_seconds: int = 30
    jwks_cache_seconds: int = 3600
    # An unknown `kid` refetches the key set at most this often: rotated keys are picked
    # up, and a flood of forged kids cannot make us hammer the provider.
    jwks_refetch_seconds: float = 10.0


@dataclass(frozen=True)
class ProxySettings:
    user_header: str = "X-Remote-User"
    # Kerberos principals arrive as user@REALM: true keeps only "user". Off by default,
    # as with e-mail-like names it would make alice@a.org and alice@b.org one user.
    strip_realm: bool = False
    # mod_auth_openidc: the token's scope (e.g. OIDC_CLAIM_scope), checked against the
    # same API scopes as [auth.oidc] (under scope_namespace). Unset: no scope check.
    scope_header: str = ""
    scope_namespace: str = ""
    # Groups from the provider's UserInfo endpoint, asked with the forwarded access
    # token (e.g. header OIDC_access_token); cached briefly, a failure gives no groups.
    token_header: str = ""
    userinfo_url: str = ""
    userinfo_groups_claim: str = "groups"
    userinfo_cache_seconds: float = 60.0


@dataclass(frozen=True)
class CertSettings:
    # Which subject attribute is the username: CN, UID, emailAddress, OU, O.
    username_attribute: str = "CN"


@dataclass(frozen=True)
class LdapSettings:
    server: str
    search_base: str
    # {username} is replaced by the LDAP-escaped username.
    search_filter: str = "(memberUid={username})"
    group_attribute: str = "cn"
    cache_ttl_seconds: float = 300.0
    timeout_seconds: float = 5.0
    # Directories that refuse anonymous searches: bind as this DN, with the password
    # read from a file (kept out of ctsd.toml, e.g. systemd's LoadCredential).
    bind_dn: str = ""
    bind_password_file: str = ""


@dataclass(frozen=True)
class AuthSettings:
    oidc: OidcSettings | None = None
    proxy: ProxySettings = field(default_factory=ProxySettings)
    cert: CertSettings = field(default_factory=CertSettings)
    ldap: LdapSettings | None = None
    # [auth.groups]: user -> groups, added to whatever other sources say.
    static_groups: tuple[tuple[str, frozenset[str]], ...] = ()


class AuthConfigured(Protocol):
    """What the backends and group sources read of the whole configuration
    (ctsd.config.Settings has it), so that ctsd.auth needs no import of ctsd.config."""

    @property
    def auth(self) -> AuthSettings: ...

    @property
    def auth_backends(self) -> tuple[str, ...]: ...

    @property
    def trusted_proxies(self) -> frozenset[str]: ...


def parse_backends(raw: Any) -> str:
    """[auth] backend: one name, a comma-separated string, or a list; kept as "a,b"."""
    names = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise AuthConfigError("[auth] backend must be a name or a list of names")
    return ",".join(name.strip() for name in names)


def backend_names(joined: str) -> tuple[str, ...]:
    return tuple(name for name in (part.strip() for part in joined.split(",")) if name)


def auth_settings_from_toml(auth: dict[str, Any]) -> AuthSettings:
    unknown = set(auth) - {"backend", "admins", "allowed_builders", "oidc", "proxy", "cert",
                           "ldap", "groups"}
    if unknown:
        raise AuthConfigError(f"unknown [auth] keys: {sorted(unknown)}")
    return AuthSettings(
        oidc=_oidc(auth["oidc"]) if "oidc" in auth else None,
        proxy=ProxySettings(**_keys(auth.get("proxy", {}), "proxy", ProxySettings, ())),
        cert=_cert(auth.get("cert", {})),
        ldap=_ldap(auth["ldap"]) if "ldap" in auth else None,
        static_groups=_static_groups(auth.get("groups", {})),
    )


def _keys(raw: Any, name: str, cls: type[DataclassInstance], required: tuple[str, ...]
          ) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise AuthConfigError(f"[auth.{name}] must be a table")
    allowed = {each.name for each in fields(cls)}
    if set(raw) - allowed:
        raise AuthConfigError(f"unknown [auth.{name}] keys: {sorted(set(raw) - allowed)}")
    missing = [key for key in required if not raw.get(key)]
    if missing:
        raise AuthConfigError(f"[auth.{name}] needs {', '.join(missing)}")
    return dict(raw)


def _oidc(raw: Any) -> OidcSettings:
    values = _keys(raw, "oidc", OidcSettings, ("issuer", "audience"))
    if "algorithms" in values:
        algorithms = frozenset(values["algorithms"])
        if not algorithms or algorithms - SAFE_ALGORITHMS:
            raise AuthConfigError(f"[auth.oidc] algorithms must be some of "
                                  f"{sorted(SAFE_ALGORITHMS)} (never none or HS*)")
        values["algorithms"] = algorithms
    if "jwks_url" in values:
        if not str(values["jwks_url"]).startswith(("https://", "http://")):
            raise AuthConfigError("[auth.oidc] jwks_url must be an http(s) URL")
    elif not str(values["issuer"]).startswith(("https://", "http://")):
        raise AuthConfigError("[auth.oidc] without jwks_url the keys are found through the "
                              "issuer's discovery document, so issuer must be an http(s) URL")
    return OidcSettings(**values)


def _cert(raw: Any) -> CertSettings:
    config = CertSettings(**_keys(raw, "cert", CertSettings, ()))
    if config.username_attribute not in CERT_ATTRIBUTES:
        raise AuthConfigError(f"[auth.cert] username_attribute must be one of "
                              f"{list(CERT_ATTRIBUTES)}")
    return config


def _ldap(raw: Any) -> LdapSettings:
    values = _keys(raw, "ldap", LdapSettings, ("server", "search_base"))
    if "{username}" not in values.get("search_filter", "{username}"):
        raise AuthConfigError("[auth.ldap] search_filter must contain {username}")
    if float(values.get("cache_ttl_seconds", 0)) < 0:
        raise AuthConfigError("[auth.ldap] cache_ttl_seconds must be 0 or more")
    if bool(values.get("bind_dn")) != bool(values.get("bind_password_file")):
        raise AuthConfigError("[auth.ldap] bind_dn and bind_password_file go together")
    return LdapSettings(**values)


def _static_groups(raw: Any) -> tuple[tuple[str, frozenset[str]], ...]:
    if not isinstance(raw, dict) or not all(
        isinstance(groups, list) and all(isinstance(g, str) for g in groups)
        for groups in raw.values()
    ):
        raise AuthConfigError('[auth.groups] maps each user to a list of groups: '
                              'alice = ["qe-team"]')
    return tuple(sorted((user, frozenset(groups)) for user, groups in raw.items()))


def validate_auth(backends: tuple[str, ...], auth: AuthSettings, *, tls_cert: str,
                  tls_client_ca: str, trusted_proxies: frozenset[str]) -> None:
    """Refuse combinations that cannot work, at start-up rather than on the first call."""
    unknown = [name for name in backends if name not in BACKENDS]
    if unknown or not backends:
        raise AuthConfigError(f"[auth] backend: unknown {unknown or 'empty list'}; "
                              f"choose from {list(BACKENDS)}")
    if "noauth" in backends and len(backends) > 1:
        raise AuthConfigError("[auth] backend: noauth lets everyone in, it cannot be "
                              "combined with other backends")
    if "oidc" in backends and auth.oidc is None:
        raise AuthConfigError("[auth] backend oidc needs an [auth.oidc] table")
    if tls_client_ca and not tls_cert:
        raise AuthConfigError("[http] tls_client_ca needs tls_cert and tls_key (HTTPS)")
    if "proxy" in backends:
        _check_proxies(trusted_proxies)
    # "cert" without TLS is refused by `ctsd serve` (its --tls-* options may supply it);
    # other commands (consume, relay) never see a certificate and need no TLS.


def _check_proxies(trusted_proxies: frozenset[str]) -> None:
    if not trusted_proxies:
        raise AuthConfigError("[auth] backend proxy needs [http] trusted_proxies (the "
                              "addresses of the front proxy)")
    for entry in trusted_proxies:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError as exc:
            raise AuthConfigError(f"[http] trusted_proxies: {entry!r} is not an address "
                                  "or CIDR network") from exc
