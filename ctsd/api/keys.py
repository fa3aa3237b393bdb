"""Typed keys for what the application and each request carry."""

from __future__ import annotations

from aiohttp import web

from ctsd.config import Settings
from ctsd.db.engine import ReadEngine
from ctsd.service import CommandBus
from handlers.identity import Actor

SETTINGS = web.AppKey("settings", Settings)
# Views only read: on PostgreSQL this engine autocommits, so a read costs no BEGIN and
# ROLLBACK round trips. Every write goes through BUS (one transaction per command).
READ_ENGINE = web.AppKey("read_engine", ReadEngine)
BUS = web.AppKey("bus", CommandBus)
ACTOR = web.RequestKey("actor", Actor)
