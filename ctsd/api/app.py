"""The aiohttp application factory. Resources live in cleanup_ctx: symmetric start/stop."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ctsd.api import (
    composes,
    contents,
    contents_upload,
    event_stream,
    events,
    health,
    listing,
    meta,
    queries,
    tags,
)
from ctsd.api import promotion_views as workflow_views
from ctsd.api.auth import auth_middleware
from ctsd.api.errors import error_middleware, reject_nul_middleware
from ctsd.api.keys import BUS, READ_ENGINE, SETTINGS, STORED_ANSWERS
from ctsd.auth.chain import authenticator_from
from ctsd.bootstrap import open_write_path, serve_background_tasks
from ctsd.config import Settings
from ctsd.db.stored_answers import open_stored_answer_lookup
from ctsd.observability.http import http_middlewares
from ctsd.observability.service_metrics import worker_started
from ctsd.service import CommandBus

ROUTES = [
    ("GET", "/", meta.landing_page),
    ("GET", "/api/1/", meta.api_docs_page),
    ("GET", "/static/openapispec.json", meta.openapi_spec),
    ("GET", "/api/1/about/", meta.about),
    ("GET", "/api/1/metrics/", meta.metrics),
    ("GET", "/api/1/userinfo", meta.userinfo),
    ("GET", "/api/1/composes/", listing.list_composes),
    ("POST", "/api/1/composes/", composes.import_compose),
    # Before /api/1/composes/{compose_id}: "latest/" is a query, not a compose id.
    ("GET", "/api/1/composes/latest/", queries.latest_compose),
    ("GET", "/api/1/composes/{compose_id}/neighbours/", queries.compose_neighbours),
    ("GET", "/api/1/composes/{compose_id}/lineage/", queries.compose_lineage),
    ("GET", "/api/1/composes/{compose_id}", composes.get_compose),
    ("PATCH", "/api/1/composes/{compose_id}", composes.change_compose),
    ("GET", "/api/1/composes/{compose_id}/changes/", composes.compose_changes_view),
    ("GET", "/api/1/composes/{compose_id}/repo/", composes.repo_file),
    ("GET", "/api/1/tags/", listing.list_tags),
    ("POST", "/api/1/tags/", tags.create_tag),
    ("GET", "/api/1/tags/{tag}", tags.get_tag),
    ("PATCH", "/api/1/tags/{tag}", tags.edit_tag),
    ("GET", "/api/1/tags/{tag}/changes/", tags.tag_changes_view),
    # Workflow extensions (issue #5).
    ("POST", "/api/1/composes/{compose_id}/promotions/", workflow_views.request_promotion),
    ("GET", "/api/1/composes/{compose_id}/promotions/", workflow_views.compose_promotions),
    ("GET", "/api/1/promotions/", workflow_views.list_promotions),
    ("POST", "/api/1/promotions/{request_id}/perform", workflow_views.perform_promotion),
    ("POST", "/api/1/promotions/{request_id}/reject", workflow_views.reject_promotion),
    ("POST", "/api/1/promotions/{request_id}/withdraw", workflow_views.withdraw_promotion),
    ("POST", "/api/1/composes/{compose_id}/removal", workflow_views.remove_compose),
    ("GET", "/api/1/composes/{compose_id}/status", workflow_views.compose_status),
    ("GET", "/api/1/composes/{compose_id}/locations/", workflow_views.compose_locations_view),
    ("GET", "/api/1/tags/{tag}/gates", workflow_views.get_tag_gates),
    ("PUT", "/api/1/tags/{tag}/gates", workflow_views.put_tag_gates),
    # Contents (issue #12).
    ("PUT", "/api/1/composes/{compose_id}/rpms", contents_upload.put_rpms),
    ("PUT", "/api/1/composes/{compose_id}/images", contents_upload.put_images),
    ("GET", "/api/1/composes/{compose_id}/rpms/", contents.compose_rpms),
    ("GET", "/api/1/composes/{compose_id}/images/", contents.compose_images),
    ("GET", "/api/1/composes/{compose_id}/contents/", contents.compose_contents),
    ("GET", "/api/1/composes/{compose_id}/diff/{other_id}", contents.compose_diff),
    ("GET", "/api/1/rpms/{name}/", contents.rpm_history),
    ("GET", "/api/1/events/", events.list_events),
    ("GET", "/api/1/events/stream", event_stream.stream_events),
    ("GET", "/health/live", health.live),
    ("GET", "/health/ready", health.ready),
]


def create_app(settings: Settings) -> web.Application:
    # The [auth] backends, tried in order (ctsd.auth.chain); noauth by default.
    authenticator = authenticator_from(settings)
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[*http_middlewares(settings.log.access_log), meta.metrics_middleware,
                     error_middleware, reject_nul_middleware,
                     auth_middleware(authenticator)],
    )
    app[SETTINGS] = settings
    app.on_startup.append(worker_started)
    app.on_cleanup.append(lambda _app: authenticator.close())
    app.cleanup_ctx.append(_write_path)
    # The relay, outbox retention, the workflow's reminders and expiry, and the contents
    # fetch (bootstrap).
    app.cleanup_ctx.extend(serve_background_tasks(settings, _bus_of))
    app.cleanup_ctx.append(event_stream.event_streams_ctx)
    app.on_shutdown.append(event_stream.end_event_streams)
    app[health.BROKER_PROBE] = health.BrokerProbe(settings.amqp_url)
    for method, path, view in ROUTES:
        app.router.add_route(method, path, view)
    meta.add_static_routes(app)
    return app


async def _write_path(app: web.Application) -> AsyncIterator[None]:
    settings = app[SETTINGS]
    async with open_write_path(settings, group_commit=settings.group_commit) as write_path:
        app[READ_ENGINE] = write_path.read_engine
        app[BUS] = write_path.bus
        lookup = await open_stored_answer_lookup(settings)
        app[STORED_ANSWERS] = lookup
        try:
            yield
        finally:
            if lookup is not None:
                await lookup.close()


def _bus_of(app: web.Application) -> CommandBus:
    return app[BUS]
