"""The server side of HTTPS for `ctsd serve`: certificate, key, and client CA."""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ctsd.config import Settings


def server_ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """None for plain HTTP. With tls_client_ca, client certificates are requested and
    checked against it, but optional: anonymous GETs of public endpoints still work."""
    if not settings.tls_cert:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(settings.tls_cert, settings.tls_key)
    if settings.tls_client_ca:
        context.load_verify_locations(cafile=settings.tls_client_ca)
        context.verify_mode = ssl.CERT_OPTIONAL
    return context
