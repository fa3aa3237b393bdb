"""Bus message → command mapping (ctsd/consumer/inputs.py), on the real fixtures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import DBAPIError, OperationalError

from ctsd.consumer.deliveries import is_outage
from ctsd.consumer.inputs import (
    InputTopics,
    Refused,
    compose_location,
    decode_body,
    intent_for,
    translate_path,
)
from handlers.commands import (
    DecidePromotion,
    MarkRemoved,
    RecordBuildStatus,
    RequestPromotion,
    SetComposeUrl,
    TagCompose,
)
from handlers.contents_commands import FetchComposeContents

FIXTURES = Path(__file__).parent.parent / "fixtures"
TOPICS = InputTopics(
    request_prefix="cts.",
    pungi=frozenset({"pungi.compose.status.change",
                     "org.fedoraproject.prod.pungi.compose.status.change"}),
    odcs=frozenset({"odcs.compose.state-changed",
                    "org.fedoraproject.prod.odcs.compose.state-changed"}),
    pungi_user="pungi", odcs_user="odcs",
    translate_paths=(("/mnt/redhat", "http://download.lab.bos.redhat.com"),),
)


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def intent_of(name: str, user_id: str | None = None) -> Any:
    message = fixture(name)
    return intent_for(TOPICS, message["topic"], message["body"], user_id)


def test_pungi_path_location_translates_to_the_compose_top_directory():
    intent = intent_of("pungi_status_finished_umb.json")
    # The same link fedmsg_meta_umb derives for this message.
    assert intent.command == RecordBuildStatus(
        "OracleJava-7.4-RHEL-7-20170602.n.0", "FINISHED",
        "http://download.lab.bos.redhat.com/nightly/OracleJava-7.4-RHEL-7-20170602.n.0")
    assert (intent.actor.username, intent.actor.backend) == ("pungi", "amqp")


def test_pungi_url_location_loses_only_the_compose_suffix():
    intent = intent_of("pungi_status_finished_incomplete_fedora.json")
    assert intent.command.location == (
        "http://kojipkgs.fedoraproject.org/compose/rawhide/Fedora-Rawhide-20170206.n.0")
    assert intent.command.status == "FINISHED_INCOMPLETE"


def test_odcs_done_sets_the_url_and_removed_marks_removed():
    done = intent_of("odcs_state_changed_done_fedora.json")
    assert done.command == SetComposeUrl("Fedora-ELN-20230619.1",
                                         "https://odcs.fedoraproject.org/composes/odcs-28282")
    assert done.actor.username == "odcs"
    removed = intent_of("odcs_state_changed_removed_fedora.json")
    assert removed.command == MarkRemoved("Fedora-ELN-20230619.1", "Compose is expired.")


def test_odcs_compose_without_pungi_id_or_in_other_states_is_ignored():
    assert intent_of("odcs_state_changed_done_no_pungi_id_umb.json") is None
    message = fixture("odcs_state_changed_done_fedora.json")
    message["body"]["compose"]["state_name"] = "generating"
    assert intent_for(TOPICS, message["topic"], message["body"], None) is None


def test_request_acts_as_the_broker_verified_sender():
    intent = intent_for(TOPICS, "cts.request.tag", {"compose_id": "c", "tag": "nightly"},
                        "alice")
    assert intent.command == TagCompose("c", "nightly", None)
    assert (intent.actor.username, intent.actor.backend) == ("alice", "amqp")


def test_promotion_requests_climb_the_configured_ladder():
    topics = InputTopics("cts.", frozenset(), frozenset(), "pungi", "odcs",
                         ladder=("ci", "gated", "shipped"))
    request = intent_for(topics, "cts.request.promotion",
                         {"compose_id": "c", "to": "gated", "reason": "CI green"}, "alice")
    assert request.command == RequestPromotion("c", "gated", "CI green", None,
                                               ("ci", "gated", "shipped"))
    decision = intent_for(topics, "cts.request.promotion_decision",
                          {"promotion_id": 7, "decision": "reject", "reason": "flaky"}, "bob")
    assert decision.command == DecidePromotion(7, "reject", "flaky", ("ci", "gated", "shipped"))
    assert decision.actor.username == "bob"


def test_a_contents_fetch_request_asks_for_the_fetch_job():
    intent = intent_for(TOPICS, "cts.request.fetch_contents",
                        {"compose_id": "c", "compose_url": "https://x/c"}, "pungi")
    assert intent.command == FetchComposeContents("c", "https://x/c")
    assert intent_for(TOPICS, "cts.request.fetch_contents", {"compose_id": "c"},
                      "pungi").command == FetchComposeContents("c", None)


def test_request_without_user_id_is_refused_before_anything_else():
    with pytest.raises(Refused) as refused:
        intent_for(TOPICS, "cts.request.tag", {"bogus": 1}, None)
    assert (refused.value.status, refused.value.reason) == (401, "no authenticated sender")


@pytest.mark.parametrize(("topic", "body"), [
    ("cts.request.tag", {"compose_id": "c"}),
    ("cts.request.tag", {"compose_id": "c", "tag": "t", "extra": 1}),
    ("cts.request.set_url", {"compose_id": "c", "compose_url": 5}),
    ("cts.request.promotion", {"compose_id": "c"}),
    ("cts.request.promotion_decision", {"promotion_id": 1, "decision": "approve"}),
    ("cts.request.promotion_decision", {"promotion_id": "1", "decision": "perform"}),
    # The files themselves are not accepted on the bus, only where to fetch them.
    ("cts.request.fetch_contents", {"compose_id": "c", "rpms": {"header": {}}}),
    ("cts.request.fetch_contents", {"compose_url": "https://x/c"}),
    ("pungi.compose.status.change", {"status": "FINISHED"}),
    ("odcs.compose.state-changed", {"compose": {"pungi_compose_id": "x"}}),
])
def test_schema_violations_are_refused(topic, body):
    with pytest.raises(Refused) as refused:
        intent_for(TOPICS, topic, body, "alice")
    assert (refused.value.status, refused.value.reason) == (400, "schema invalid")


def test_unknown_topic_is_refused():
    with pytest.raises(Refused, match="does not handle"):
        intent_for(TOPICS, "cts.request.promote", {}, "alice")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe", b'{"a": "\\u0000"}',
                                 b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                                 b'{"a": ' + b"[" * 990 + b"]" * 990 + b"}"])
def test_undecodable_bodies_are_refused(raw):
    with pytest.raises(Refused) as refused:
        decode_body(raw)
    assert refused.value.status == 400


def test_translate_path_matches_whole_directories_only():
    pairs = (("/mnt/koji/compose/", "https://kojipkgs.example/compose/"),)
    assert translate_path("/mnt/koji/compose/f40/x", pairs) == "https://kojipkgs.example/compose/f40/x"
    assert translate_path("/mnt/koji/composefoo/x", pairs) == "/mnt/koji/composefoo/x"
    assert compose_location("/elsewhere/X/compose", pairs) == "/elsewhere/X"
    assert compose_location(None, pairs) is None


class _PgError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("exc", "outage"), [
    (ConnectionRefusedError("refused"), True),
    (OperationalError("SELECT 1", {}, Exception("database is locked")), True),
    (DBAPIError("SELECT 1", {}, _PgError("3D000")), True),   # no such database (yet)
    (DBAPIError("SELECT 1", {}, _PgError("57P03")), True),   # starting up
    (DBAPIError("SELECT 1", {}, _PgError("22021")), False),  # bad data: never succeeds
    (ValueError("a bug"), False),
])
def test_outages_are_told_apart_from_failures_of_the_message(exc, outage):
    assert is_outage(exc) is outage
