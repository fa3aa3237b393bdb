"""`ctsd` command line: serve, migrate, and administer tags and permissions."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import ipaddress
import json
import logging
import ssl
import sys
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import uvloop

from ctsd.api.server import run_app
from ctsd.auth.tls import server_ssl_context
from ctsd.bootstrap import open_write_path, relay_forever
from ctsd.config import ConfigError, Settings, load_settings
from ctsd.consumer import consume_forever
from ctsd.db import migrate
from ctsd.db.errors import database_failure_exit
from ctsd.distribution import exit_on_top_level_clash
from ctsd.observability.announce import announced, config_file_used
from ctsd.observability.setup import setup_observability
from ctsd.observability.tracing import TracingConfigError
from ctsd.serving import serve_workers, serving_app
from handlers.commands import (
    TAG_PERMISSION_ACTIONS,
    ChangeTagPermission,
    CreateTag,
    EnsureLadderTags,
)
from handlers.errors import CommandError
from handlers.identity import Actor

log = logging.getLogger("ctsd")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctsd", description="Compose Tracking Service")
    parser.add_argument("--config", help="path to ctsd.toml (default: ./ctsd.toml, "
                        "/etc/ctsd/ctsd.toml, or $CTSD_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the HTTP API (migrates the schema first)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int, help="processes sharing the port")
    serve.add_argument("--allow-noauth-on-network", action="store_true",
                       help="serve the noauth backend (everyone is an admin) on a "
                       "non-loopback address anyway")
    serve.add_argument("--tls-cert", help="serve HTTPS with this PEM certificate (chain)")
    serve.add_argument("--tls-key", help="the PEM private key of --tls-cert")
    serve.add_argument("--tls-client-ca", help="PEM CA bundle: ask clients for a "
                       "certificate and verify it against these CAs (auth backend cert)")

    db = sub.add_parser("db", help="schema migrations").add_subparsers(dest="db_command",
                                                                        required=True)
    up = db.add_parser("upgrade", help="migrate to a revision (default: head)")
    up.add_argument("revision", nargs="?", default="head")
    down = db.add_parser("downgrade", help="migrate back to a revision")
    down.add_argument("revision")

    sub.add_parser("relay", help="publish the outbox to the message broker "
                   "(messaging.amqp_url) until stopped")
    sub.add_parser("consume", help="turn bus requests and Pungi/ODCS notifications into "
                   "commands (messaging.amqp_url, [consumer]) until stopped")

    tag = sub.add_parser("tag", help="administer tags").add_subparsers(dest="tag_command",
                                                                       required=True)
    create = tag.add_parser("create", help="create a tag")
    create.add_argument("name")
    create.add_argument("--description", required=True)
    create.add_argument("--documentation", required=True)
    for action in TAG_PERMISSION_ACTIONS:
        perm = tag.add_parser(action.replace("_", "-"), help=f"{action} on a tag")
        perm.add_argument("tag")
        perm.add_argument("--user")
        perm.add_argument("--group")
    tag.add_parser("create-ladder", help="create the missing <state> and <state>-requested "
                   "tags of [workflow] ladder, so taggers can be granted on them")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    args = build_parser().parse_args(argv)
    exit_on_top_level_clash()
    try:
        settings = load_settings(args.config)
        setup_observability(settings)
    except (ConfigError, TracingConfigError) as exc:
        print(f"ctsd: configuration error: {exc}", file=sys.stderr)
        return 2
    config_file = config_file_used(args.config)
    if args.command == "serve":
        host, port = args.host or settings.http_host, args.port or settings.http_port
        with announced("serve", f"HTTP API on {host}:{port}, "
                       f"{args.workers or settings.http_workers} worker(s)", settings,
                       config_file):
            return _serve_command(settings, args)
    if args.command == "db":
        if args.db_command == "upgrade":
            migrate.upgrade(settings, args.revision)
        else:
            migrate.downgrade(settings, args.revision)
        return 0
    if args.command == "relay":
        with announced("relay", f"outbox relay to exchange {settings.publish_exchange}",
                       settings, config_file):
            return relay_forever(settings)
    if args.command == "consume":
        with announced("consume", f"bus consumer of queue {settings.consumer_queue} on "
                       f"exchange {settings.consumer_exchange}", settings, config_file):
            return consume_forever(settings)
    return asyncio.run(_tag_command(settings, args))


def _serve_command(settings: Settings, args: argparse.Namespace) -> int:
    try:
        settings = with_tls_options(settings, args)
    except (ConfigError, OSError, ssl.SSLError) as exc:
        print(f"ctsd: TLS configuration error: {exc}", file=sys.stderr)
        return 2
    return serve(settings, args.host, args.port, args.workers,
                 allow_noauth_on_network=args.allow_noauth_on_network)


def serve(settings: Settings, host: str | None, port: int | None, workers: int | None, *,
          allow_noauth_on_network: bool = False) -> int:
    host = host or settings.http_host
    port = port or settings.http_port
    workers = workers or settings.http_workers
    if settings.auth_backend == "noauth" and not _is_loopback(host) and (
            not allow_noauth_on_network):
        print(f"ctsd: refusing to serve the noauth backend (every caller is an admin) on "
              f"{host}; bind to 127.0.0.1, configure authentication, or pass "
              "--allow-noauth-on-network", file=sys.stderr)
        return 2
    migrate.upgrade(settings)
    if workers <= 1:
        _run_worker(settings, host, port)
        return 0
    # gunicorn with aiohttp's worker class: the parent binds once, workers inherit.
    return serve_workers(settings, host, port, workers)


def with_tls_options(settings: Settings, args: argparse.Namespace) -> Settings:
    """Settings with the --tls-* options applied; the files are loaded once to check them."""
    overrides = {name: value for name in ("tls_cert", "tls_key", "tls_client_ca")
                 if (value := getattr(args, name)) is not None}
    settings = replace(settings, **overrides)
    if bool(settings.tls_cert) != bool(settings.tls_key):
        raise ConfigError("a TLS certificate needs its key, and a key its certificate")
    if settings.tls_client_ca and not settings.tls_cert:
        raise ConfigError("--tls-client-ca needs --tls-cert and --tls-key")
    if "cert" in settings.auth_backends and not settings.tls_client_ca:
        raise ConfigError("the cert backend needs a client CA (--tls-client-ca)")
    server_ssl_context(settings)
    return settings


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: assume it is reachable


def _run_worker(settings: Settings, host: str, port: int) -> None:
    # uvloop's C event loop and transports: the API spends much of its time in socket
    # I/O to clients and to PostgreSQL.
    try:
        # ctsd.api.server: aiohttp's own errors (malformed requests) answer JSON too.
        run_app(serving_app(settings), host=host, port=port,
                ssl_context=server_ssl_context(settings), loop=uvloop.new_event_loop())
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", host, port, exc.strerror or exc)
        sys.exit(1)


async def _tag_command(settings: Settings, args: argparse.Namespace) -> int:
    # Operators at the shell already hold the database credentials: they act as admins,
    # and the history names them as "cli:<unix user>".
    actor = Actor(username=f"cli:{getpass.getuser()}", backend="cli", superuser=True)
    command: Any
    if args.tag_command == "create":
        command = CreateTag(args.name, args.description, args.documentation)
    elif args.tag_command == "create-ladder":
        command = EnsureLadderTags(settings.workflow.ladder)
    else:
        command = ChangeTagPermission(args.tag, args.tag_command.replace("-", "_"),
                                      args.user, args.group)
    try:
        async with open_write_path(settings) as write_path:
            outcome = await write_path.bus.execute(command, actor)
    except CommandError as exc:
        print(f"ctsd: {exc.message}", file=sys.stderr)
        return 1
    except Exception as exc:
        exit_code = database_failure_exit(exc)
        if exit_code is None:
            raise
        return exit_code
    print(json.dumps(outcome.body, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
