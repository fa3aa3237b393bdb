"""TLS client certificates, verified by ctsd itself (`ctsd serve` with [http] tls_* options).

The TLS layer already checked the chain against tls_client_ca: a certificate from any
other CA ends the handshake before HTTP starts, so no request is ever read from such a
client. Here the verified certificate's subject names the user.
"""

from __future__ import annotations

from aiohttp import web
from cryptography import x509
from cryptography.x509.oid import NameOID

from ctsd.auth.groups import GroupResolver
from ctsd.auth.settings import CertSettings
from handlers.errors import NotAuthenticated
from handlers.identity import Actor

BACKEND = "cert"

SUBJECT_ATTRIBUTES = {
    "CN": NameOID.COMMON_NAME,
    "UID": NameOID.USER_ID,
    "emailAddress": NameOID.EMAIL_ADDRESS,
    "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "O": NameOID.ORGANIZATION_NAME,
}


def username_from_certificate(der: bytes, attribute: str) -> str | None:
    """The first value of `attribute` (a SUBJECT_ATTRIBUTES name) in the subject."""
    subject = x509.load_der_x509_certificate(der).subject
    for value in subject.get_attributes_for_oid(SUBJECT_ATTRIBUTES[attribute]):
        text = value.value if isinstance(value.value, str) else value.value.decode()
        if text.strip():
            return text.strip()
    return None


class CertBackend:
    def __init__(self, config: CertSettings, groups: GroupResolver) -> None:
        # ctsd.auth.settings only accepts names of SUBJECT_ATTRIBUTES.
        self._attribute = config.username_attribute
        self._groups = groups

    async def authenticate(self, request: web.Request) -> Actor | None:
        transport = request.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport else None
        der = ssl_object.getpeercert(binary_form=True) if ssl_object is not None else None
        if not der:
            return None  # plain HTTP, or HTTPS without a client certificate
        username = username_from_certificate(der, self._attribute)
        if username is None:
            raise NotAuthenticated(f"The client certificate's subject has no "
                                   f"{self._attribute} to name the user")
        return Actor(username, await self._groups.groups_for(username), backend=BACKEND)
