"""Issue #15: errors aiohttp's own parser raises are answered by `ctsd serve` in the v1
JSON shape, never echo what was sent (the Authorization value), and are logged as one
line without a traceback."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest

from tests.e2e.conftest import HOST

SECRET = "Bearer sekrit-token-" + "s" * 40


def exchange(base_url: str, raw: bytes, *,
             half_close: bool = False) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the whole answer (the server closes after an error); with
    `half_close`, say "nothing more comes" (shutdown of the sending side) first."""
    port = int(base_url.rsplit(":", 1)[1])
    with socket.create_connection((HOST, port), timeout=10) as sock:
        sock.sendall(raw)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        # Until the server closes, or the answer is complete: after a 408 aiohttp may
        # still read (and drop) what the client sends for a while before closing.
        while chunk := sock.recv(65536):
            received += chunk
            head, _, body = received.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)\r\ncontent-length: *([0-9]+)", head)
            if length and len(body) >= int(length.group(1)):
                break
    head, _, body = received.partition(b"\r\n\r\n")
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


SHORT_BODY = (b"POST /api/1/tags/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: 50\r\n\r\n{\"name\": \"x\"")


def _assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int) -> None:
    assert status == expected, body
    assert headers["content-type"].startswith("application/json"), (headers, body)
    error = json.loads(body)
    assert error["status"] == expected and "Content-Length" in error["message"], error


def test_a_body_shorter_than_its_content_length_is_400_once_the_client_says_so(
        start_ctsd, tmp_path):
    # The client sends 12 of 50 bytes and shuts its sending side: the body can never be
    # complete. It used to get no answer at all (and the log blamed the database).
    [server] = start_ctsd(CTSD_DATABASE_URL=f"sqlite:///{tmp_path / 'cts.sqlite'}")
    started = time.monotonic()
    status, headers, body = exchange(server.base_url, SHORT_BODY, half_close=True)
    assert time.monotonic() - started < 5
    _assert_json_error(status, headers, body, 400)
    log = server.stderr()
    assert "Traceback" not in log and "database unavailable" not in log


def test_a_body_shorter_than_its_content_length_is_408_when_it_stalls(start_ctsd, tmp_path):
    # The client sends 12 of 50 bytes and waits: answered when [http]
    # body_timeout_seconds runs out, then the connection is closed (exchange reads to
    # its end). It used to hold the connection for as long as the client waited.
    config = tmp_path / "ctsd.toml"
    config.write_text("[http]\nbody_timeout_seconds = 1\n")
    [server] = start_ctsd(CTSD_DATABASE_URL=f"sqlite:///{tmp_path / 'cts.sqlite'}",
                          CTSD_CONFIG=str(config))
    started = time.monotonic()
    status, headers, body = exchange(server.base_url, SHORT_BODY)
    assert 1 <= time.monotonic() - started < 8
    _assert_json_error(status, headers, body, 408)
    assert headers["connection"] == "close"
    log = server.stderr()
    assert "Traceback" not in log and "database unavailable" not in log

