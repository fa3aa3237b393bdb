"""The bus consumer (`ctsd consume`): requests and build-tool notifications → commands.

Every message goes through `CommandBus.execute`, the same write path as HTTP, with its
message id recorded in the same transaction as its effect (see `runner` for acks,
dead letters and retries, `inputs` for what each topic means).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from datetime import timedelta

from ctsd.api.app import roles_from
from ctsd.config import ConfigError, Settings
from ctsd.consumer.amqp1 import consumer_class
from ctsd.consumer.runner import Consumer
from ctsd.db import migrate
from ctsd.db.engine import create_engine
from ctsd.service import CommandBus

__all__ = ["Consumer", "consume_forever", "run_consumer"]

log = logging.getLogger(__name__)


async def run_consumer(settings: Settings, stop_event: asyncio.Event) -> None:
    """Consume until `stop_event` is set. The schema must already be migrated."""
    _require_broker(settings)
    engine = create_engine(settings)
    try:
        bus = CommandBus(engine, roles_from(settings), settings.topic_prefix,
                         timedelta(hours=settings.idempotency_ttl_hours))
        await consumer_class(settings)(settings, bus).run(stop_event)
    finally:
        await engine.dispose()


def consume_forever(settings: Settings) -> int:
    """`ctsd consume`: migrate, then consume until SIGTERM or SIGINT; the exit status."""
    try:
        _require_broker(settings)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2
    migrate.upgrade(settings)
    asyncio.run(_consume_until_signalled(settings))
    log.info("consumer stopped")
    return 0


async def _consume_until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_consumer(settings, stop)


def _require_broker(settings: Settings) -> None:
    if not settings.amqp_url and consumer_class(settings) is Consumer:
        raise ConfigError("the consumer needs [messaging] amqp_url (or $CTSD_AMQP_URL)")
