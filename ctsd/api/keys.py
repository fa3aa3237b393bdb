"""Typed keys for what the application and each request carry."""

from __future__ import annotations

from aiohttp import web

from ctsd.config import Settings
from ctsd.db.engine import ReadEngine
from ctsd.db.stored_answers import StoredAnswerLookup
from ctsd.service import CommandBus
from handlers.identity import Actor

SETTINGS = web.AppKey("settings", Settings)
# Views only read: on PostgreSQL this engine autocommits, so a read costs no BEGIN and
# ROLLBACK round trips. Every write goes through BUS (one transaction per command).
READ_ENGINE = web.AppKey("read_engine", ReadEngine)
BUS = web.AppKey("bus", CommandBus)
# GET /api/1/composes/{id}'s shortcut to stored answers; None where there is none.
STORED_ANSWERS: web.AppKey[StoredAnswerLookup | None] = web.AppKey("stored_answers")
ACTOR = web.RequestKey("actor", Actor)
