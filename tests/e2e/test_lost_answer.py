"""A Pungi-style retry (same body, no Idempotency-Key) after the answer was lost gets
the compose the first attempt created, not a second one."""

from __future__ import annotations

import asyncio
import json
import socket
from urllib.parse import urlsplit

import aiohttp

from tests.conftest import compose_info
from tests.e2e.conftest import Server, query
from tests.e2e.test_serve import API, db_url, new_release, post_import, pungi_body, server

__all__ = ["db_url", "server"]  # module fixtures shared with test_serve


def post_and_hang_up(server: Server, body: dict) -> None:
    """Send an import and close the connection without reading the answer, as a client
    whose connection breaks does."""
    url = urlsplit(server.base_url)
    payload = json.dumps(body).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(
            f"POST {API}/composes/ HTTP/1.1\r\nHost: {url.netloc}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            .encode() + payload
        )


async def test_retry_after_a_lost_answer_gets_the_first_compose(server: Server, db_url: str):
    release = new_release()
    body = pungi_body(compose_info(short=release))
    post_and_hang_up(server, body)
    # The first attempt is committed even though nobody read its answer.
    for _ in range(100):
        stored = query(db_url, "SELECT compose_id FROM composes WHERE release_short = :r",
                       r=release)
        if stored:
            break
        await asyncio.sleep(0.05)
    assert len(stored) == 1
    first_id = stored[0].compose_id

    async with aiohttp.ClientSession() as http:
        async with http.post(f"{server.base_url}{API}/composes/", json=body) as response:
            assert response.status == 200
            assert response.headers.get("Idempotent-Replayed") == "true"
            retried = await response.json()
        assert retried["payload"]["compose"]["id"] == first_id
        # The kept answer serves one retry only: the next identical import is a new
        # compose, as two composes of one release on one day must be.
        again = await post_import(http, server, body)
    assert again["payload"]["compose"]["id"] != first_id
    assert again["payload"]["compose"]["respin"] == retried["payload"]["compose"]["respin"] + 1
    rows = query(db_url, "SELECT compose_id FROM composes WHERE release_short = :r", r=release)
    assert len(rows) == 2


async def test_delivered_answers_are_never_replayed(server: Server, db_url: str):
    release = new_release()
    body = pungi_body(compose_info(short=release))
    async with aiohttp.ClientSession() as http:
        answers = [await post_import(http, server, body) for _ in range(3)]
    assert [a["payload"]["compose"]["respin"] for a in answers] == [0, 1, 2]
