"""Small input checks shared by several handlers."""

from __future__ import annotations

from urllib.parse import urlsplit

from handlers.errors import InvalidInput

MAX_URL_LENGTH = 2048
MAX_USER_DATA_LENGTH = 4096


def check_http_url(value: object, field: str) -> str:
    """An absolute http(s) URL with a host and no whitespace or control characters."""
    if not isinstance(value, str) or not value:
        raise InvalidInput(f'"{field}" must be a non-empty string')
    if len(value) > MAX_URL_LENGTH:
        raise InvalidInput(f'"{field}" is longer than {MAX_URL_LENGTH} characters')
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise InvalidInput(f'"{field}" must not contain whitespace or control characters')
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise InvalidInput(f'"{field}" is not a valid URL: {exc}') from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f'"{field}" must be an http or https URL, got {value!r}')
    return value


def check_user_data(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput('"user_data" must be a string')
    if len(value) > MAX_USER_DATA_LENGTH:
        raise InvalidInput(f'"user_data" is longer than {MAX_USER_DATA_LENGTH} characters')
    return value


def check_text(value: object, field: str, *, max_length: int = 10000) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f'"{field}" is required and must be a non-empty string')
    if len(value) > max_length:
        raise InvalidInput(f'"{field}" is longer than {max_length} characters')
    return value
