"""The [auth] configuration: what is accepted, and every refusal naming its key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctsd.api.auth import route_scope
from ctsd.auth.chain import authenticator_from
from ctsd.auth.noauth import NoAuth
from ctsd.auth.oidc import OidcBackend
from ctsd.auth.proxy import ProxyBackend
from ctsd.auth.settings import auth_settings_from_toml
from ctsd.config import ConfigError, load_settings
from handlers.identity import Actor

OIDC = ('[auth.oidc]\nissuer = "https://id.example.org/"\naudience = "cts"\n'
        'jwks_url = "https://id.example.org/jwks"\n')


def load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "ctsd.toml"
    path.write_text(text)
    return load_settings(path, environ={})


def test_several_backends_are_tried_in_the_configured_order(tmp_path: Path) -> None:
    settings = load(tmp_path, '[http]\ntrusted_proxies = ["10.1.0.0/16"]\n'
                    '[auth]\nbackend = ["proxy", "oidc"]\n' + OIDC
                    + '[auth.groups]\nalice = ["qe"]\n')
    assert settings.auth_backends == ("proxy", "oidc")
    assert settings.auth_backend == "proxy,oidc"  # what /api/1/about/ answers
    assert dict(settings.auth.static_groups) == {"alice": frozenset({"qe"})}
    chain = authenticator_from(settings)
    assert [type(b) for b in chain.backends] == [ProxyBackend, OidcBackend]
    assert chain.required_scope("new-tag") == "new-tag"


def test_environment_may_choose_backends(tmp_path: Path) -> None:
    path = tmp_path / "ctsd.toml"
    path.write_text(OIDC)
    settings = load_settings(path, environ={"CTSD_AUTH_BACKEND": "oidc"})
    assert settings.auth_backends == ("oidc",)
    assert [type(b) for b in authenticator_from(load(tmp_path, "")).backends] == [NoAuth]


@pytest.mark.parametrize(("content", "named"), [
    ('[auth]\nbackend = "kerberos"\n', "unknown ['kerberos']"),
    ('[auth]\nbackend = ["noauth", "oidc"]\n' + OIDC, "cannot be combined"),
    ('[auth]\nbackend = "oidc"\n', "needs an [auth.oidc] table"),
    ('[auth]\nbackend = "proxy"\n', "needs [http] trusted_proxies"),
    ('[http]\ntrusted_proxies = ["proxy.example.org"]\n[auth]\nbackend = "proxy"\n',
     "'proxy.example.org' is not an address"),
    ('[http]\ntls_client_ca = "ca.pem"\n', "tls_client_ca needs tls_cert"),
    ('[http]\ntls_cert = "c.pem"\n', "tls_cert and tls_key go together"),
    (OIDC + 'algorithms = ["none"]\n', "never none or HS*"),
    (OIDC + 'algorithms = ["HS256"]\n', "never none or HS*"),
    (OIDC + 'jwks_url = "file:///etc/passwd"\n', None),  # duplicate key: TOML error
    # jwks_url may be left out (discovery), the issuer and audience may not.
    ('[auth.oidc]\nissuer = "https://id.example.org/"\n', "needs audience"),
    ('[auth.oidc]\naudience = "cts"\n', "needs issuer"),
    ('[auth.oidc]\nissuer = "id.example.org"\naudience = "cts"\n',
     "issuer must be an http(s) URL"),
    ('[auth.oidc]\nissuer = "i"\naudience = "a"\njwks_url = "ftp://x"\n',
     "jwks_url must be an http(s) URL"),
    ('[auth.cert]\nusername_attribute = "serialNumber"\n', "username_attribute must be"),
    ('[auth.ldap]\nserver = "ldap://x"\nsearch_base = "dc=x"\nsearch_filter = "(uid=*)"\n',
     "must contain {username}"),
    ('[auth.ldap]\nserver = "ldap://x"\n', "needs search_base"),
    ('[auth.groups]\nalice = "qe"\n', "[auth.groups] maps each user"),
    ('[auth.proxy]\nheader = "X-User"\n', "unknown [auth.proxy] keys"),
    ('[auth]\nkerberos = true\n', "unknown [auth] keys"),
])
def test_bad_auth_configuration_is_refused_with_the_key_named(
        tmp_path: Path, content: str, named: str | None) -> None:
    with pytest.raises(ConfigError) as refused:
        load(tmp_path, content)
    if named is not None:
        assert named in str(refused.value)


def test_scopes_limit_only_scoped_actors() -> None:
    assert Actor("bob").has_scope("new-compose")  # proxy, cert, bus: roles decide
    token = Actor("bob", backend="oidc", scopes=frozenset({"edit-compose"}))
    assert token.has_scope("edit-compose") and not token.has_scope("new-compose")


@pytest.mark.parametrize(("method", "route", "scope"), [
    ("POST", "/api/1/composes/", "new-compose"),
    ("PATCH", "/api/1/composes/{compose_id}", "edit-compose"),
    ("POST", "/api/1/tags/", "new-tag"),
    ("PATCH", "/api/1/tags/{tag}", "edit-tag"),
    ("PUT", "/api/1/tags/{tag}/gates", "edit-tag"),
    ("POST", "/api/1/promotions/{request_id}/perform", "edit-compose"),
])
def test_every_write_route_needs_a_scope(method: str, route: str, scope: str) -> None:
    assert route_scope(method, route) == scope


def test_oidc_without_jwks_url_relies_on_discovery():
    oidc = auth_settings_from_toml({"oidc": {"issuer": "https://id.example.org/",
                                             "audience": "cts"}}).oidc
    assert oidc is not None and oidc.jwks_url == ""
