"""Downloading a compose's metadata file with a timeout and a size limit.

compose_url is the compose's top directory (what Pungi's set_url stores; Pungi's own
`location` is `<top>/compose`), so the files are at `<compose_url>/compose/metadata/`.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson


class FetchError(Exception):
    """The file could not be fetched (or is not JSON); the message says why."""


async def fetch_metadata(session: aiohttp.ClientSession, compose_url: str, name: str,
                         limit: int, *, optional: bool = False) -> dict[str, Any] | None:
    """The parsed JSON of compose/metadata/<name>; None if `optional` and it is absent.

    aiohttp inflates a gzip-encoded answer as it streams; the limit counts inflated
    bytes, so a bomb stops at the limit too.
    """
    url = f"{compose_url.rstrip('/')}/compose/metadata/{name}"
    try:
        async with session.get(url) as response:
            if response.status == 404 and optional:
                return None
            if response.status != 200:
                raise FetchError(f"GET {url}: HTTP {response.status}")
            body = await _read_limited(response, limit, url)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise FetchError(f"GET {url}: {type(exc).__name__}: {exc}") from exc
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise FetchError(f"GET {url}: not JSON ({exc})") from exc
    if not isinstance(document, dict):
        raise FetchError(f"GET {url}: not a JSON object")
    return document


async def _read_limited(response: aiohttp.ClientResponse, limit: int, url: str) -> bytes:
    if response.content_length is not None and response.content_length > limit:
        raise FetchError(f"GET {url}: {response.content_length} bytes, over the limit {limit}")
    parts: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(256 * 1024):
        size += len(chunk)
        if size > limit:
            raise FetchError(f"GET {url}: larger than the limit of {limit} bytes")
        parts.append(chunk)
    return b"".join(parts)
