"""`cts import FILE|-`: record a compose from its ComposeInfo JSON (productmd's compose.json).

Every import carries an Idempotency-Key (README, "safe retries"): made once per `cts
import`, it goes with each retry after a lost answer (cannot reach the service, 502,
503, 504), so a retry answers the compose the first attempt created instead of
allocating a second one. Pass --idempotency-key to make re-running the whole command
(from a script that may run twice) safe as well.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from ctsd.cts_cli.client import CtsClient, CtsError, UsageError
from ctsd.cts_cli.output import print_json

ATTEMPTS = 3
RETRY_DELAY = 1.0
RETRIED_STATUSES = (0, 502, 503, 504)  # 0: no answer at all


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("import", help="import a compose from its ComposeInfo "
                                   "JSON (a file, or - for standard input)")
    parser.add_argument("file", metavar="FILE|-")
    parser.add_argument("--parent", action="append", default=[], metavar="COMPOSE_ID",
                        help="a parent compose; repeatable")
    parser.add_argument("--respin-of", metavar="COMPOSE_ID",
                        help="the compose this one respins")
    parser.add_argument("--location", dest="compose_url", metavar="URL",
                        help="where the compose can be downloaded")
    parser.add_argument("--idempotency-key", metavar="KEY",
                        help="reuse this key (default: a new UUID per command)")
    parser.add_argument("--json", action="store_true", help="print the answer")
    parser.set_defaults(func=import_compose)


def read_compose_info(source: str) -> dict[str, Any]:
    """The ComposeInfo object of a file or of stdin ("-"); a {"compose_info": ...}
    import body is accepted too, so an earlier `--json` answer can be fed back."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8")
        document = json.loads(text)
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise UsageError(f"{source} is not JSON: {exc}") from exc
    if isinstance(document, dict) and isinstance(document.get("compose_info"), dict):
        document = document["compose_info"]
    if not isinstance(document, dict) or "payload" not in document:
        raise UsageError(f"{source} is not a ComposeInfo document (no \"payload\")")
    return document


def import_compose(client: CtsClient, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"compose_info": read_compose_info(args.file),
                            "parent_compose_ids": args.parent, "respin_of": args.respin_of}
    if args.compose_url:
        body["compose_url"] = args.compose_url
    key = args.idempotency_key or str(uuid.uuid4())
    answer, replayed = _post_with_retries(client, body, key)
    if args.json:
        print_json(answer)
    else:
        created = answer["payload"]["compose"]["id"]
        print(f"{created} (the answer of an earlier import with this key)" if replayed
              else created)
    return 0


def _post_with_retries(client: CtsClient, body: dict[str, Any], key: str) -> tuple[Any, bool]:
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return client.post_answer("/api/1/composes/", body, {"Idempotency-Key": key})
        except CtsError as exc:
            if exc.status not in RETRIED_STATUSES or attempt == ATTEMPTS:
                raise
            print(f"cts: {exc.message}; retrying with the same Idempotency-Key",
                  file=sys.stderr)
            time.sleep(RETRY_DELAY * attempt)
    raise AssertionError("unreachable")
