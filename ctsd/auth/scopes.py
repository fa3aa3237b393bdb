"""The existing API's scopes in a granted scope string, for every backend that has one
(OIDC tokens verified here, and mod_auth_openidc's OIDC_CLAIM_scope via the proxy)."""

from __future__ import annotations

from typing import Any


def api_scopes(granted: Any, namespace: str) -> frozenset[str]:
    """The API scope names (new-compose, ...) among `granted` (a space-separated string
    or a list of strings) that carry the configured namespace prefix."""
    if isinstance(granted, str):
        names = granted.split()
    elif isinstance(granted, list):
        names = [item for item in granted if isinstance(item, str)]
    else:
        names = []
    return frozenset(s[len(namespace):] for s in names if s.startswith(namespace))
