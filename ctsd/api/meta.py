"""Service pages: landing page, API docs, OpenAPI document, about, userinfo, metrics.

The API docs page is Swagger UI from the `swagger_ui_bundle` package, served by us:
it must work on a network without internet, so no asset comes from a CDN.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from swagger_ui_bundle import swagger_ui_path

from ctsd import __version__
from ctsd.api.keys import ACTOR, BUS, READ_ENGINE, SETTINGS
from ctsd.api.metrics import metrics, metrics_middleware
from ctsd.api.openapi import spec_json
from ctsd.api.responses import json_response
from ctsd.db.queries.tags import tag_names_for
from handlers.errors import NotAuthenticated

__all__ = ["about", "add_static_routes", "api_docs_page", "landing_page", "metrics",
           "metrics_middleware", "openapi_spec", "userinfo"]

SWAGGER_UI_PREFIX = "/static/swagger-ui/"
OWN_STATIC_PREFIX = "/static/cts/"
OWN_STATIC_DIR = Path(__file__).parent / "static"

# Links are relative, so the pages keep working when a proxy mounts CTS under a prefix.
_LANDING_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>CTS {__version__}</title></head>
<body>
<h1>CTS: Compose Tracking Service</h1>
<p>Version {__version__}</p>
<ul>
<li><a href="api/1/">API documentation (/api/1/)</a></li>
<li><a href="static/openapispec.json">OpenAPI document</a></li>
<li><a href="api/1/about/">About this instance</a></li>
</ul>
</body>
</html>
"""

# Served at /api/1/, hence the "../../" to reach /static/.
_DOCS_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>CTS {__version__} API</title>
<link rel="stylesheet" type="text/css" href="../..{SWAGGER_UI_PREFIX}swagger-ui.css">
<link rel="icon" type="image/png" href="../..{SWAGGER_UI_PREFIX}favicon-32x32.png">
</head>
<body>
<div id="swagger-ui" data-spec-url="../../static/openapispec.json"></div>
<script src="../..{SWAGGER_UI_PREFIX}swagger-ui-bundle.js" charset="utf-8"></script>
<script src="../..{OWN_STATIC_PREFIX}swagger-initializer.js" charset="utf-8"></script>
</body>
</html>
"""


async def landing_page(request: web.Request) -> web.Response:
    return web.Response(text=_LANDING_PAGE, content_type="text/html")


async def api_docs_page(request: web.Request) -> web.Response:
    return web.Response(text=_DOCS_PAGE, content_type="text/html")


async def openapi_spec(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    text = spec_json(settings.per_page_default, settings.per_page_max,
                     settings.idempotency_ttl_hours, settings.workflow.ladder)
    return web.Response(text=text, content_type="application/json")


async def about(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    # The existing CTS answers its ALLOWED_BUILDERS setting as configured: an object
    # of group and user lists.
    builders = {"groups": sorted(settings.allowed_builders.groups),
                "users": sorted(settings.allowed_builders.users)}
    return json_response({"version": __version__, "auth_backend": settings.auth_backend,
                          "allowed_builders": builders})


async def userinfo(request: web.Request) -> web.Response:
    actor = request.get(ACTOR)
    if actor is None:
        raise NotAuthenticated("Log in to see your user information")
    roles = request.app[BUS].roles
    admin = roles.is_admin(actor)
    async with request.app[READ_ENGINE].connect() as conn:
        tagger_of = await tag_names_for(conn, actor, "tagger", every_tag=admin)
        untagger_of = await tag_names_for(conn, actor, "untagger", every_tag=admin)
    # A token is also limited by its scopes (ctsd.api.auth.ROUTE_SCOPES).
    edit_compose = actor.has_scope("edit-compose")
    return json_response({"username": actor.username, "permissions": {
        "can_create_compose": roles.can_create_compose(actor) and actor.has_scope("new-compose"),
        "can_create_tag": roles.can_manage_tags(actor) and actor.has_scope("new-tag"),
        "can_edit_tag": roles.can_manage_tags(actor) and actor.has_scope("edit-tag"),
        "can_set_url": roles.can_set_url(actor) and edit_compose,
        "is_tagger_of": tagger_of if edit_compose else [],
        "is_untagger_of": untagger_of if edit_compose else [],
    }})


def add_static_routes(app: web.Application) -> None:
    # Swagger UI's own files straight from the installed package: upgrading the
    # package upgrades the page, and nothing is copied into our tree.
    app.router.add_static(SWAGGER_UI_PREFIX, Path(str(swagger_ui_path)))
    app.router.add_static(OWN_STATIC_PREFIX, OWN_STATIC_DIR)
