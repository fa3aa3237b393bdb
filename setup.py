"""Packaging for CTS, the Compose Tracking Service daemon (`ctsd`)."""

from setuptools import find_namespace_packages, setup

setup(
    # Name, version, licence and the rest of the metadata: pyproject.toml.
    # Namespace-aware: the data folders (ctsd/api/static, the migrations) count as
    # packages too, as setuptools expects for the files package_data names in them.
    packages=find_namespace_packages(include=["ctsd", "ctsd.*", "handlers", "handlers.*",
                                              "schemas", "schemas.*"],
                                     exclude=["*.__pycache__"]),
    package_data={"ctsd": ["api/static/*", "db/migrations/*.py", "db/migrations/*.mako",
                           "db/migrations/versions/*.py"]},
    install_requires=[
        "aiohttp>=3.9,<4",
        # `ctsd serve --workers N`: gunicorn's arbiter with aiohttp's worker class.
        "gunicorn>=23,<28",
        "orjson>=3.9,<4",
        "uvloop>=0.19,<1",
        "sqlalchemy[asyncio]>=2.0,<3",
        "asyncpg>=0.29,<1",
        "aiosqlite>=0.20,<1",
        "psycopg2-binary>=2.9,<3",
        "alembic>=1.13,<2",
        "productmd>=1.38,<2",
        "fedora-messaging>=3.4,<4",
        "pika>=1.3,<2",
        # AMQP 1.0 (UMB, ActiveMQ): the relay's and consumer's second transport.
        "python-qpid-proton>=0.39,<1",
        "tenacity>=8,<10",
        # The relay checks every outbox body against its schema: compiled validators.
        "fastjsonschema>=2.19,<3",
        # ... and jsonschema explains a refused body (schemas/validation.py, consumer).
        "jsonschema>=4.18,<5",
        "prometheus-client>=0.20,<1",
        "swagger-ui-bundle>=1.1,<2",
        # Authentication (ctsd.auth): OIDC token verification, LDAP groups, certificates.
        "PyJWT[crypto]>=2.10,<3",
        "ldap3>=2.9,<3",
        "cryptography>=42,<51",
        "requests>=2.28,<3",  # the `cts` user CLI (ctsd/cts_cli/)
        # Observability (ctsd/observability/): traces, JSON logs. OpenTelemetry's
        # packages are released in lockstep and pin each other exactly (the SDK pins its
        # semantic conventions, each instrumentation its instrumentation base), and
        # PyPI holds release lines half published (sqlalchemy's 0.66b2 without
        # aiohttp-server's), which pip's resolver cannot untangle from scratch: so they
        # are pinned to the set tested together (1.45.1 / 0.66b1).
        "opentelemetry-api==1.45.1",
        "opentelemetry-sdk==1.45.1",
        "opentelemetry-exporter-otlp-proto-http==1.45.1",
        "opentelemetry-instrumentation-aiohttp-server==0.66b1",
        "opentelemetry-instrumentation-sqlalchemy==0.66b1",
        "python-json-logger>=3.1,<5",
    ],
    extras_require={
        "test": ["pytest>=8,<10", "pytest-asyncio>=0.23,<2", "pytest-aiohttp>=1.0,<2",
                 "ruff>=0.5,<1", "openapi-spec-validator>=0.7,<1", "mypy>=1.10,<3",
                 # tests/packaging: builds the sdist and wheel as a packager would.
                 "build>=1,<2",
                 # tests/e2e/test_openapi_conformance.py: the published document vs answers.
                 "schemathesis>=4.0,<5"],
        # `cts --kerberos`: SPNEGO through the front proxy; imported only when asked for.
        "kerberos": ["requests-gssapi>=1.2,<2"],
    },
    entry_points={
        "console_scripts": ["ctsd=ctsd.cli:main", "cts=ctsd.cts_cli.main:main"],
        # schemas.registry.entry_points(), written out: setup.py cannot import the
        # package it builds. tests/unit/test_registry.py keeps the two equal.
        "fedora.messages": [
            "cts.compose.created=schemas.published:ComposeCreatedV1",
            "cts.compose.tagged=schemas.published:ComposeTaggedV1",
            "cts.compose.untagged=schemas.published:ComposeUntaggedV1",
            "cts.compose.changed=schemas.published:ComposeChangedV1",
            "cts.compose.removed=schemas.published:ComposeRemovedV1",
            "cts.compose.promotion_requested=schemas.published_workflow:ComposePromotionRequestedV1",
            "cts.compose.promoted=schemas.published_workflow:ComposePromotedV1",
            "cts.compose.promotion_rejected=schemas.published_workflow:ComposePromotionRejectedV1",
            "cts.compose.promotion_withdrawn=schemas.published_workflow:ComposePromotionWithdrawnV1",
            "cts.compose.promotion_reminder=schemas.published_workflow:ComposePromotionReminderV1",
            "cts.compose.removal_requested=schemas.published_workflow:ComposeRemovalRequestedV1",
            "cts.compose.contents_imported=schemas.published_contents:ComposeContentsImportedV1",
            "cts.request.import=schemas.requests:ImportRequestV1",
            "cts.request.tag=schemas.requests:TagRequestV1",
            "cts.request.untag=schemas.requests:UntagRequestV1",
            "cts.request.set_url=schemas.requests:SetUrlRequestV1",
            "cts.request.mark_removed=schemas.requests:MarkRemovedRequestV1",
            "cts.request.promotion=schemas.requests:PromotionRequestV1",
            "cts.request.promotion_decision=schemas.requests:PromotionDecisionV1",
            "cts.request.fetch_contents=schemas.requests:FetchContentsRequestV1",
        ],
    },
)
