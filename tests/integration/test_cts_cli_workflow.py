"""`cts` workflow subcommands against the real app over real HTTP (PostgreSQL, SQLite)."""

from __future__ import annotations

import asyncio
import json

from ctsd.cts_cli.main import main
from tests.conftest import create_tag, import_compose

COMPOSE_ID = "test-1.0-20200526.0"


async def cts(client, capsys, *argv: str) -> tuple[int, str, str]:
    # The CLI is synchronous (requests): run it in a thread while the loop serves it.
    base = str(client.make_url("")).rstrip("/")
    code = await asyncio.to_thread(main, ["--url", base, *argv])
    out, err = capsys.readouterr()
    return code, out, err


async def test_request_promote_reject_withdraw_remove_and_gates(client, capsys):
    await import_compose(client)
    await create_tag(client, "qa-passed")
    await create_tag(client, "nightly")
    code, out, _ = await cts(client, capsys, "gates", "nightly", "--requires", "qa-passed",
                             "--json")
    assert code == 0 and json.loads(out) == {"requires": ["qa-passed"], "excludes": []}
    code, out, _ = await cts(client, capsys, "request", COMPOSE_ID, "nightly",
                             "--reason", "best")
    assert (code, out.strip()) == (0, f"#1 {COMPOSE_ID} periodic -> nightly: requested by "
                                      "anonymous")
    code, _, err = await cts(client, capsys, "promote", "1")
    assert code == 1 and "409" in err and "requires qa-passed" in err
    code, out, _ = await cts(client, capsys, "reject", "1", "--reason", "no", "--json")
    assert code == 0 and json.loads(out)["state"] == "rejected"
    await cts(client, capsys, "request", COMPOSE_ID, "nightly")
    code, out, _ = await cts(client, capsys, "withdraw", "2")
    assert code == 0 and out.strip().endswith("withdrawn by anonymous")
    code, out, _ = await cts(client, capsys, "remove", COMPOSE_ID, "--reason", "gone")
    assert code == 0 and "[removed]" in out
    code, out, _ = await cts(client, capsys, "gates", "nightly", "--excludes", "--json")
    assert json.loads(out) == {"requires": ["qa-passed"], "excludes": []}
