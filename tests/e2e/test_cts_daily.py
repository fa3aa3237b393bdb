"""`cts` as people use it daily, against a real `ctsd serve` on PostgreSQL: import, find,
tags, promotions, watch; exit codes, closed pipes, Ctrl-C, and a real pseudo-terminal.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.conftest import compose_info
from tests.e2e.conftest import Server, query
from tests.e2e.test_user_cli import CTS, cts, ok

pytestmark = pytest.mark.e2e

HEADER = ["ID", "DATE", "TYPE", "STATE", "TAGS", "LOCATION"]


@pytest.fixture
def server(start_ctsd, e2e_database_url) -> Server:
    return start_ctsd(1, CTSD_DATABASE_URL=e2e_database_url)[0]


def write_compose_info(tmp_path: Path, short: str, date: str = "20260301") -> Path:
    path = tmp_path / f"{short}-{date}.json"
    path.write_text(json.dumps(compose_info(short, "10.0", date, type_="nightly")))
    return path


def cts_input(url: str, stdin: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CTS_URL": url}
    return subprocess.run([str(CTS), *args], input=stdin, env=env, capture_output=True,
                          text=True, timeout=60, check=False)


def end_cursor(server: Server) -> tuple[int, int]:
    after = "0"
    while True:
        page = requests.get(f"{server.base_url}/api/1/events/",
                            params={"after": after, "limit": 1000}, timeout=10).json()
        after = page["next"] or after
        if len(page["events"]) < 1000:
            xid, row = after.split(":") if ":" in after else (0, 0)
            return int(xid), int(row)


def test_import_find_tag_request_promote(server, tmp_path):
    url = server.base_url
    first = ok(url, "import", str(write_compose_info(tmp_path, "daily"))).strip()
    assert first == "daily-10.0-20260301.n.0"
    # From stdin, with a parent and as a respin of the first.
    body = write_compose_info(tmp_path, "daily").read_text()
    second = cts_input(url, body, "import", "-", "--parent", first, "--respin-of", first,
                       "--location", "https://composes.example.com/daily/2")
    assert second.returncode == 0, second.stderr
    second_id = second.stdout.strip()
    assert second_id == "daily-10.0-20260301.n.1"

    rows = ok(url, "find", "release_short=daily").splitlines()
    assert rows[0].split() == HEADER
    assert [row.split() for row in rows[1:]] == [
        [second_id, "20260301", "nightly", "-", "-", "https://composes.example.com/daily/2"],
        [first, "20260301", "nightly", "-", "-", "-"]]

    created = ok(url, "tags", "create", "qe-passed", "--description", "QE passed",
                 "--documentation", "https://docs.example.com/qe")
    assert "Tag:" in created and "qe-passed" in created
    granted = ok(url, "tags", "grant", "qe-passed", "--user", "alice")
    assert [line.split(None, 1)[1] for line in granted.splitlines()
            if line.startswith("Taggers:")] == ["alice"]
    listed = ok(url, "tags", "list").splitlines()
    assert listed[0].split() == ["NAME", "TAGGERS", "UNTAGGERS", "DESCRIPTION"]
    assert any(line.split()[:2] == ["qe-passed", "alice"] for line in listed[1:])
    assert json.loads(ok(url, "tags", "show", "qe-passed", "--json"))["taggers"] == ["alice"]

    assert "tags: qe-passed" in ok(url, "tag", second_id, "qe-passed")
    requested = ok(url, "request", second_id, "nightly").strip()
    assert requested == f"#1 {second_id} periodic -> nightly: requested by anonymous"
    assert ok(url, "promote", "1").strip().endswith("performed by anonymous")
    promotions = ok(url, "promotions", "list").splitlines()
    assert promotions[0].split() == ["ID", "COMPOSE", "FROM", "TO", "STATE", "BY", "AT"]
    assert promotions[1].split()[:5] == ["1", second_id, "periodic", "nightly", "performed"]
    shown = ok(url, "promotions", "show", "1")
    assert "Promotion:       periodic -> nightly" in shown
    assert json.loads(ok(url, "promotions", "show", "1", "--json"))["state"] == "performed"

    human = ok(url, "show", second_id)
    assert f"Respin of: {first}" in human and "qe-passed" in human
    assert f"Parents:   {first}" in human
    assert json.loads(ok(url, "show", second_id, "--json"))["respin_of"] == first


def test_watch_starts_at_the_end_and_prints_summaries(server, tmp_path):
    url = server.base_url
    compose = ok(url, "import", str(write_compose_info(tmp_path, "watched"))).strip()
    ok(url, "tags", "create", "qa", "--description", "QA", "--documentation", "https://d")
    before = end_cursor(server)
    watch = subprocess.Popen([str(CTS), "--url", url, "watch", "--count", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # The watch starts whenever it is ready; keep changing until it has seen something.
    action = "tag"
    # Generous: on a shared PostgreSQL the feed waits for every older transaction.
    deadline = time.monotonic() + 60
    while watch.poll() is None and time.monotonic() < deadline:
        ok(url, action, compose, "qa")
        action = "untag" if action == "tag" else "tag"
        time.sleep(0.3)
    out, err = watch.communicate(timeout=10)
    assert watch.returncode == 0, err
    cursor, summary = out.strip().split("  ", 1)
    xid, row = (int(part) for part in cursor.split(":"))
    assert (xid, row) > before  # nothing from before the watch started
    assert summary in (f"Compose {compose} was tagged with qa by anonymous",
                       f"Compose {compose} was untagged with qa by anonymous"), summary

    replay = ok(url, "watch", "--from-start", "--count", "2").splitlines()
    assert replay[0].endswith(f"Compose {compose} was created by anonymous")
    raw = json.loads(ok(url, "watch", "--from-start", "--count", "1", "--json"))
    assert raw["topic"].endswith("compose-created") and raw["cursor"] == replay[0].split()[0]
    after_first = ok(url, "watch", "--after", raw["cursor"], "--count", "1").split()[0]
    assert after_first == replay[1].split()[0]


class LosingProxy:
    """Forwards TCP to the server, but for the first connection drops the answer: the
    request reaches ctsd and commits, the client only sees the connection close."""

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(self.target)
            lose = self.connections == 1
            threading.Thread(target=self._pipe, args=(client, upstream, False),
                             daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, lose),
                             daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket, lose: bool) -> None:
        try:
            while data := source.recv(65536):
                if lose:  # the answer has started: lose it and hang up on the client
                    break
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            # shutdown, not only close: it wakes the other direction's blocked recv.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def losing_proxy(server: Server) -> Iterator[LosingProxy]:
    proxy = LosingProxy(int(server.base_url.rsplit(":", 1)[1]))
    yield proxy
    proxy.close()


def test_a_lost_import_answer_is_retried_with_the_same_key(server, losing_proxy, tmp_path,
                                                           e2e_database_url):
    result = cts(f"http://127.0.0.1:{losing_proxy.port}", "import",
                 str(write_compose_info(tmp_path, "lossy")))
    assert result.returncode == 0, result.stderr
    assert "retrying with the same Idempotency-Key" in result.stderr
    assert result.stdout.strip() == ("lossy-10.0-20260301.n.0 (the answer of an earlier "
                                     "import with this key)")
    rows = query(e2e_database_url, "SELECT compose_id FROM composes")
    assert [row[0] for row in rows] == ["lossy-10.0-20260301.n.0"]  # one, not two
    assert losing_proxy.connections == 2


def test_exit_codes_name_the_kind_of_failure(server, tmp_path):
    url = server.base_url
    assert cts(url, "show", "none-1.0-20200101.0").returncode == 3
    assert cts(url, "promotions", "show", "99").returncode == 3
    for args in (["watch", "--after", "5"], ["find", "not-a-filter"], ["frobnicate"],
                 ["import", str(tmp_path / "missing.json")]):
        result = cts(url, *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
    (tmp_path / "bad.json").write_text("{not json")
    assert cts(url, "import", str(tmp_path / "bad.json")).returncode == 2
    (tmp_path / "odd.json").write_text(json.dumps({"payload": {}}))
    result = cts(url, "import", str(tmp_path / "odd.json"))
    assert result.returncode == 1 and "400" in result.stderr  # the service refuses it
    assert ok(url, "--version").strip().startswith("cts ")


def test_a_closed_pipe_and_ctrl_c_end_quietly(server, tmp_path):
    url = server.base_url
    ok(url, "import", str(write_compose_info(tmp_path, "piped")))
    reader, writer = os.pipe()
    os.close(reader)  # `| head -1` that has already gone: every write fails with EPIPE
    try:
        for args in (["find"], ["show", "piped-10.0-20260301.n.0"], ["watch", "--from-start",
                                                                     "--count", "1"]):
            result = subprocess.run([str(CTS), "--url", url, *args], stdout=writer,
                                    stderr=subprocess.PIPE, text=True, timeout=60,
                                    check=False)
            assert (result.returncode, result.stderr) == (0, ""), args
    finally:
        os.close(writer)

    watch = subprocess.Popen([str(CTS), "--url", url, "watch"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    watch.send_signal(signal.SIGINT)
    _, err = watch.communicate(timeout=20)
    assert watch.returncode == 130 and "Traceback" not in err, err


def run_in_terminal(args: list[str], columns: int, env: dict[str, str]) -> str:
    """Output of `cts args` on a pseudo-terminal `columns` wide."""
    import fcntl  # noqa: PLC0415
    import pty  # noqa: PLC0415
    import struct  # noqa: PLC0415
    import termios  # noqa: PLC0415

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    process = subprocess.Popen([str(CTS), *args], stdin=follower, stdout=follower,
                               stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the terminal's other side has closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert process.wait(30) == 0, process.stderr.read() if process.stderr else ""
    return b"".join(chunks).decode().replace("\r\n", "\n")


def test_tables_fit_the_terminal_and_stay_whole_in_pipes(server, tmp_path):
    url = server.base_url
    location = "https://composes.example.com/" + "very-long-path/" * 8
    ok(url, "import", str(write_compose_info(tmp_path, "wide")), "--location", location)
    env = {key: value for key, value in os.environ.items()
           if key not in ("COLUMNS", "LINES", "NO_COLOR")}
    env["CTS_URL"] = url

    on_terminal = run_in_terminal(["find"], 80, env)
    lines = on_terminal.splitlines()
    assert lines[0].startswith("\x1b[1mID") and lines[0].endswith("\x1b[0m")  # bold header
    assert all(len(line.replace("\x1b[1m", "").replace("\x1b[0m", "")) <= 80
               for line in lines)
    assert lines[1].endswith("…") and location not in on_terminal

    plain = run_in_terminal(["find"], 80, {**env, "NO_COLOR": "1"})
    assert "\x1b[" not in plain and plain.splitlines()[0].split() == HEADER

    piped = ok(url, "find")
    assert "\x1b[" not in piped and location in piped and "…" not in piped
