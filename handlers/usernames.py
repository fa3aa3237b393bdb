"""What a username may be, for every authentication backend and the bus alike.

Usernames end up in history rows (`user` columns of 255 characters), the outbox and log
lines. One that does not fit would fail deep inside a write (after a respin was taken);
one with control characters could forge log lines or terminal output. Both are the
identity provider's or sender's mistake: 401, naming the problem.
"""

from __future__ import annotations

import unicodedata

MAX_USERNAME_LENGTH = 255

# Unicode categories never valid in a name: controls (C0, DEL, C1), format characters
# (bidi overrides that reorder what an operator reads), surrogates, line separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def username_problem(username: object) -> str | None:
    """Why `username` cannot be used, or None if it can."""
    if not isinstance(username, str) or not username.strip():
        return "The username is empty"
    if len(username) > MAX_USERNAME_LENGTH:
        return f"The username is longer than {MAX_USERNAME_LENGTH} characters"
    if any(unicodedata.category(ch) in _FORBIDDEN_CATEGORIES for ch in username):
        return "The username contains control characters"
    return None
