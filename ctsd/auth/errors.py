"""Failures of authentication that are not the caller's fault.

A caller whose credentials are wrong gets `handlers.errors.NotAuthenticated` (401).
When a service we need to decide (identity provider keys, group directory) does not
answer, the answer is 503: guessing would either refuse or admit the wrong people.
"""

from __future__ import annotations


class AuthUnavailable(Exception):
    """Transient: the same request may succeed later."""
