"""What `make run` tells a newcomer before serving: config file, database, address."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sqlalchemy.engine import make_url

from ctsd.config import DEFAULT_CONFIG_PATHS, load_settings


def config_source() -> str:
    # The same order as ctsd.config.load_settings: $CTSD_CONFIG, then the default places.
    if explicit := os.environ.get("CTSD_CONFIG"):
        return f"{explicit} ($CTSD_CONFIG)"
    for default in DEFAULT_CONFIG_PATHS:
        if Path(default).is_file():
            return str(Path(default).resolve())
    return "none found (./ctsd.toml, /etc/ctsd/ctsd.toml): built-in defaults"


def database(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return f"SQLite file {Path(parsed.database).resolve()}"
    return parsed.render_as_string(hide_password=True)


def main(port: str) -> None:
    settings = load_settings()
    print(f"make run: config: {config_source()}")
    print(f"make run: database: {database(settings.database_url)}")
    print(f"make run: auth backend: {settings.auth_backend}")
    print(f"make run: serving http://{settings.http_host}:{port}/ (API docs at /api/1/); "
          "another port: make run PORT=8080; stop with Ctrl-C")


if __name__ == "__main__":
    main(sys.argv[1])
