"""PUT /api/1/composes/{id}/rpms and /images: a compose's productmd file, as Pungi writes it.

The body is read as a stream with its own limit (`[http] contents_max_bytes`, counted
after gzip decompression): a larger body, or a gzip bomb, is refused with 413 as soon
as the limit is passed, without reading the rest. Only then is it parsed and handed to
the import command (handlers.contents), which validates it with productmd.
"""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ctsd.api.keys import BUS, SETTINGS
from ctsd.api.requests import actor_of
from ctsd.api.responses import json_response
from handlers.contents_commands import ImportComposeContents
from handlers.errors import CommandError, InvalidInput

_CHUNK = 256 * 1024


class BodyTooLarge(CommandError):
    status = 413


async def read_limited_body(request: web.Request, limit: int) -> bytes:
    """The body, decompressed when Content-Encoding says gzip; 413 past `limit`.

    aiohttp inflates gzip/deflate request bodies as they stream in, a bounded piece at
    a time, so a gzip bomb is cut off here once the inflated bytes pass the limit.
    """
    declared = request.content_length
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"Request body is larger than {limit} bytes")
    parts: list[bytes] = []
    received = 0
    try:
        while chunk := await request.content.read(_CHUNK):
            received += len(chunk)
            if received > limit:
                raise BodyTooLarge(f"Request body is larger than {limit} bytes "
                                   "(after decompression)")
            parts.append(chunk)
    except HttpProcessingError as exc:
        raise InvalidInput(f"Request body cannot be decoded: {exc.message}") from None
    return b"".join(parts)


def parse_document(raw: bytes) -> dict[str, Any]:
    if not raw:
        raise InvalidInput("Request body is empty: send the productmd JSON file")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"Request body is not valid JSON (truncated?): {exc}") from None
    if not isinstance(document, dict):
        raise InvalidInput("Request body must be a productmd JSON object")
    if b"\\u0000" in raw:
        # PostgreSQL cannot store NUL in text; a raw NUL byte is already invalid JSON.
        raise InvalidInput("Request body must not contain NUL characters")
    return document


async def put_rpms(request: web.Request) -> web.Response:
    return await _put_contents(request, "rpms")


async def put_images(request: web.Request) -> web.Response:
    return await _put_contents(request, "images")


async def _put_contents(request: web.Request, kind: str) -> web.Response:
    actor = actor_of(request)  # before reading tens of megabytes for nobody
    raw = await read_limited_body(request, request.app[SETTINGS].contents_max_bytes)
    document = parse_document(raw)
    del raw
    command = ImportComposeContents(request.match_info["compose_id"], kind, document)
    outcome = await request.app[BUS].execute(command, actor)
    return json_response(outcome.body)
