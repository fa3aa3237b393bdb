"""`cts find`, `show`, `latest`, `neighbours`, `lineage`: reading composes.

Filters are given as FIELD=VALUE words with the names of the list API
(`cts find release_short=RHEL type=nightly --tag qa-passed --not-removed`), so every
filter the service offers works here without the CLI knowing it.
"""

from __future__ import annotations

import argparse
from typing import Any

from ctsd.cts_cli.client import CtsClient, UsageError
from ctsd.cts_cli.output import (
    compose_id,
    compose_state,
    print_composes,
    print_fields,
    print_json,
    print_table,
)

PAGE_SIZE = 100


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    find = subparsers.add_parser("find", help="list composes matching filters")
    _filter_options(find)
    find.add_argument("--order-by", action="append", default=[], metavar="KEY",
                      help="sort key, '-' for descending (write --order-by=-date); "
                      "repeatable (default: newest first)")
    find.add_argument("--limit", type=int, default=20, help="at most this many (0: all)")
    find.add_argument("--page-size", type=int, default=PAGE_SIZE, help=argparse.SUPPRESS)
    find.add_argument("--json", action="store_true", help="print the representations")
    find.set_defaults(func=find_composes)

    latest = subparsers.add_parser("latest", help="the newest compose matching filters")
    _filter_options(latest)
    latest.add_argument("--json", action="store_true", help="print the representation")
    latest.set_defaults(func=latest_compose)

    show = subparsers.add_parser("show", help="one compose")
    show.add_argument("compose_id")
    show.add_argument("--changes", action="store_true", help="its history instead")
    show.add_argument("--json", action="store_true", help="print the representation")
    show.set_defaults(func=show_compose)

    near = subparsers.add_parser("neighbours", help="previous and next in the stream")
    near.add_argument("compose_id")
    _filter_options(near)
    near.add_argument("--json", action="store_true")
    near.set_defaults(func=compose_neighbours)

    lineage = subparsers.add_parser("lineage", help="ancestors, descendants, respins")
    lineage.add_argument("compose_id")
    lineage.add_argument("--json", action="store_true")
    lineage.set_defaults(func=compose_lineage)


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("filters", nargs="*", metavar="FIELD=VALUE",
                        help="list filters, e.g. release_short=RHEL type=nightly")
    parser.add_argument("--tag", action="append", default=[],
                        help="tagged with this tag; repeatable")
    parser.add_argument("--without-tag", action="append", default=[], metavar="TAG",
                        help="not tagged with this tag; repeatable")
    parser.add_argument("--not-removed", action="store_true",
                        help="only composes whose data is still there")


def filter_params(args: argparse.Namespace) -> list[tuple[str, str]]:
    """The query parameters of FIELD=VALUE words and the filter options."""
    params = []
    for word in args.filters:
        field, equals, value = word.partition("=")
        if not equals or not field:
            raise UsageError(f"filter {word!r} is not FIELD=VALUE")
        params.append((field, value))
    params.extend(("tag", tag) for tag in args.tag)
    params.extend(("tag", f"-{tag}") for tag in args.without_tag)
    if args.not_removed:
        params.append(("removed", "false"))
    return params


def find_composes(client: CtsClient, args: argparse.Namespace) -> int:
    params = [*filter_params(args), *(("order_by", key) for key in args.order_by)]
    found = []
    # Keyset pages: following `next` costs the same however deep the listing goes.
    page: Any = client.get("/api/1/composes/",
                           [*params, ("cursor", ""), ("per_page", str(args.page_size))])
    while True:
        found.extend(page["items"])
        if (args.limit and len(found) >= args.limit) or not page["meta"]["next"]:
            break
        page = client.get(page["meta"]["next"])
    found = found[: args.limit] if args.limit else found
    if args.json:
        print_json(found)
    else:
        print_composes(found)
    return 0


def latest_compose(client: CtsClient, args: argparse.Namespace) -> int:
    found = client.get("/api/1/composes/latest/", filter_params(args))
    if args.json:
        print_json(found)
    else:
        print(compose_id(found))
    return 0


def show_compose(client: CtsClient, args: argparse.Namespace) -> int:
    suffix = "/changes/" if args.changes else ""
    found = client.get(f"/api/1/composes/{args.compose_id}{suffix}")
    if args.json:
        print_json(found)
    elif args.changes:
        print_table(("time", "action", "user", "message", "user data"), (
            [change.get("time") or "", change.get("action") or "", change.get("user") or "",
             change.get("message") or "", change.get("user_data") or ""]
            for change in found["changes"]))
    else:
        print_compose(found)
    return 0


def print_compose(found: dict[str, Any]) -> None:
    payload = found["compose_info"]["payload"]
    compose, release = payload["compose"], payload["release"]
    print_fields([
        ("Compose", compose["id"]),
        ("Release", f"{release['name']} {release['version']} ({release['short']})"),
        ("Date", compose.get("date")),
        ("Type", compose.get("type")),
        ("Respin", compose.get("respin")),
        ("State", compose_state(found)),
        ("Tags", found.get("tags") or []),
        ("Location", found.get("compose_url")),
        ("Builder", found.get("builder")),
        ("Parents", found.get("parents") or []),
        ("Children", found.get("children") or []),
        ("Respin of", found.get("respin_of")),
        ("Respun by", found.get("respun_by") or []),
        ("Removed", found.get("removed_reason") if found.get("removed") else None),
    ])


def compose_neighbours(client: CtsClient, args: argparse.Namespace) -> int:
    found = client.get(f"/api/1/composes/{args.compose_id}/neighbours/", filter_params(args))
    if args.json:
        print_json(found)
        return 0
    for side in ("previous", "next"):
        print(f"{side}: {compose_id(found[side]) if found[side] else '-'}")
    return 0


def compose_lineage(client: CtsClient, args: argparse.Namespace) -> int:
    found = client.get(f"/api/1/composes/{args.compose_id}/lineage/")
    if args.json:
        print_json(found)
        return 0
    print(found["compose_id"])
    for direction in ("ancestors", "descendants", "respin_of", "respun_by"):
        for entry in found[direction]:
            print(f"  {direction} {'  ' * (entry['depth'] - 1)}{entry['compose_id']}")
    return 0
