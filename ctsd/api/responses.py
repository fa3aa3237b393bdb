"""JSON answers of the HTTP API, encoded by ctsd.jsonio (orjson)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ctsd.jsonio import dumps


def stored_json_response(text: str) -> web.Response:
    """An answer stored as JSON text (ctsd.db.rendering), sent as it is."""
    return web.Response(body=text.encode(), content_type="application/json")


def json_response(data: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(data), status=status, headers=headers,
                        content_type="application/json")
