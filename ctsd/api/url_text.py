"""Whether a request's path and query hold text PostgreSQL cannot store or compare."""

from __future__ import annotations

from aiohttp import web

from handlers.storable import text_problem


def url_problem(request: web.Request) -> str | None:
    """Why the decoded path or a query key or value is unusable, or None."""
    texts = [request.path, request.query_string, *request.query.keys(),
             *request.query.values()]
    for text in texts:
        problem = text_problem(text)
        if problem:
            return problem
    return None
