"""`cts`: argument parsing and dispatch; the subcommands live in COMMAND_MODULES.

Each module has `register(subparsers)`, which adds its subcommands and sets
`func(client, args) -> int` on each; a new module is one line in COMMAND_MODULES.
Global options: --url (CTS_URL), --token (CTS_TOKEN, an OIDC bearer token) and
--kerberos (SPNEGO through the front proxy).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from ctsd import __version__
from ctsd.cts_cli.client import CtsClient, CtsError, UsageError

DEFAULT_URL = "http://127.0.0.1:5005"

# One line per module; a module not installed (yet) only hides its own commands.
COMMAND_MODULES = (
    "ctsd.cts_cli.queries",
    "ctsd.cts_cli.importing",
    "ctsd.cts_cli.tagging",
    "ctsd.cts_cli.tags",
    "ctsd.cts_cli.promotions",
    "ctsd.cts_cli.watch",
    "ctsd.cts_cli.workflow",
    "ctsd.cts_cli.contents",
)


def _register_all(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        prog="cts", description="Query and change composes in CTS over its HTTP API.",
        epilog="Every command takes --json for the service's answer as JSON. Exit status: "
        "0 done, 1 the service answered an error or could not be reached, 2 wrong usage, "
        "3 not found, 130 interrupted.")
    parser.add_argument("--url", default=os.environ.get("CTS_URL", DEFAULT_URL),
                        help="CTS base URL (env CTS_URL; default %(default)s)")
    parser.add_argument("--token", default=os.environ.get("CTS_TOKEN"),
                        help="OIDC bearer token (env CTS_TOKEN)")
    parser.add_argument("--version", action="version", version=f"cts {__version__}")
    parser.add_argument("--kerberos", action="store_true",
                        help="authenticate with Kerberos (needs requests-gssapi)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _register_all(subparsers)
    return parser


EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status: 0 done, 1 the service answered an error (or could not be reached),
    2 wrong usage, 3 not found (404), 130 interrupted (Ctrl-C)."""
    args = build_parser().parse_args(argv)
    try:
        client = CtsClient(args.url, token=args.token, kerberos=args.kerberos)
        status: int = args.func(client, args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler below
        return status
    except UsageError as exc:
        print(f"cts: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CtsError as exc:
        print(f"cts: error: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND if exc.status == 404 else EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # `cts find | head -1`: the reader has what it wanted. Python would report the
        # pipe again while flushing stdout at exit, so stdout becomes /dev/null.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
