"""Typed keys for what the application and each request carry."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from ctsd.config import Settings
from ctsd.service import CommandBus
from handlers.identity import Actor

SETTINGS = web.AppKey("settings", Settings)
ENGINE = web.AppKey("engine", AsyncEngine)
BUS = web.AppKey("bus", CommandBus)
ACTOR = web.RequestKey("actor", Actor)
