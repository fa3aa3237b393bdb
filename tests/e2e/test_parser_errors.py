"""Issue #15: errors aiohttp's own parser raises are answered by `ctsd serve` in the v1
JSON shape, never echo what was sent (the Authorization value), and are logged as one
line without a traceback."""

from __future__ import annotations

import json
import socket

import pytest

from tests.e2e.conftest import HOST

SECRET = "Bearer sekrit-token-" + "s" * 40


def exchange(base_url: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer (the server closes after an error; a
    half-closed client would get no answer at all, so the socket stays open)."""
    port = int(base_url.rsplit(":", 1)[1])
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body


RAW_REQUESTS = [
    pytest.param(b"GET /api/1/\xff HTTP/1.1\r\nHost: x\r\n\r\n", id="raw-xff-in-path"),
    pytest.param(b"GET /api/1/about/ HTTP/1.1\r\nHost: x\r\nAuthorization: "
                 + SECRET.encode() + b"x" * 9000 + b"\r\n\r\n", id="header-over-8190"),
    pytest.param(b"POST /api/1/tags/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                 b"\r\nContent-Length: 2\r\n\r\n{}garbage-after-the-body\r\n\r\n",
                 id="body-longer-than-content-length"),
    pytest.param(b"GET /api/1/about/ HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
                 id="bad-content-length"),
    pytest.param(b"G\x01T / HTTP/1.1\r\n\r\n", id="bad-method"),
]


@pytest.mark.parametrize("raw", RAW_REQUESTS)
def test_parser_errors_are_json_and_echo_nothing(start_ctsd, tmp_path, raw):
    [server] = start_ctsd(CTSD_DATABASE_URL=f"sqlite:///{tmp_path / 'cts.sqlite'}")
    status, headers, body = exchange(server.base_url, raw)
    assert 400 <= status < 500, body
    assert headers["content-type"].startswith("application/json"), (headers, body)
    error = json.loads(body)
    assert error["status"] == status and error["error"] and error["message"]
    assert b"sekrit" not in body and b"xxxx" not in body
    log = server.stderr()
    assert "Traceback" not in log
    assert "sekrit" not in log



@pytest.mark.parametrize("raw", [RAW_REQUESTS[0], RAW_REQUESTS[1]])
def test_parser_errors_are_json_with_gunicorn_workers_too(start_ctsd, e2e_database_url, raw):
    # `ctsd serve --workers N` serves through gunicorn's aiohttp worker, which builds its
    # own runner unless handed one: the JSON answers must not depend on the worker model.
    [server] = start_ctsd(CTSD_DATABASE_URL=e2e_database_url, CTSD_HTTP_WORKERS="2")
    status, headers, body = exchange(server.base_url, raw)
    assert 400 <= status < 500, body
    assert headers["content-type"].startswith("application/json"), (headers, body)
    assert json.loads(body)["status"] == status
    assert b"sekrit" not in body and "sekrit" not in server.stderr()
