"""`cts tags list|show|create|grant|revoke`: the tags QE teams set, and who may set them.

Creating tags and granting permissions needs an admin of the service ([auth] admins);
the service decides, the CLI only asks.
"""

from __future__ import annotations

import argparse
from typing import Any

from ctsd.cts_cli.client import CtsClient, UsageError
from ctsd.cts_cli.output import print_fields, print_json, print_table

ROLES = ("tagger", "untagger")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    tags = subparsers.add_parser("tags", help="list, show, create tags; grant taggers")
    verbs = tags.add_subparsers(dest="tags_command", metavar="VERB", required=True)

    listing = verbs.add_parser("list", help="every tag, by name")
    _json_flag(listing)
    listing.set_defaults(func=list_tags)

    show = verbs.add_parser("show", help="one tag and its permissions")
    show.add_argument("tag")
    _json_flag(show)
    show.set_defaults(func=show_tag)

    create = verbs.add_parser("create", help="create a tag (admins)")
    create.add_argument("tag")
    create.add_argument("--description", required=True)
    create.add_argument("--documentation", required=True, metavar="URL",
                        help="where the tag's meaning is written down")
    _json_flag(create)
    create.set_defaults(func=create_tag)

    for verb, action in (("grant", "add"), ("revoke", "remove")):
        change = verbs.add_parser(verb, help=f"{verb} a user or group the right to set "
                                  "(tagger) or remove (untagger) a tag (admins)")
        change.add_argument("tag")
        who = change.add_mutually_exclusive_group(required=True)
        who.add_argument("--user")
        who.add_argument("--group")
        change.add_argument("--role", choices=ROLES, default="tagger")
        _json_flag(change)
        change.set_defaults(func=change_permission, action=action)


def _json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the whole answer")


def _people(tag: dict[str, Any], role: str) -> list[str]:
    return [*tag.get(f"{role}s", []), *(f"@{group}" for group in tag.get(f"{role}_groups", []))]


def list_tags(client: CtsClient, args: argparse.Namespace) -> int:
    found = client.all_items("/api/1/tags/")
    if args.json:
        print_json(found)
        return 0
    print_table(("name", "taggers", "untaggers", "description"), (
        [tag["name"], ",".join(_people(tag, "tagger")), ",".join(_people(tag, "untagger")),
         tag.get("description") or ""] for tag in sorted(found, key=lambda t: t["name"])))
    return 0


def _print_tag(args: argparse.Namespace, tag: dict[str, Any]) -> int:
    if args.json:
        print_json(tag)
        return 0
    print_fields([("Tag", tag["name"]), ("Description", tag.get("description")),
                  ("Documentation", tag.get("documentation")),
                  ("Taggers", _people(tag, "tagger")),
                  ("Untaggers", _people(tag, "untagger"))])
    return 0


def show_tag(client: CtsClient, args: argparse.Namespace) -> int:
    return _print_tag(args, client.get(f"/api/1/tags/{args.tag}"))


def create_tag(client: CtsClient, args: argparse.Namespace) -> int:
    return _print_tag(args, client.post("/api/1/tags/", json={
        "name": args.tag, "description": args.description,
        "documentation": args.documentation}))


def change_permission(client: CtsClient, args: argparse.Namespace) -> int:
    if not (args.user or args.group):
        raise UsageError("name a --user or a --group")
    body = {"action": f"{args.action}_{args.role}"}
    body.update({"username": args.user} if args.user else {"group": args.group})
    return _print_tag(args, client.patch(f"/api/1/tags/{args.tag}", json=body))
