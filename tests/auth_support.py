"""Real credentials for the authentication tests: signing keys and a JWKS endpoint, a
certificate authority, and a throw-away slapd.

Nothing here is a stand-in: tokens are signed with keys generated per test and served
from a real HTTP endpoint; certificates are real X.509; the LDAP server is Debian's slapd.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import shutil
import socket
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt
import ldap3
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from tests.conftest import read_database, service_missing

ISSUER = "https://id.example.org/"
AUDIENCE = "cts"
SCOPE_NS = "https://id.example.org/scope/cts/"
ALL_SCOPES = " ".join(SCOPE_NS + s for s in ("new-compose", "edit-compose", "new-tag",
                                              "edit-tag"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- OpenID Connect provider: keys, tokens, JWKS endpoint -------------------------------

@dataclass
class SigningKey:
    kid: str
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        return {**public, "kid": self.kid, "use": "sig", "alg": "RS256"}


class Provider:
    """An identity provider: signs tokens and publishes its keys at `jwks_url`."""

    def __init__(self) -> None:
        self.published = [SigningKey("key-1")]
        self.fetches = 0
        self._runner: web.AppRunner | None = None
        self.jwks_url = ""
        self.base_url = ""
        # What the discovery document says the issuer is (default: base_url).
        self.discovery_issuer = ""

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/jwks", self._jwks)
        app.router.add_get("/.well-known/openid-configuration", self._discovery)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.base_url = f"http://127.0.0.1:{port}"
        self.jwks_url = f"{self.base_url}/jwks"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _discovery(self, request: web.Request) -> web.Response:
        # The provider's issuer is its own base URL (what discovery expects).
        return web.json_response({"issuer": self.discovery_issuer or self.base_url,
                                  "jwks_uri": self.jwks_url})

    async def _jwks(self, request: web.Request) -> web.Response:
        self.fetches += 1
        return web.json_response({"keys": [key.jwk() for key in self.published]})

    def rotate(self) -> SigningKey:
        """Publish a new key (and stop publishing the old ones), as providers do."""
        key = SigningKey(f"key-{uuid.uuid4().hex[:8]}")
        self.published = [key]
        return key

    def token(self, sub: str = "alice", *, key: SigningKey | None = None,
              headers: dict[str, Any] | None = None, **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600,
                "scope": ALL_SCOPES, **claims}
        body = {name: value for name, value in body.items() if value is not None}
        key = key or self.published[0]
        return jwt.encode(body, key.private, algorithm="RS256",
                          headers={"kid": key.kid, **(headers or {})})


def oidc_table(jwks_url: str) -> dict[str, Any]:
    return {"issuer": ISSUER, "audience": AUDIENCE, "jwks_url": jwks_url,
            "scope_namespace": SCOPE_NS, "algorithms": ["RS256"], "leeway_seconds": 0,
            "jwks_refetch_seconds": 0.5}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- X.509: a CA that issues server and client certificates -----------------------------

class CertificateAuthority:
    def __init__(self, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.cert = (
            self._builder(subject, subject, self.key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False),
                critical=True)
            .sign(self.key, hashes.SHA256())
        )

    @staticmethod
    def _builder(subject: x509.Name, issuer: x509.Name, public_key: Any) -> x509.CertificateBuilder:
        now = dt.datetime.now(dt.UTC)
        return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
                .public_key(public_key).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1)))

    def issue(self, subject: list[tuple[Any, str]], *, server: bool = False,
              ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(oid, value) for oid, value in subject])
        builder = self._builder(name, self.cert.subject, key.public_key())
        if server:
            builder = builder.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
        usage = x509.oid.ExtendedKeyUsageOID
        builder = builder.add_extension(x509.ExtendedKeyUsage(
            [usage.SERVER_AUTH if server else usage.CLIENT_AUTH]), critical=False)
        return builder.sign(self.key, hashes.SHA256()), key

    def write(self, directory: Path, stem: str, subject: list[tuple[Any, str]], *,
              server: bool = False) -> tuple[Path, Path]:
        """PEM certificate and key files for a new certificate; returns their paths."""
        cert, key = self.issue(subject, server=server)
        cert_path, key_path = directory / f"{stem}.crt", directory / f"{stem}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
        return cert_path, key_path

    def write_ca(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path


# --- slapd --------------------------------------------------------------------------------

SUFFIX = "dc=example,dc=org"
# The directory's own admin, for tests of an authenticated bind (made up here).
ADMIN_DN = f"cn=admin,{SUFFIX}"
ADMIN_PASSWORD = "bind-test-password"
GROUPS_BASE = f"ou=Groups,{SUFFIX}"

_SLAPD_CONF = """\
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {root}/slapd.pid
database mdb
suffix "{suffix}"
rootdn "cn=admin,{suffix}"
rootpw {admin_password}
directory {root}/data
"""


def _group(name: str, gid: int, members: list[str]) -> str:
    lines = [f"dn: cn={name},{GROUPS_BASE}", "objectClass: posixGroup", f"cn: {name}",
             f"gidNumber: {gid}"] + [f"memberUid: {member}" for member in members]
    return "\n".join(lines) + "\n"


DIRECTORY_LDIF = f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {GROUPS_BASE}
objectClass: organizationalUnit
ou: Groups

{_group("qe-team", 5000, ["bob", "dave"])}
{_group("releng", 5001, ["carol", "bob"])}"""


class Slapd:
    """A slapd of our own in `root`, on a free port, with DIRECTORY_LDIF loaded."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"ldap://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("slapd") or "/usr/sbin/slapd"
        if not Path(binary).exists() or not shutil.which("slapadd", path="/usr/sbin:/usr/bin"):
            service_missing("slapd", FileNotFoundError("slapd/slapadd not installed (run "
                                                       "scripts/ensure-services.sh)"))
        (self.root / "data").mkdir(parents=True, exist_ok=True)
        conf = self.root / "slapd.conf"
        conf.write_text(_SLAPD_CONF.format(root=self.root, suffix=SUFFIX,
                                           admin_password=ADMIN_PASSWORD))
        (self.root / "directory.ldif").write_text(DIRECTORY_LDIF)
        subprocess.run([shutil.which("slapadd", path="/usr/sbin:/usr/bin"), "-f", str(conf),
                        "-l", str(self.root / "directory.ldif")],
                       check=True, capture_output=True)
        self.log = (self.root / "slapd.log").open("wb")
        # -d keeps it in the foreground (we own the process); 0 logs nothing extra.
        self.process = subprocess.Popen(
            [binary, "-h", f"{self.url}/", "-f", str(conf), "-d", "0"],
            stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()  # never leave a half-started slapd behind
            raise

    def _wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError("slapd exited: "
                                   + (self.root / "slapd.log").read_text(errors="replace"))
            try:
                with ldap3.Connection(ldap3.Server(self.url, connect_timeout=1),
                                      auto_bind=True):
                    return
            except ldap3.core.exceptions.LDAPException:
                time.sleep(0.1)
        raise RuntimeError(f"slapd did not answer on {self.url}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        if getattr(self, "log", None) is not None:
            self.log.close()

    def ldap_table(self, **overrides: Any) -> dict[str, Any]:
        return {"server": self.url, "search_base": GROUPS_BASE,
                "search_filter": "(&(objectClass=posixGroup)(memberUid={username}))",
                "group_attribute": "cn", **overrides}


# --- "nothing changed" ------------------------------------------------------------------

WRITTEN_TABLES = ("composes", "compose_changes", "compose_tags", "tags", "tag_permissions",
                  "tag_changes", "outbox", "idempotency_keys")


def database_state(url: str) -> dict[str, int]:
    """Row counts of every table a write touches: equal before and after a refusal."""
    return {table: read_database(url, f"SELECT count(*) FROM {table}")[0][0]
            for table in WRITTEN_TABLES}
