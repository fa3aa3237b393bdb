"""Configuration: TOML layout, environment overrides, defaults and refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctsd.config import ConfigError, Settings, load_settings, to_driver_url

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "ctsd.toml"


def test_no_configuration_means_sqlite_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(environ={})
    assert settings.database_url == "sqlite:///ctsd.sqlite"
    assert settings.async_database_url == "sqlite+aiosqlite:///ctsd.sqlite"
    assert settings.auth_backend == "noauth"
    assert settings.amqp_url == ""


def test_documented_example_equals_the_defaults():
    assert load_settings(EXAMPLE, environ={}) == Settings()


def test_environment_overrides_the_file(tmp_path):
    path = tmp_path / "ctsd.toml"
    path.write_text('[database]\nurl = "sqlite:///a.db"\n[http]\nport = 7000\n'
                    '[auth]\nadmins = { users = ["alice"], groups = ["releng"] }\n')
    settings = load_settings(path, environ={"CTSD_DATABASE_URL": "postgresql://u@h/db",
                                            "CTSD_HTTP_PORT": "8000"})
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.sync_database_url == "postgresql+psycopg2://u@h/db"
    assert settings.async_database_url == "postgresql+asyncpg://u@h/db"
    assert settings.http_port == 8000
    assert settings.admins.users == {"alice"} and settings.admins.groups == {"releng"}


@pytest.mark.parametrize(("content", "named"), [
    ("[databse]\nurl = 'x'\n", "databse"),
    ("[http]\nper_page_default = 5000\n", "per_page_default"),
    ("[auth]\nadmins = ['alice']\n", "[auth.admins]"),
    ("[database]\nurl = 'mysql://x/y'\n", "postgresql and sqlite"),
    ("not toml at all = = =", "ctsd.toml"),
    ("[database]\ngroup_commit_transactions = 0\n", "group_commit_transactions"),
])
def test_bad_configuration_is_refused_with_the_key_named(tmp_path, content, named):
    path = tmp_path / "ctsd.toml"
    path.write_text(content)
    with pytest.raises(ConfigError, match=named.replace("[", r"\[").replace("]", r"\]")):
        load_settings(path, environ={})


def test_bad_environment_value_is_refused():
    with pytest.raises(ConfigError, match="CTSD_HTTP_PORT"):
        load_settings(environ={"CTSD_HTTP_PORT": "eighty", "CTSD_CONFIG": str(EXAMPLE)})


def test_driver_url_keeps_credentials():
    assert to_driver_url("postgres://u:p%40ss@h:5/db", asynchronous=True) == (
        "postgresql+asyncpg://u:p%40ss@h:5/db")
