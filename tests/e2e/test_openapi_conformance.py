"""Issue #15: property-based conformance of a real `ctsd serve` on PostgreSQL to the
OpenAPI document it publishes at /static/openapispec.json (schemathesis).

Every operation of the document is driven with generated requests (examples, then
random data) and each answer must be: no 5xx, a documented status code, the
documented content type, and a body matching the documented schema. Fixed seed
(derandomize) and a bounded number of examples keep it reproducible and within a few
minutes. The long run uses every check from the command line, against `ctsd serve` on
a database of its own (no NUL in generated text: the document says it is refused):

    SCHEMATHESIS_HOOKS=tests/e2e/schemathesis_hooks.py st run \
      http://127.0.0.1:PORT/static/openapispec.json -c all \
      --exclude-checks positive_data_acceptance --generation-allow-x00 false \
      --seed 15 -n 600 -w 2 --phases examples,coverage,fuzzing --continue-on-failure \
      --exclude-path /api/1/events/stream --request-timeout 10

(the hooks replace positive_data_acceptance with the same check minus the v1 400s no
schema can state, listed there; the endless event stream is left out as below).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import PG_URL_BASE, create_pg_database, drop_pg_database
from tests.e2e.conftest import Server, ServerGroup

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
# 34 operations x this many examples each: about two minutes on the 2-core machine.
EXAMPLES_PER_OPERATION = 40


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One `ctsd serve` (noauth, so writes are exercised too) on a fresh database."""
    name = create_pg_database()
    group = ServerGroup(Path(tmp_path_factory.mktemp("openapi")))
    try:
        [server] = group.start(CTSD_DATABASE_URL=f"{PG_URL_BASE}/{name}")
        yield server
    finally:
        group.stop_all()
        drop_pg_database(name)


@pytest.fixture(scope="module")
def api_schema(served: Server) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{served.base_url}/static/openapispec.json")


def _check_operation(operation: schemathesis.APIOperation, base_url: str) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, deadline=None,
              phases=[Phase.explicit, Phase.generate], database=None,
              suppress_health_check=list(HealthCheck))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, checks=CHECKS)

    run()


def test_answers_conform_to_the_published_document(api_schema: schemathesis.BaseSchema,
                                                   served: Server) -> None:
    # schemathesis' own pytest plugin (from_fixture) does not run under pytest 9 yet,
    # so each operation gets its own Hypothesis test here; failures are collected so
    # that one run reports every nonconforming operation.
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 30
    # The live event stream never ends (heartbeats while idle), so a generated request
    # that is valid would wait forever; tests/integration/test_events.py covers it.
    operations = [op for op in operations if op.path != "/api/1/events/stream"]
    assert len(operations) >= 30
    for operation in operations:
        try:
            _check_operation(operation, served.base_url)
        except Exception as exc:  # the check's failure group, or a shrunk example
            failures[operation.label] = str(exc)[:3000]
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())
