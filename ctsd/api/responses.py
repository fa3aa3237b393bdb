"""JSON answers of the HTTP API, encoded by ctsd.jsonio (orjson)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ctsd.jsonio import dumps


def json_response(data: Any, *, status: int = 200,
                  headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=dumps(data), status=status, headers=headers,
                        content_type="application/json")
