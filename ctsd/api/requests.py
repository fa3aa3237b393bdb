"""Reading request bodies and parameters into validated Python values."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from ctsd.api.keys import ACTOR, BUS, SETTINGS
from ctsd.service import CommandBus
from handlers import v1_texts
from handlers.errors import InvalidInput, NotAuthenticated
from handlers.identity import Actor
from handlers.storable import json_problem, may_have_json_problem


async def json_object(request: web.Request) -> dict[str, Any]:
    """The body as a JSON object, or a 400 (415 for a non-JSON content type)."""
    # Like the existing service, parse the body as JSON whatever its declared type
    # (curl -d sends form encoding); only multipart bodies are refused outright.
    if request.content_type.startswith("multipart/"):
        raise web.HTTPUnsupportedMediaType(text="Request body must be application/json")
    raw = await _read_body(request)
    try:
        body = json.loads(raw) if raw else None
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput(v1_texts.json_decode_failed(str(exc))) from exc
    except RecursionError as exc:
        raise InvalidInput("Request body is nested too deeply") from exc
    if not isinstance(body, dict):
        raise InvalidInput("Request body must be a JSON object")
    problem = json_problem(body) if may_have_json_problem(raw) else None
    if problem:
        # PostgreSQL cannot store NUL or a lone surrogate; refuse before any handler runs.
        raise InvalidInput(f"Request body {problem}")
    return body


async def _read_body(request: web.Request) -> bytes:
    """The whole body, or 408 when it is not complete in [http] body_timeout_seconds: a
    body shorter than its Content-Length would otherwise hold the connection forever."""
    seconds = request.app[SETTINGS].http_body_timeout_seconds
    try:
        async with asyncio.timeout(seconds):
            raw = await request.read()
    except TimeoutError:
        raise web.HTTPRequestTimeout(
            text=f"The request body did not arrive within {seconds} s (is it shorter "
                 "than its Content-Length?)") from None
    # The client ended its side early (ctsd.api.server). A compressed body's length is
    # not comparable: its JSON is then what fails to parse.
    declared = request.content_length
    if declared is not None and len(raw) < declared and not request.headers.get(
            "Content-Encoding"):
        raise InvalidInput(f"The body ended after {len(raw)} of the {declared} bytes its "
                           "Content-Length announced")
    return raw


def optional_str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInput(f'"{key}" must be a string')
    return value


def actor_of(request: web.Request) -> Actor:
    """The authenticated caller; 401 for an anonymous one (ctsd.api.auth)."""
    actor: Actor | None = request.get(ACTOR)
    if actor is None:
        raise NotAuthenticated("Authentication is required for this request")
    return actor


def client_gone(request: web.Request) -> bool:
    """Whether the client hung up. aiohttp does not cancel a handler whose client left;
    a closing transport is how a handler learns it."""
    transport = request.transport
    return transport is None or transport.is_closing()


def bus_of(request: web.Request) -> CommandBus:
    """The command bus every write of a view goes through."""
    return request.app[BUS]
