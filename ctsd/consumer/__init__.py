"""The bus consumer (`ctsd consume`): requests and build-tool notifications → commands.

Every message goes through `CommandBus.execute`, the same write path as HTTP, with its
message id recorded in the same transaction as its effect (see `runner` for acks,
dead letters and retries, `inputs` for what each topic means).
"""

from __future__ import annotations

import asyncio
import logging

from ctsd.bootstrap import open_write_path, until_signalled
from ctsd.config import ConfigError, Settings
from ctsd.consumer.amqp1 import consumer_class
from ctsd.consumer.runner import Consumer
from ctsd.db import migrate

__all__ = ["Consumer", "consume_forever", "run_consumer"]

log = logging.getLogger(__name__)


async def run_consumer(settings: Settings, stop_event: asyncio.Event) -> None:
    """Consume until `stop_event` is set. The schema must already be migrated."""
    _require_broker(settings)
    # Gapless: a consumer killed mid-batch has its batch redelivered, and the respins of
    # the batch's imports must then come out as if it had never run.
    async with open_write_path(settings, gapless_respins=True) as write_path:
        await consumer_class(settings)(settings, write_path.bus).run(stop_event)


def consume_forever(settings: Settings) -> int:
    """`ctsd consume`: migrate, then consume until SIGTERM or SIGINT; the exit status."""
    try:
        _require_broker(settings)
    except ConfigError as exc:
        log.error("configuration error: %s", exc)
        return 2
    migrate.upgrade(settings)
    asyncio.run(until_signalled(lambda stop: run_consumer(settings, stop)))
    log.info("consumer stopped")
    return 0


def _require_broker(settings: Settings) -> None:
    if not settings.amqp_url and consumer_class(settings) is Consumer:
        raise ConfigError("the consumer needs [messaging] amqp_url (or $CTSD_AMQP_URL)")
