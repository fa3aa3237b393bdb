"""Service pages: landing page, OpenAPI document, docs page, about, userinfo, metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

import jsonschema
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select, update

from ctsd import __version__
from ctsd.api.app import ROUTES, create_app
from ctsd.api.keys import ACTOR
from ctsd.api.openapi_parameters import COMPOSE_FIELDS, MATCH_SUFFIXES, TAG_FIELDS
from ctsd.api.openapi_rules import CALENDAR_DATE
from ctsd.config import Principals, Settings
from ctsd.db.tables import outbox
from handlers.identity import Actor
from tests.conftest import create_tag, import_compose

# --- helpers -------------------------------------------------------------------------


@web.middleware
async def actor_from_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """Test stand-in for a real auth backend: X-Test-User names the caller ("-": none)."""
    user = request.headers.get("X-Test-User")
    if user == "-":
        request[ACTOR] = None  # type: ignore[assignment]  (the "not logged in" case)
    elif user is not None:
        groups = request.headers.get("X-Test-Groups", "")
        request[ACTOR] = Actor(user, frozenset(filter(None, groups.split(","))), "test")
    return await handler(request)


async def app_client(aiohttp_client: Any, settings: Settings) -> TestClient:
    app = create_app(settings)
    # Innermost, so it runs after the configured (noauth) backend and overrides it.
    app.middlewares.append(actor_from_headers)
    return await aiohttp_client(app)


def as_user(name: str, *groups: str) -> dict[str, str]:
    return {"X-Test-User": name, "X-Test-Groups": ",".join(groups)}


async def get_json(client: TestClient, path: str, **kwargs: Any) -> Any:
    response = await client.get(path, **kwargs)
    assert response.status == 200, await response.text()
    return await response.json()


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text answer; 0 when absent."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def scrape(client: TestClient) -> str:
    response = await client.get("/api/1/metrics/")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return await response.text()


class AssetLinks(HTMLParser):
    """Collects every URL a page makes the browser load or offers as a link."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "data-spec-url") and value:
                self.urls.append(value)


# --- landing page and OpenAPI document -----------------------------------------------


async def test_landing_page_shows_version_and_links_to_the_docs(client):
    response = await client.get("/")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert f"Version {__version__}" in page
    links = AssetLinks()
    links.feed(page)
    assert "/api/1/" in [urljoin("/", url) for url in links.urls]


async def test_spec_describes_every_route_with_its_method(client):
    spec = await get_json(client, "/static/openapispec.json")
    assert spec["openapi"].startswith("3.0")
    for method, path, _view in ROUTES:
        operation = spec["paths"].get(path, {}).get(method.lower())
        assert operation is not None, f"{method} {path} is missing from the OpenAPI spec"
        # 201 for the one extension that creates (POST .../promotions/).
        assert {"200", "201"} & set(operation["responses"])
    # And nothing that the app does not serve.
    assert set(spec["paths"]) == {path for _method, path, _view in ROUTES}


async def test_spec_says_how_to_authenticate(client):
    spec = await get_json(client, "/static/openapispec.json")
    scheme = spec["components"]["securitySchemes"]["oidc_token"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    # Anonymous reads stay possible: the empty requirement is one of the alternatives.
    assert {} in spec["security"]


async def test_spec_is_valid_openapi(client):
    validator = pytest.importorskip("openapi_spec_validator")
    validator.validate(await get_json(client, "/static/openapispec.json"))


async def test_compose_list_documents_every_filter_and_the_paging(client):
    spec = await get_json(client, "/static/openapispec.json")
    params = {p["name"]: p for p in spec["paths"]["/api/1/composes/"]["get"]["parameters"]}
    for field, kind in COMPOSE_FIELDS.items():
        assert field in params
        for suffix in MATCH_SUFFIXES:
            # A boolean has no text to match: the list answers 400, so not documented.
            assert (f"{field}{suffix}" in params) == (kind != "bool")
    assert len(COMPOSE_FIELDS) == 17
    # An empty value is no filter (as in the existing CTS), so documented as allowed.
    assert params["respin"]["schema"]["anyOf"][0]["type"] == "integer"
    assert params["final"]["schema"]["anyOf"][0]["type"] == "boolean"
    assert params["date_before"]["schema"]["anyOf"][0]["pattern"] == CALENDAR_DATE
    assert params["date"]["schema"]["anyOf"][0]["pattern"] == CALENDAR_DATE
    assert params["date_contains"]["schema"] == {"type": "string"}
    assert params["tag"]["schema"]["type"] == "array" and params["tag"]["explode"] is True
    assert "-release_version" in params["order_by"]["schema"]["items"]["enum"]
    assert params["page"]["schema"]["anyOf"][0]["default"] == 1
    assert params["per_page"]["schema"]["anyOf"][0] == {"type": "integer", "minimum": 1,
                                                        "maximum": 100, "default": 10}
    tag_params = {p["name"] for p in spec["paths"]["/api/1/tags/"]["get"]["parameters"]}
    assert {"id", "name", "order_by", "page", "per_page"} <= tag_params


async def test_real_answers_match_the_documented_schemas(client):
    oas = pytest.importorskip("openapi_schema_validator")
    spec = await get_json(client, "/static/openapispec.json")

    def check(schema_name: str, answer: Any) -> None:
        root = {"$ref": f"#/components/schemas/{schema_name}",
                "components": spec["components"]}
        oas.validate(answer, root, cls=oas.OAS30Validator)

    await create_tag(client, "rc")
    check("ComposeInfo", await import_compose(client))
    compose_id = "test-1.0-20200526.0"
    check("Compose", await get_json(client, f"/api/1/composes/{compose_id}"))
    check("Changes", await get_json(client, f"/api/1/composes/{compose_id}/changes/"))
    check("Tag", await get_json(client, "/api/1/tags/rc"))
    check("Changes", await get_json(client, "/api/1/tags/rc/changes/"))
    check("About", await get_json(client, "/api/1/about/"))
    check("UserInfo", await get_json(client, "/api/1/userinfo"))
    check("Error", await (await client.get("/api/1/composes/nope-1-20200101.0")).json())
    with pytest.raises(jsonschema.ValidationError):
        check("Error", {"status": "404", "error": "Not Found", "message": "x"})


def test_documented_filters_are_the_ones_the_lists_accept():
    filters = pytest.importorskip("ctsd.db.queries.filters")
    assert {name: field.kind for name, field in filters.COMPOSE_FIELDS.items()} == COMPOSE_FIELDS
    assert {name: field.kind for name, field in filters.TAG_FIELDS.items()} == TAG_FIELDS
    assert tuple(MATCH_SUFFIXES) == filters.TEXT_SUFFIXES


async def test_spec_reports_the_configured_limits(aiohttp_client, database_url):
    settings = Settings(database_url=database_url, per_page_default=5, per_page_max=50,
                        idempotency_ttl_hours=6)
    client = await aiohttp_client(create_app(settings))
    spec = await get_json(client, "/static/openapispec.json")
    params = {p["name"]: p for p in spec["paths"]["/api/1/composes/"]["get"]["parameters"]}
    assert params["per_page"]["schema"]["anyOf"][0]["maximum"] == 50
    assert params["per_page"]["schema"]["anyOf"][0]["default"] == 5
    key = spec["paths"]["/api/1/composes/"]["post"]["parameters"][0]
    assert "kept 6 h" in key["description"]


async def test_import_documents_idempotency_and_its_answers(client):
    spec = await get_json(client, "/static/openapispec.json")
    post = spec["paths"]["/api/1/composes/"]["post"]
    key = next(p for p in post["parameters"] if p["name"] == "Idempotency-Key")
    assert key["in"] == "header" and key["required"] is False
    assert "409" in key["description"] and "24 h by default" in key["description"]
    assert post["responses"]["200"]["headers"]["Idempotent-Replayed"]["schema"]["enum"] == [
        "true"]
    assert post["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ComposeInfo"}
    assert post["responses"]["409"] == {"$ref": "#/components/responses/Conflict"}
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ImportComposeRequest"}
    schemas = spec["components"]["schemas"]
    assert schemas["Error"]["required"] == ["status", "error", "message"]
    assert set(schemas["PaginationMeta"]["required"]) == {
        "page", "pages", "per_page", "total", "first", "last", "prev", "next"}
    assert "respun_by" in schemas["Compose"]["properties"]
    assert "untagger_groups" in schemas["Tag"]["properties"]


# --- the docs page works offline ------------------------------------------------------


async def test_docs_page_loads_only_local_assets_that_exist(client):
    response = await client.get("/api/1/")
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert "http://" not in page and "https://" not in page
    links = AssetLinks()
    links.feed(page)
    assert any(url.endswith("swagger-ui-bundle.js") for url in links.urls)
    assert any(url.endswith("swagger-ui.css") for url in links.urls)
    for url in links.urls:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, f"{url} is not a local URL"
        path = urljoin("/api/1/", url)
        asset = await client.get(path)
        assert asset.status == 200, path
        assert len(await asset.read()) > 100, path


async def test_swagger_initializer_loads_the_spec_and_no_online_validator(client):
    page = await (await client.get("/api/1/")).text()
    links = AssetLinks()
    links.feed(page)
    script = next(url for url in links.urls if url.endswith("swagger-initializer.js"))
    text = await (await client.get(urljoin("/api/1/", script))).text()
    assert "validatorUrl: null" in text
    assert "http://" not in text and "https://" not in text


# --- about and userinfo ---------------------------------------------------------------


async def test_about_lists_builder_users_and_groups(aiohttp_client, database_url):
    builders = Principals(frozenset({"pungi", "odcs"}), frozenset({"builders"}))
    client = await aiohttp_client(create_app(
        Settings(database_url=database_url, allowed_builders=builders)))
    assert await get_json(client, "/api/1/about/") == {
        "version": __version__, "auth_backend": "noauth",
        "allowed_builders": {"groups": ["builders"], "users": ["odcs", "pungi"]}}


async def test_userinfo_under_noauth_may_do_everything(client):
    await create_tag(client, "rc")
    await create_tag(client, "beta")
    assert await get_json(client, "/api/1/userinfo") == {
        "username": "anonymous",
        "permissions": {"can_create_compose": True, "can_create_tag": True,
                        "can_edit_tag": True, "can_set_url": True,
                        "is_tagger_of": ["beta", "rc"], "is_untagger_of": ["beta", "rc"]}}


async def grant(client: TestClient, tag: str, action: str, **who: str) -> None:
    response = await client.patch(f"/api/1/tags/{tag}", json={"action": action, **who})
    assert response.status == 200, await response.text()


async def test_userinfo_lists_tags_granted_to_the_user_or_their_groups(
        aiohttp_client, database_url):
    settings = Settings(database_url=database_url,
                        admins=Principals(groups=frozenset({"release-admins"})),
                        allowed_builders=Principals(groups=frozenset({"qa"})))
    client = await app_client(aiohttp_client, settings)
    for name in ("mine", "group", "untag", "other"):
        await create_tag(client, name)  # as the noauth superuser
    await grant(client, "mine", "add_tagger", username="alice")
    await grant(client, "group", "add_tagger", group="qa")
    await grant(client, "untag", "add_untagger", username="alice")
    await grant(client, "other", "add_tagger", username="bob", group="devs")
    # A group named like the user must not count as the user (kinds differ).
    await grant(client, "other", "add_untagger", group="alice")

    alice = await get_json(client, "/api/1/userinfo", headers=as_user("alice", "qa"))
    assert alice == {"username": "alice", "permissions": {
        "can_create_compose": True, "can_create_tag": False, "can_edit_tag": False,
        "can_set_url": True, "is_tagger_of": ["group", "mine"], "is_untagger_of": ["untag"]}}

    nobody = await get_json(client, "/api/1/userinfo", headers=as_user("carol"))
    assert nobody["permissions"] == {
        "can_create_compose": False, "can_create_tag": False, "can_edit_tag": False,
        "can_set_url": False, "is_tagger_of": [], "is_untagger_of": []}

    admin = await get_json(client, "/api/1/userinfo", headers=as_user("dave", "release-admins"))
    assert admin["permissions"]["can_edit_tag"] is True
    assert admin["permissions"]["is_tagger_of"] == ["group", "mine", "other", "untag"]
    assert admin["permissions"]["is_untagger_of"] == ["group", "mine", "other", "untag"]


async def test_userinfo_without_login_is_401(aiohttp_client, database_url):
    client = await app_client(aiohttp_client, Settings(database_url=database_url))
    response = await client.get("/api/1/userinfo", headers={"X-Test-User": "-"})
    assert response.status == 401
    body = await response.json()
    assert body["status"] == 401 and body["error"] == "Unauthorized"
    assert "Log in" in body["message"]


# --- metrics --------------------------------------------------------------------------

COUNT = "cts_http_requests_total"


async def test_metrics_count_requests_by_route_template_and_status(client):
    route = "/api/1/composes/{compose_id}"
    before = await scrape(client)
    for compose_id in ("a-1-20200101.0", "b-1-20200101.0"):
        assert (await client.get(f"/api/1/composes/{compose_id}")).status == 404
    assert (await client.get("/no/such/page")).status == 404
    # A CommandError (bad JSON) raised inside the view is counted with its real status.
    assert (await client.post("/api/1/composes/", data=b"{")).status == 400
    after = await scrape(client)

    def delta(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert delta(COUNT, method="GET", route=route, status="404") == 2
    assert delta(COUNT, method="GET", route="unmatched", status="404") == 1
    assert delta(COUNT, method="POST", route="/api/1/composes/", status="400") == 1
    assert delta(COUNT, method="POST", route="/api/1/composes/", status="500") == 0
    assert delta("cts_http_request_duration_seconds_count", method="GET", route=route) == 2
    # The raw path never becomes a label: that would make one series per compose.
    assert "a-1-20200101.0" not in after


async def test_metrics_gauges_read_the_database(client, settings):
    await create_tag(client, "rc")
    await import_compose(client)
    await import_compose(client)
    engine = create_engine(settings.sync_database_url)
    with engine.begin() as conn:
        assert conn.execute(select(func.count()).select_from(outbox)).scalar_one() == 2
        first_id = conn.execute(select(func.min(outbox.c.id))).scalar_one()
        # The first message is published; the second waits since an hour ago.
        conn.execute(update(outbox).where(outbox.c.id == first_id)
                     .values(sent_at=datetime.now(UTC)))
        conn.execute(update(outbox).where(outbox.c.id != first_id)
                     .values(created_at=datetime.now(UTC) - timedelta(hours=1)))
    engine.dispose()

    text = await scrape(client)
    assert sample(text, "cts_composes") == 2
    assert sample(text, "cts_tags") == 1
    assert sample(text, "cts_outbox_backlog") == 1
    assert 3600 <= sample(text, "cts_outbox_oldest_unsent_age_seconds") < 3600 + 60


async def test_metrics_with_an_empty_outbox_report_no_age(client):
    text = await scrape(client)
    assert "cts_outbox_oldest_unsent_age_seconds 0.0" in text
    assert "cts_outbox_backlog 0.0" in text
    assert "cts_composes 0.0" in text
