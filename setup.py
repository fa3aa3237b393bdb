"""Packaging for CTS, the Compose Tracking Service daemon (`ctsd`)."""

from setuptools import find_packages, setup

setup(
    name="ctsd",
    version="0.1.0",
    description="Compose Tracking Service: compose IDs, tags, promotions and locations",
    python_requires=">=3.11",
    packages=find_packages(include=["ctsd", "ctsd.*", "handlers", "handlers.*", "schemas", "schemas.*"]),
    package_data={"ctsd": ["api/static/*", "db/migrations/*.py", "db/migrations/*.mako",
                           "db/migrations/versions/*.py", "db/alembic.ini"]},
    install_requires=[
        "aiohttp>=3.9",
        "orjson>=3.9",
        "uvloop>=0.19",
        "sqlalchemy[asyncio]>=2.0",
        "asyncpg>=0.29",
        "aiosqlite>=0.20",
        "psycopg2-binary>=2.9",
        "alembic>=1.13",
        "productmd>=1.38",
        "fedora-messaging>=3.4",
        "pika>=1.3",
        "tenacity>=8",
        # The relay checks every outbox body against its schema: compiled validators.
        "fastjsonschema>=2.19",
        "prometheus-client>=0.20",
        "swagger-ui-bundle>=1.1",
        # Authentication (ctsd.auth): OIDC token verification, LDAP groups, certificates.
        "PyJWT[crypto]>=2.10",
        "ldap3>=2.9",
        "cryptography>=42",
        "requests>=2.28",  # the `cts` user CLI (ctsd/cts_cli/)
    ],
    extras_require={
        "test": ["pytest>=8", "pytest-asyncio>=0.23", "pytest-aiohttp>=1.0", "ruff>=0.5",
                 "openapi-spec-validator>=0.7",
                 # tests/e2e/test_openapi_conformance.py: the published document vs answers.
                 "schemathesis>=4.0"],
        # `cts --kerberos`: SPNEGO through the front proxy; imported only when asked for.
        "kerberos": ["requests-gssapi>=1.2"],
    },
    entry_points={
        "console_scripts": ["ctsd=ctsd.cli:main", "cts=ctsd.cts_cli.main:main"],
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
            "cts.request.import=schemas.requests:ImportRequestV1",
            "cts.request.tag=schemas.requests:TagRequestV1",
            "cts.request.untag=schemas.requests:UntagRequestV1",
            "cts.request.set_url=schemas.requests:SetUrlRequestV1",
            "cts.request.mark_removed=schemas.requests:MarkRemovedRequestV1",
            "cts.request.promotion=schemas.requests:PromotionRequestV1",
            "cts.request.promotion_decision=schemas.requests:PromotionDecisionV1",
        ],
    },
)
