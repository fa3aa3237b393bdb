"""Pure parts of the `cts` CLI: Server-Sent Events parsing, filter words, options."""

from __future__ import annotations

import importlib.util

import pytest

from ctsd.cts_cli.client import CtsClient, CtsError
from ctsd.cts_cli.main import build_parser
from ctsd.cts_cli.queries import filter_params
from ctsd.cts_cli.watch import Event, parse_sse


def test_sse_frames_become_events_and_comments_and_hints_are_skipped():
    lines = ["retry: 3000", "", ": keep-alive", "",
             "id: 5:17", "event: cts.compose-tagged", 'data: {"tag": "qa"}', "",
             "id: 5:18", "event: cts.compose-created", 'data: {"a":', "data: 1}", ""]
    assert list(parse_sse(lines)) == [
        Event("5:17", "cts.compose-tagged", {"tag": "qa"}),
        Event("5:18", "cts.compose-created", {"a": 1}),
    ]


def test_an_unfinished_frame_is_not_an_event():
    assert list(parse_sse(["id: 1", "event: x", 'data: {"a": 1}'])) == []


def test_filter_words_become_query_parameters():
    args = build_parser().parse_args(
        ["find", "release_short=RHEL", "label=", "type=nightly", "--tag", "qa",
         "--without-tag", "bad", "--not-removed"])
    assert filter_params(args) == [("release_short", "RHEL"), ("label", ""),
                                   ("type", "nightly"), ("tag", "qa"), ("tag", "-bad"),
                                   ("removed", "false")]
    for word in ("RHEL", "=x"):
        args = build_parser().parse_args(["latest", word])
        with pytest.raises(CtsError, match="FIELD=VALUE"):
            filter_params(args)


def test_global_options_and_every_query_command_parse():
    args = build_parser().parse_args(["--url", "http://cts:1", "--token", "t", "lineage", "X"])
    assert (args.url, args.token, args.kerberos, args.compose_id) == ("http://cts:1", "t",
                                                                       False, "X")
    for argv in (["show", "X", "--changes"], ["tag", "X", "qa", "--user-data", "u"],
                 ["untag", "X", "qa"], ["neighbours", "X", "tag=qa"],
                 ["watch", "--poll", "--count", "2"], ["find", "--order-by=-date"]):
        assert callable(build_parser().parse_args(argv).func), argv


def test_a_token_is_sent_as_a_bearer_header():
    client = CtsClient("http://cts.example.com/", token="abc")
    assert client.session.headers["Authorization"] == "Bearer abc"
    assert client.url("/api/1/about/") == "http://cts.example.com/api/1/about/"
    assert client.url("https://elsewhere/x") == "https://elsewhere/x"
    assert "Authorization" not in CtsClient("http://cts").session.headers


def test_kerberos_needs_the_optional_extra():
    if importlib.util.find_spec("requests_gssapi") is None:
        with pytest.raises(CtsError, match="requests-gssapi"):
            CtsClient("http://cts", kerberos=True)
    else:
        assert CtsClient("http://cts", kerberos=True).session.auth is not None
