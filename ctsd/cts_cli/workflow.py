"""`cts request|promote|reject|withdraw|remove|gates`: the workflow extensions.

Thin wrappers of the HTTP endpoints; the service decides (ladder, permissions, gates).
"""

from __future__ import annotations

import argparse
from typing import Any

from ctsd.cts_cli.client import CtsClient
from ctsd.cts_cli.output import compose_line, print_fields, print_json


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    request = subparsers.add_parser("request", help="request a promotion of a compose")
    request.add_argument("compose_id")
    request.add_argument("to", help="the next ladder state, e.g. nightly")
    request.add_argument("--reason")
    request.add_argument("--user-data", help="recorded in the history, e.g. a ticket URL")
    _json_flag(request)
    request.set_defaults(func=request_promotion)

    for verb, helptext in (("promote", "perform a pending promotion request"),
                           ("reject", "reject a pending promotion request"),
                           ("withdraw", "withdraw a pending promotion request")):
        parser = subparsers.add_parser(verb, help=helptext)
        parser.add_argument("request_id", type=int)
        parser.add_argument("--reason", required=verb == "reject")
        _json_flag(parser)
        parser.set_defaults(func=decide, verb=verb)

    remove = subparsers.add_parser("remove", help="mark a compose removed from storage")
    remove.add_argument("compose_id")
    remove.add_argument("--reason", required=True)
    _json_flag(remove)
    remove.set_defaults(func=remove_compose)

    gates = subparsers.add_parser("gates", help="show or set the gates of a tag")
    gates.add_argument("tag")
    gates.add_argument("--requires", nargs="*", metavar="TAG",
                       help="replace: tags that must be present first")
    gates.add_argument("--excludes", nargs="*", metavar="TAG",
                       help="replace: tags that must not be present")
    _json_flag(gates)
    gates.set_defaults(func=tag_gates)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the whole answer")


def promotion_line(promotion: dict[str, Any]) -> str:
    """`#3 Fedora-...n.0 periodic -> nightly: requested by alice`."""
    line = (f"#{promotion['id']} {promotion['compose_id']} {promotion['from']} -> "
            f"{promotion['to']}: {promotion['state']}")
    if promotion.get("decided_by"):
        return f"{line} by {promotion['decided_by']}"
    return f"{line} by {promotion['requested_by']}"


def _show(args: argparse.Namespace, answer: dict[str, Any], line: str) -> int:
    if args.json:
        print_json(answer)
    else:
        print(line)
    return 0


def request_promotion(client: CtsClient, args: argparse.Namespace) -> int:
    body: dict[str, Any] = {"to": args.to}
    if args.reason is not None:
        body["reason"] = args.reason
    if args.user_data is not None:
        body["user_data"] = args.user_data
    answer = client.post(f"/api/1/composes/{args.compose_id}/promotions/", json=body)
    return _show(args, answer, promotion_line(answer))


_DECISION_PATHS = {"promote": "perform", "reject": "reject", "withdraw": "withdraw"}


def decide(client: CtsClient, args: argparse.Namespace) -> int:
    body = {"reason": args.reason} if args.reason is not None else {}
    answer = client.post(f"/api/1/promotions/{args.request_id}/{_DECISION_PATHS[args.verb]}",
                         json=body)
    return _show(args, answer, promotion_line(answer))


def remove_compose(client: CtsClient, args: argparse.Namespace) -> int:
    answer = client.post(f"/api/1/composes/{args.compose_id}/removal",
                         json={"reason": args.reason})
    return _show(args, answer, compose_line(answer))


def tag_gates(client: CtsClient, args: argparse.Namespace) -> int:
    path = f"/api/1/tags/{args.tag}/gates"
    if args.requires is None and args.excludes is None:
        answer = client.get(path)
    else:
        # PUT replaces both lists: keep the one not given as it is.
        current = client.get(path)
        answer = client.put(path, json={
            "requires": current["requires"] if args.requires is None else args.requires,
            "excludes": current["excludes"] if args.excludes is None else args.excludes,
        })
    if args.json:
        print_json(answer)
    else:
        print_fields([("Tag", args.tag), ("Requires", answer["requires"]),
                      ("Excludes", answer["excludes"])])
    return 0
