"""`cts contains`, `cts rpms`, `cts diff`: compose contents (issue #12).

    cts contains glibc-2.40-7.fc42 type=nightly --not-removed   # composes with that build
    cts rpms RHEL-10.0-20261201.n.0 --variant BaseOS --arch s390x
    cts diff RHEL-10.0-20261130.n.0 RHEL-10.0-20261201.n.0
"""

from __future__ import annotations

import argparse
from typing import Any

from ctsd.cts_cli.client import CtsClient
from ctsd.cts_cli.output import print_json
from ctsd.cts_cli.queries import find_composes

PAGE_SIZE = 100
_BUILD_KINDS = {"nvr": "rpm_nvr", "nevra": "rpm_nevra", "name": "rpm_name",
                "srpm": "srpm_nvr"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contains = subparsers.add_parser("contains", help="composes containing an RPM build")
    contains.add_argument("build", help="N-V-R (or, with --by, N-E:V-R.A, a name, an SRPM)")
    contains.add_argument("--by", choices=sorted(_BUILD_KINDS), default="nvr",
                          help="what BUILD names (default: nvr)")
    contains.add_argument("filters", nargs="*", metavar="FIELD=VALUE",
                          help="more list filters, e.g. type=nightly")
    for option, help_text in (("--tag", "tagged with this tag"),
                              ("--without-tag", "not tagged with this tag")):
        contains.add_argument(option, action="append", default=[], help=help_text)
    contains.add_argument("--not-removed", action="store_true",
                          help="only composes whose data is still there")
    contains.add_argument("--limit", type=int, default=50, help="at most this many (0: all)")
    contains.add_argument("--json", action="store_true", help="print the representations")
    contains.set_defaults(func=composes_containing)

    rpms = subparsers.add_parser("rpms", help="the RPMs of a compose")
    rpms.add_argument("compose_id")
    for option in ("variant", "arch", "name", "category"):
        rpms.add_argument(f"--{option}")
    rpms.add_argument("--json", action="store_true", help="print the entries as JSON")
    rpms.set_defaults(func=compose_rpms)

    diff = subparsers.add_parser("diff", help="what changed between two composes")
    diff.add_argument("old")
    diff.add_argument("new")
    diff.add_argument("--json", action="store_true")
    diff.set_defaults(func=compose_diff)


def _all_pages(client: CtsClient, path: str, params: list[tuple[str, str]]) -> list[Any]:
    found: list[Any] = []
    page = client.get(path, [*params, ("per_page", str(PAGE_SIZE))])
    while True:
        found.extend(page["items"])
        if not page["meta"]["next"]:
            return found
        page = client.get(page["meta"]["next"])


def composes_containing(client: CtsClient, args: argparse.Namespace) -> int:
    # `cts find` with the build as one more filter word: same paging and output.
    args.filters = [f"{_BUILD_KINDS[args.by]}={args.build}", *args.filters]
    args.order_by, args.page_size = [], PAGE_SIZE
    return find_composes(client, args)


def compose_rpms(client: CtsClient, args: argparse.Namespace) -> int:
    params = [(key, getattr(args, key)) for key in ("variant", "arch", "name", "category")
              if getattr(args, key)]
    entries = _all_pages(client, f"/api/1/composes/{args.compose_id}/rpms/", params)
    if args.json:
        print_json(entries)
    else:
        for entry in entries:
            print(f"{entry['variant']}.{entry['arch']}\t{entry['category']}\t{entry['nevra']}")
    return 0


def compose_diff(client: CtsClient, args: argparse.Namespace) -> int:
    found = client.get(f"/api/1/composes/{args.old}/diff/{args.new}")
    if args.json:
        print_json(found)
        return 0
    for change in found["changes"]:
        where = f"{change['variant']}.{change['arch']}"
        for kind, sign in (("added", "+"), ("removed", "-")):
            for rpm in change[kind]:
                print(f"{where}\t{sign} {rpm['name']}.{rpm['arch']} {rpm['evr']}")
        for kind in ("upgraded", "downgraded", "changed"):
            for rpm in change[kind]:
                print(f"{where}\t{kind} {rpm['name']}.{rpm['arch']} "
                      f"{rpm['old_evr']} -> {rpm['new_evr']}")
        for kind, sign in (("images_added", "+"), ("images_removed", "-")):
            for image in change[kind]:
                print(f"{where}\t{sign} image {image['type']}.{image['format']} {image['path']}")
    return 0
