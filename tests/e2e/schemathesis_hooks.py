"""schemathesis hooks for the long run of issue #15 (SCHEMATHESIS_HOOKS=this file).

`positive_data_acceptance` (ST202) fails every 400 answer to a request the document
allows. A few 400s come from rules no OpenAPI 3.0 schema can state, and the v1
contract (docs/api-v1.md) fixes their status at 400: a name that must already exist
(tag, compose), a name that must not exist yet, an opaque cursor, a parameter that
excludes another, and productmd's checks across the fields of a file it parses. This
check is `positive_data_acceptance` minus exactly those answers, recognised by their
messages; every other 400 to an allowed request still fails. It runs in place of the
built-in one (the command is in tests/e2e/test_openapi_conformance.py).
"""

from __future__ import annotations

import re
from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

# DOTALL: a name in a message may hold a newline.
UNSTATABLE_REFUSALS = tuple(re.compile(pattern, re.DOTALL) for pattern in (
    # A reference to something that must exist, or a name that must be free.
    r'^Tag ".*" does not exist$',
    r'^"(respin_of|parent_compose_ids)": unknown compose\(s\) ',
    r"^Tag .* already exists$",
    r'^"(requires|excludes)": unknown tag\(s\) ',
    r"^Tag .* cannot gate itself ",
    r"^Tag\(s\) .* cannot be both required and excluded$",
    r"^Requirements would loop: ",
    # Keyset pages: a cursor is opaque and signed; page and cursor exclude each other.
    r"^Invalid cursor",
    r"^This cursor was made for different filters",
    r"^page cannot be combined with cursor",
    # productmd's own checks across the fields of a file (the id against the date and
    # type, variants against their parents, a layered release's base product).
    r'^Cannot parse "compose_info": ',
    r"^Not a valid productmd (rpms|images) file: ",
    r"^The (rpms|images) file names no compose id$",
))


def explained_refusal(status: int, body: Any) -> bool:
    """Whether a 400 answer is one of the refusals no schema can state."""
    if status != 400 or not isinstance(body, dict):
        return False
    message = body.get("message")
    return isinstance(message, str) and any(p.search(message) for p in UNSTATABLE_REFUSALS)


@schemathesis.check
def positive_data_acceptance_v1(ctx: Any, response: Any, case: Any) -> bool | None:
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        try:
            body = response.json()
        except ValueError:
            body = None
        if explained_refusal(response.status_code, body):
            return None
        raise
