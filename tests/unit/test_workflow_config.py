"""The [workflow] section: ladder, reminder interval, expiry policies, and refusals."""

from __future__ import annotations

import re

import pytest

from ctsd.config import ConfigError, load_settings
from handlers.commands import DEFAULT_LADDER, ExpiryPolicy


def settings_from(tmp_path, text: str):
    path = tmp_path / "ctsd.toml"
    path.write_text(text)
    return load_settings(path, environ={})


def test_defaults(tmp_path):
    workflow = settings_from(tmp_path, "").workflow
    assert workflow.ladder == DEFAULT_LADDER
    assert workflow.reminder_interval_seconds == 86400
    assert workflow.expiry == ()


def test_everything_set(tmp_path):
    workflow = settings_from(tmp_path, "\n".join([
        "[workflow]", 'ladder = ["built", "tested", "shipped"]',
        "reminder_interval_seconds = 0", "check_interval_seconds = 5",
        "[[workflow.expire]]", 'compose_type = "nightly"', "days = 14",
        "[[workflow.expire]]", 'release_short = "Fedora"', "days = 30",
    ])).workflow
    assert workflow.ladder == ("built", "tested", "shipped")
    assert workflow.reminder_interval_seconds == 0
    assert workflow.check_interval_seconds == 5
    assert workflow.expiry == (ExpiryPolicy(14, "nightly"), ExpiryPolicy(30, None, "Fedora"))


@pytest.mark.parametrize(("text", "message"), [
    ('ladder = ["only"]', "at least two"),
    ('ladder = ["a", "a"]', "at least two distinct"),
    ('ladder = ["a", "b c"]', "whitespace"),
    ('ladder = "a,b"', "must be a list"),
    ("reminder_interval_seconds = -1", "whole number"),
    ("check_interval_seconds = 0", "whole number"),
    ("colour = 1", "unknown [workflow] keys"),
    ("[[workflow.expire]]\ncompose_type = \"nightly\"", "needs days"),
    ("[[workflow.expire]]\ndays = 0", "whole number"),
    ("[[workflow.expire]]\ndays = 3\nrelease = \"x\"", "take days"),
])
def test_refusals_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        settings_from(tmp_path, f"[workflow]\n{text}\n")
