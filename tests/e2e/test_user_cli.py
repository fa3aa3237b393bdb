"""The `cts` user CLI, run as a real command against a real `ctsd serve` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import compose_info
from tests.e2e.conftest import Server, free_port

CTS = Path(sys.executable).with_name("cts")


def cts(server_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    assert CTS.exists(), f"{CTS} is not installed (pip install -e .)"
    env = {**os.environ, "CTS_URL": server_url}
    env.pop("CTS_TOKEN", None)
    return subprocess.run([str(CTS), *args], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def ok(server_url: str, *args: str) -> str:
    result = cts(server_url, *args)
    assert result.returncode == 0, f"cts {' '.join(args)}: {result.stderr}"
    return result.stdout


def post(server: Server, path: str, body: dict[str, Any]) -> Any:
    response = requests.post(server.base_url + path, json=body, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def server(start_ctsd, e2e_database_url) -> Server:
    return start_ctsd(1, CTSD_DATABASE_URL=e2e_database_url)[0]


def seed(server: Server) -> list[str]:
    first = post(server, "/api/1/composes/", {
        "compose_info": compose_info("rhel", "10.0", "20250101", type_="nightly")})
    first_id = first["payload"]["compose"]["id"]
    ids = [first_id]
    for date in ("20250101", "20250102"):
        body = {"compose_info": compose_info("rhel", "10.0", date, type_="nightly"),
                "respin_of": ids[-1]}
        ids.append(post(server, "/api/1/composes/", body)["payload"]["compose"]["id"])
    post(server, "/api/1/tags/", {"name": "qa-passed", "description": "QE passed",
                                  "documentation": "https://docs"})
    return ids


def test_find_show_tag_untag_latest_and_lineage(server):
    ids = seed(server)
    url = server.base_url
    assert ids[1] == "rhel-10.0-20250101.n.1"
    out = ok(url, "tag", ids[1], "qa-passed", "--user-data", "https://ticket/1")
    assert out.startswith(ids[1]) and "tags: qa-passed" in out
    changes = json.loads(ok(url, "show", ids[1], "--changes", "--json"))["changes"]
    assert changes[-1]["action"] == "tagged" and changes[-1]["user_data"] == "https://ticket/1"
    assert json.loads(ok(url, "show", ids[1], "--json"))["tags"] == ["qa-passed"]

    # A header line, then one row per compose.
    found = ok(url, "find", "release_short=rhel", "--tag", "qa-passed").splitlines()
    assert found[0].split() == ["ID", "DATE", "TYPE", "STATE", "TAGS", "LOCATION"]
    assert [row.split()[0] for row in found[1:]] == [ids[1]]
    assert ok(url, "find", "--without-tag", "qa-passed").splitlines()[1].startswith(ids[2])
    # One compose per page: `find` follows the keyset `next` links to the end.
    listed = json.loads(ok(url, "find", "--limit", "0", "--page-size", "1",
                           "--order-by=date", "--order-by=respin", "--json"))
    assert [item["compose_info"]["payload"]["compose"]["id"] for item in listed] == ids

    assert ok(url, "latest", "type=nightly").strip() == ids[2]
    assert ok(url, "latest", "type=nightly", "--tag", "qa-passed").strip() == ids[1]
    assert ok(url, "neighbours", ids[1]).split("\n")[:2] == [f"previous: {ids[0]}",
                                                              f"next: {ids[2]}"]
    lineage = json.loads(ok(url, "lineage", ids[2], "--json"))
    assert [entry["compose_id"] for entry in lineage["respin_of"]] == [ids[1], ids[0]]
    assert f"respin_of   {ids[0]}" in ok(url, "lineage", ids[2])

    assert "tags: -" in ok(url, "untag", ids[1], "qa-passed")
    assert json.loads(ok(url, "show", ids[1], "--json"))["tags"] == []


def test_errors_are_one_line_with_the_server_message_and_exit_1(server):
    url = server.base_url
    result = cts(url, "show", "nope-1.0-20250101.0")
    assert result.returncode == 3  # not found
    assert result.stderr.strip() == "cts: error: 404: No such compose found."
    result = cts(url, "latest", "release_short=none")
    assert result.returncode == 3 and "No compose matches" in result.stderr
    result = cts(url, "find", "order_by=nope")
    assert result.returncode == 1 and "400" in result.stderr
    result = cts(f"http://127.0.0.1:{free_port()}", "show", "x")
    assert result.returncode == 1 and "cannot reach" in result.stderr
    assert "Traceback" not in result.stderr


def test_watch_prints_events_from_the_feed_and_the_live_stream(server):
    ids = seed(server)
    url = server.base_url
    polled = [json.loads(line) for line in
              ok(url, "watch", "--poll", "--count", "3", "--from-start", "--json").splitlines()]
    assert [event["body"]["compose"]["compose_info"]["payload"]["compose"]["id"]
            for event in polled] == ids
    assert all(event["topic"].endswith("compose-created") for event in polled)
    # The live stream, continuing after the first event.
    streamed = [json.loads(line) for line in ok(
        url, "watch", "--count", "2", "--after", polled[0]["cursor"], "--json").splitlines()]
    assert [event["cursor"] for event in streamed] == [e["cursor"] for e in polled[1:]]
