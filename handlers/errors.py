"""Errors a command can end with. Each maps to one HTTP status and one bus outcome."""

from __future__ import annotations


class CommandError(Exception):
    """A request that cannot succeed as sent; retrying it unchanged will fail again."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(CommandError):
    status = 400


class NotAuthenticated(CommandError):
    status = 401


class Forbidden(CommandError):
    status = 403


class NotFound(CommandError):
    status = 404


class Conflict(CommandError):
    """The request clashes with stored state (e.g. an Idempotency-Key reused)."""

    status = 409
