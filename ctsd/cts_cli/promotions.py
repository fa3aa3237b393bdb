"""`cts promotions list|show`: promotion requests up the [workflow] ladder.

`cts request`, `promote`, `reject` and `withdraw` (ctsd/cts_cli/workflow.py) change them.
"""

from __future__ import annotations

import argparse

from ctsd.cts_cli.client import CtsClient, CtsError
from ctsd.cts_cli.output import print_fields, print_json, print_table

PAGE_SIZE = 100


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    promotions = subparsers.add_parser("promotions", help="list and show promotion requests")
    verbs = promotions.add_subparsers(dest="promotions_command", metavar="VERB", required=True)

    listing = verbs.add_parser("list", help="promotion requests, newest first")
    listing.add_argument("--compose", metavar="COMPOSE_ID", help="of this compose only")
    listing.add_argument("--state", choices=("requested", "performed", "rejected",
                                             "withdrawn"))
    listing.add_argument("--to", metavar="STATE", help="towards this ladder state")
    listing.add_argument("--limit", type=int, default=20, help="at most this many (0: all)")
    listing.add_argument("--json", action="store_true", help="print the requests")
    listing.set_defaults(func=list_promotions)

    show = verbs.add_parser("show", help="one promotion request")
    show.add_argument("request_id", type=int)
    show.add_argument("--json", action="store_true", help="print the request")
    show.set_defaults(func=show_promotion)


def list_promotions(client: CtsClient, args: argparse.Namespace) -> int:
    params = [(name, value) for name, value in (("state", args.state), ("to", args.to))
              if value]
    if args.compose:
        answer = client.get(f"/api/1/composes/{args.compose}/promotions/")
        found = [item for item in answer["promotions"]
                 if all(item["state" if name == "state" else "to"] == value
                        for name, value in params)]
    else:
        found = client.all_items("/api/1/promotions/", [*params, ("per_page", PAGE_SIZE)],
                                 args.limit)
    found = found[: args.limit] if args.limit else found
    if args.json:
        print_json(found)
        return 0
    print_table(("id", "compose", "from", "to", "state", "by", "at"), (
        [str(item["id"]), item["compose_id"], item["from"], item["to"], item["state"],
         item.get("decided_by") or item["requested_by"],
         item.get("decided_at") or item["requested_at"]] for item in found))
    return 0


def show_promotion(client: CtsClient, args: argparse.Namespace) -> int:
    # The API has no GET /promotions/{id}: the list is searched (newest pages first).
    for item in client.all_items("/api/1/promotions/", [("per_page", PAGE_SIZE)]):
        if item["id"] == args.request_id:
            break
    else:
        raise CtsError(404, f"Promotion request {args.request_id} does not exist")
    if args.json:
        print_json(item)
        return 0
    print_fields([
        ("Request", f"#{item['id']}"), ("Compose", item["compose_id"]),
        ("Promotion", f"{item['from']} -> {item['to']}"), ("State", item["state"]),
        ("Requested", f"{item['requested_at']} by {item['requested_by']}"),
        ("Reason", item.get("reason")),
        ("Decided", f"{item['decided_at']} by {item['decided_by']}"
         if item.get("decided_by") else None),
        ("Decision reason", item.get("decision_reason")),
    ])
    return 0
