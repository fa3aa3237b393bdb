"""`ctsd serve` over HTTPS, verifying client certificates itself (auth backend "cert").

A real server process, real X.509 certificates from CAs made per test, real TLS
connections with and without a client certificate.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from cryptography.x509.oid import NameOID

from tests.auth_support import CertificateAuthority, database_state
from tests.conftest import compose_info
from tests.e2e.conftest import HOST, free_port, query, server_environment, terminate

pytestmark = pytest.mark.e2e

CONFIG = """\
[database]
url = "{database_url}"
[auth]
backend = "cert"
allowed_builders = {{ users = ["alice"], groups = [] }}
"""


@dataclass
class Pki:
    ca: Path
    server: tuple[Path, Path]
    clients: dict[str, tuple[Path, Path]]  # who -> (cert, key)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    trusted, rogue = CertificateAuthority("CTS test CA"), CertificateAuthority("Rogue CA")
    cn = NameOID.COMMON_NAME
    return Pki(
        ca=trusted.write_ca(tmp_path / "ca.pem"),
        server=trusted.write(tmp_path, "server", [(cn, "127.0.0.1")], server=True),
        clients={
            "alice": trusted.write(tmp_path, "alice", [(cn, "alice")]),
            "mallory": trusted.write(tmp_path, "mallory", [(cn, "mallory")]),
            "no-cn": trusted.write(tmp_path, "no-cn", [(NameOID.ORGANIZATION_NAME, "QE")]),
            # Same name as a real builder, but from a CA the server does not trust.
            "rogue-alice": rogue.write(tmp_path, "rogue-alice", [(cn, "alice")]),
        },
    )


def serve_command(config: Path, port: int, pki: Pki, *, client_ca: bool = True) -> list[str]:
    command = [sys.executable, "-m", "ctsd.cli", "--config", str(config), "serve",
               "--host", HOST, "--port", str(port), "--tls-cert", str(pki.server[0]),
               "--tls-key", str(pki.server[1])]
    return command + (["--tls-client-ca", str(pki.ca)] if client_ca else [])


def client_context(pki: Pki, who: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(pki.ca))
    if who is not None:
        cert, key = pki.clients[who]
        context.load_cert_chain(str(cert), str(key))
    return context


def wait_for_https(process: subprocess.Popen[bytes], base_url: str, pki: Pki,
                   log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"ctsd serve exited:\n{log.read_text(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/1/about/", timeout=1,
                                        context=client_context(pki, None)) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"ctsd serve did not answer over HTTPS:\n{log.read_text(errors='replace')}")


@pytest.fixture
def tls_server(tmp_path: Path, pki: Pki, e2e_database_url: str) -> Iterator[str]:
    config = tmp_path / "ctsd.toml"
    config.write_text(CONFIG.format(database_url=e2e_database_url))
    port, log = free_port(), tmp_path / "ctsd.log"
    with log.open("wb") as out:
        process = subprocess.Popen(serve_command(config, port, pki), cwd=tmp_path,
                                   env=server_environment(), stdin=subprocess.DEVNULL,
                                   stdout=out, stderr=out)
    base_url = f"https://{HOST}:{port}"
    try:
        wait_for_https(process, base_url, pki, log)
        yield base_url
    finally:
        terminate(process)


@pytest.fixture
async def https(pki: Pki) -> AsyncIterator[dict[str | None, aiohttp.ClientSession]]:
    """One HTTP client per identity (None: no client certificate)."""
    sessions = {who: aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(ssl=client_context(pki, who), force_close=True),
        timeout=aiohttp.ClientTimeout(total=20))
        for who in (None, *pki.clients)}
    yield sessions
    for session in sessions.values():
        await session.close()


async def post_compose(session: aiohttp.ClientSession, base_url: str) -> tuple[int, dict]:
    async with session.post(f"{base_url}/api/1/composes/",
                            json={"compose_info": compose_info()}) as response:
        return response.status, await response.json()


async def test_client_certificate_names_the_user(tls_server: str, https: dict,
                                                 e2e_database_url: str) -> None:
    async with https[None].get(f"{tls_server}/api/1/composes/") as anonymous_read:
        assert anonymous_read.status == 200
    before = database_state(e2e_database_url)
    status, body = await post_compose(https[None], tls_server)
    assert (status, body["message"]) == (401, "Authentication is required to POST "
                                              "/api/1/composes/")
    status, body = await post_compose(https["mallory"], tls_server)
    assert (status, body["message"]) == (403, "User mallory is not allowed to create "
                                              "composes")
    status, body = await post_compose(https["no-cn"], tls_server)
    assert status == 401 and body["message"] == ("The client certificate's subject has "
                                                 "no CN to name the user")
    assert database_state(e2e_database_url) == before

    status, body = await post_compose(https["alice"], tls_server)
    assert status == 200, body
    rows = query(e2e_database_url, 'SELECT "user", auth_backend FROM compose_changes')
    assert [tuple(row) for row in rows] == [("alice", "cert")]
    async with https["alice"].get(f"{tls_server}/api/1/userinfo") as info:
        answer = await info.json()
    assert answer["username"] == "alice"
    assert answer["permissions"]["can_create_compose"] is True


async def test_certificate_from_an_untrusted_ca_never_reaches_http(
        tls_server: str, https: dict, pki: Pki, e2e_database_url: str) -> None:
    before = database_state(e2e_database_url)
    # TLS 1.3: the client's certificate is checked after its side of the handshake, so
    # the refusal shows as the server hanging up before any HTTP answer.
    with pytest.raises(aiohttp.ClientError):
        await post_compose(https["rogue-alice"], tls_server)
    # TLS 1.2 shows it within the handshake itself: the connection is never established,
    # so no request is even sent.
    context = client_context(pki, "rogue-alice")
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as tls12:
        with pytest.raises(aiohttp.ClientConnectorError):
            await post_compose(tls12, tls_server)
    # ... while the same TLS version with a trusted certificate connects.
    context = client_context(pki, "alice")
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    async with (aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as tls12,
                tls12.get(f"{tls_server}/api/1/userinfo") as info):
        assert (await info.json())["username"] == "alice"
    assert database_state(e2e_database_url) == before
    # The server is unharmed and still serves everyone else.
    status, _ = await post_compose(https["alice"], tls_server)
    assert status == 200


def test_cert_backend_without_a_client_ca_refuses_to_start(tmp_path: Path, pki: Pki) -> None:
    config = tmp_path / "ctsd.toml"
    config.write_text(CONFIG.format(database_url=f"sqlite:///{tmp_path / 'x.sqlite'}"))
    done = subprocess.run(serve_command(config, free_port(), pki, client_ca=False),
                          cwd=tmp_path, env=server_environment(), capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 2
    assert b"the cert backend needs a client CA (--tls-client-ca)" in done.stderr
