"""`cts tag` and `cts untag`: the v1 PATCH actions, permission-checked by the service."""

from __future__ import annotations

import argparse

from ctsd.cts_cli.client import CtsClient
from ctsd.cts_cli.output import compose_line, print_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for action in ("tag", "untag"):
        parser = subparsers.add_parser(action, help=f"{action} a compose")
        parser.add_argument("compose_id")
        parser.add_argument("tag")
        parser.add_argument("--user-data", help="recorded in the history, e.g. a ticket URL")
        parser.add_argument("--json", action="store_true", help="print the representation")
        parser.set_defaults(func=change_tag, action=action)


def change_tag(client: CtsClient, args: argparse.Namespace) -> int:
    body = {"action": args.action, "tag": args.tag}
    if args.user_data is not None:
        body["user_data"] = args.user_data
    changed = client.patch(f"/api/1/composes/{args.compose_id}", json=body)
    if args.json:
        print_json(changed)
    else:
        print(compose_line(changed))
    return 0
