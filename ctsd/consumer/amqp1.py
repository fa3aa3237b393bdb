"""`ctsd consume` on an AMQP 1.0 queue ([messaging.amqp1] consume_from): the same
batches, commands, dedup and dead letters as on AMQP 0-9-1 (ctsd.consumer.runner);
only the session differs (ctsd.consumer.amqp1_session)."""

from __future__ import annotations

import asyncio
from typing import Any

from ctsd.config import Settings
from ctsd.consumer.amqp1_session import Amqp1Session
from ctsd.consumer.runner import Consumer


class Amqp1Consumer(Consumer):
    async def _session(self, stop: asyncio.Event) -> None:
        amqp1 = self.settings.broker.amqp1
        assert amqp1 is not None and amqp1.consume_from
        session = await Amqp1Session.open(amqp1, self.settings.consumer_prefetch)
        try:
            # Duck-typed: the loop uses only what both session kinds have.
            channel: Any = session
            await self._work(channel, stop)
        finally:
            await session.close()


def consumer_class(settings: Settings) -> type[Consumer]:
    """Amqp1Consumer when [messaging.amqp1] consume_from is set, else Consumer."""
    amqp1 = settings.broker.amqp1
    return Amqp1Consumer if amqp1 is not None and amqp1.consume_from else Consumer
