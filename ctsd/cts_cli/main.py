"""`cts`: argument parsing and dispatch; the subcommands live in COMMAND_MODULES.

Each module has `register(subparsers)`, which adds its subcommands and sets
`func(client, args) -> int` on each. Global options: --url (CTS_URL), --token
(CTS_TOKEN, an OIDC bearer token) and --kerberos (SPNEGO through the front proxy).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ctsd.cts_cli.client import CtsClient, CtsError

DEFAULT_URL = "http://127.0.0.1:5005"

COMMAND_MODULES = (
    "ctsd.cts_cli.queries",
    "ctsd.cts_cli.tagging",
    "ctsd.cts_cli.watch",
    "ctsd.cts_cli.workflow",
    "ctsd.cts_cli.contents",
)


def _register_all(subparsers: argparse._SubParsersAction) -> None:
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            # A command module not installed (yet) only hides its own commands; a
            # missing dependency *inside* a module still fails loudly.
            if exc.name == name:
                continue
            raise
        module.register(subparsers)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cts", description="Query and change composes in CTS over its HTTP API.")
    parser.add_argument("--url", default=os.environ.get("CTS_URL", DEFAULT_URL),
                        help="CTS base URL (env CTS_URL; default %(default)s)")
    parser.add_argument("--token", default=os.environ.get("CTS_TOKEN"),
                        help="OIDC bearer token (env CTS_TOKEN)")
    parser.add_argument("--kerberos", action="store_true",
                        help="authenticate with Kerberos (needs requests-gssapi)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _register_all(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        client = CtsClient(args.url, token=args.token, kerberos=args.kerberos)
        return args.func(client, args)
    except CtsError as exc:
        print(f"cts: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
