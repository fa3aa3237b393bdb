"""Parsing a submitted ComposeInfo, naming the compose, and the columns we store."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from ctsd.db.tables import composes
from handlers.composeinfo import (
    likely_stream_and_respin,
    parse_compose_info,
    version_sort_key,
)
from handlers.errors import InvalidInput
from tests.conftest import compose_info


def layered(info: dict[str, Any], short: str = "base", version: str = "8") -> dict[str, Any]:
    info["payload"]["release"]["is_layered"] = True
    info["payload"]["base_product"] = {"name": "Base", "short": short, "version": version,
                                       "type": "ga"}
    return info


def named(info: dict[str, Any], respin: int = 0) -> str:
    return parse_compose_info(info).with_respin(respin).info.compose.id


# --- compose IDs (productmd's create_compose_id) --------------------------------------


@pytest.mark.parametrize(("info", "respin", "expected"), [
    (compose_info(), 0, "test-1.0-20200526.0"),
    (compose_info(type_="nightly"), 3, "test-1.0-20200526.n.3"),
    (compose_info(type_="test"), 0, "test-1.0-20200526.t.0"),
    (compose_info(type_="ci"), 12, "test-1.0-20200526.ci.12"),
    (compose_info(short="Fedora-Cloud", version="Rawhide", date="20261124"), 1,
     "Fedora-Cloud-Rawhide-20261124.1"),
    (layered(compose_info()), 0, "test-1.0-base-8-20200526.0"),
    (layered(compose_info(type_="nightly"), "RHEL", "9.4"), 2,
     "test-1.0-RHEL-9.4-20200526.n.2"),
])
def test_compose_id_follows_productmd(info, respin, expected):
    assert named(info, respin) == expected


def test_stream_is_release_short_version_and_date_only():
    stream = parse_compose_info(compose_info()).stream
    assert parse_compose_info(compose_info(type_="nightly", respin=4)).stream == stream
    assert parse_compose_info(layered(compose_info())).stream == stream
    for other in (compose_info(short="other"), compose_info(version="1.1"),
                  compose_info(date="20200527")):
        assert parse_compose_info(other).stream != stream


def test_answer_keeps_is_layered_false_and_the_allocated_respin():
    out = parse_compose_info(compose_info(respin=0)).with_respin(7).to_json()
    assert out["header"] == {"type": "productmd.composeinfo", "version": "1.2"}
    assert out["payload"]["release"]["is_layered"] is False
    assert out["payload"]["compose"] == {"id": "test-1.0-20200526.7", "type": "production",
                                         "date": "20200526", "respin": 7}


def test_columns_of_a_layered_final_compose():
    info = layered(compose_info(label="RC-1.0", final=True, version="8.10"))
    columns = parse_compose_info(info).with_respin(2).columns()
    assert columns == {
        "compose_id": "test-8.10-base-8-20200526.2", "date": "20200526", "respin": 2,
        "type": "production", "label": "RC-1.0", "final": True,
        "release_name": "Test", "release_short": "test", "release_version": "8.10",
        "release_version_key": "000000000008.000000000010", "release_is_layered": True,
        "release_type": "ga", "release_internal": False,
        "base_product_name": "Base", "base_product_short": "base",
        "base_product_version": "8", "base_product_type": "ga",
    }


def test_columns_and_the_import_arguments_fill_every_required_compose_column():
    filled = set(parse_compose_info(compose_info()).columns()) | {
        "builder", "compose_url", "respin_of_pk", "compose_info", "created_at"}
    assert filled <= set(composes.c.keys())
    required = {c.name for c in composes.c
                if not c.nullable and not c.primary_key and c.default is None}
    assert required <= filled


# --- rejections -----------------------------------------------------------------------


def _set(path: str, value: Any) -> dict[str, Any]:
    info = compose_info()
    *parents, last = path.split(".")
    node = info
    for key in parents:
        node = node[key]
    node[last] = value
    return info


def _drop(path: str) -> dict[str, Any]:
    info = compose_info()
    *parents, last = path.split(".")
    node = info
    for key in parents:
        node = node[key]
    del node[last]
    return info


@pytest.mark.parametrize(("raw", "named_problem"), [
    pytest.param(_set("payload.compose.type", "weekly"), "weekly", id="bad-type"),
    pytest.param(_set("payload.compose.date", "2020-05-26"), "date", id="date-with-dashes"),
    pytest.param(_set("payload.compose.date", "2020526"), "date", id="date-7-digits"),
    pytest.param(_set("payload.compose.label", "Beta-1"), "Beta-1", id="label-Beta-1"),
    pytest.param(_drop("payload.variants"), "variants", id="no-variants"),
    pytest.param(_drop("payload.release"), "release", id="no-release"),
    pytest.param(_drop("payload.compose.date"), "date", id="no-date"),
    pytest.param(_set("payload.release.short", "te/st"), "release.short", id="short-slash"),
    pytest.param(_set("payload.release.short", "../etc"), "release.short", id="short-dotdot"),
    pytest.param(_set("payload.release.version", "1/0"), "version", id="version-slash"),
    pytest.param(_set("payload.release.type", "bogus"), "type", id="bad-release-type"),
    pytest.param(_set("payload.compose.respin", -1), "respin", id="negative-respin"),
    pytest.param(_set("payload.compose.respin", "1"), "respin", id="string-respin"),
    pytest.param(_set("payload.compose.respin", True), "respin", id="boolean-respin"),
    pytest.param(_set("header.type", "productmd.images"), "productmd.images",
                 id="other-metadata-type"),
    pytest.param(layered(compose_info(), short="ba/se"), "base_product.short",
                 id="base-short-slash"),
    pytest.param(_set("payload.release.is_layered", True), "base_product",
                 id="layered-without-base"),
    pytest.param(_set("payload.release.short", "a" * 101), "release_short",
                 id="short-too-long"),
    pytest.param(_set("payload.release.name", "N" * 256), "release_name", id="name-too-long"),
    pytest.param(["not", "an", "object"], "compose_info", id="not-an-object"),
])
def test_rejections_are_invalid_input_naming_the_problem(raw, named_problem):
    with pytest.raises(InvalidInput) as refused:
        parse_compose_info(raw)
    assert named_problem in refused.value.message
    assert refused.value.status == 400


def test_an_impossible_calendar_date_is_refused():
    with pytest.raises(InvalidInput, match="date"):
        parse_compose_info(_set("payload.compose.date", "20201345"))


ARABIC_INDIC_DATE = "\u0662\u0660\u0663\u0660\u0660\u0661\u0660\u0661"  # productmd's \d takes it


@pytest.mark.parametrize("date", ["20240229", "20230229", "20201345", "00000101",
                                  "20300230", "20300101\n", ARABIC_INDIC_DATE])
def test_dates_are_taken_or_refused_as_strptime_took_them(date):
    try:
        datetime.strptime(date, "%Y%m%d")
    except ValueError:
        with pytest.raises(InvalidInput, match=r"compose\.date"):
            parse_compose_info(_set("payload.compose.date", date))
    else:
        assert parse_compose_info(_set("payload.compose.date", date)).info.compose.date == date


# --- the guess made before parsing (an import's allocation on arrival) -----------------


@pytest.mark.parametrize("info", [
    compose_info(), compose_info(type_="nightly", respin=3),
    compose_info(short="Fedora-Cloud", version="Rawhide", date="20261124", respin=1),
    layered(compose_info(), "RHEL", "9.4"), compose_info(label="Beta-1.0", final=True),
    compose_info(version="8.10", respin=999_999),
])
def test_the_guess_is_what_the_parse_says(info):
    parsed = parse_compose_info(info)
    assert likely_stream_and_respin(info) == (parsed.stream, parsed.info.compose.respin)


@pytest.mark.parametrize("raw", [
    _drop("payload.release"), _drop("payload.compose.date"), _drop("payload.compose.respin"),
    _set("payload.release.short", "te/st"), _set("payload.release.version", 10),
    _set("payload.compose.respin", -1), _set("payload.compose.respin", "1"),
    _set("payload.compose.respin", True), ["not", "an", "object"], None,
])
def test_the_guess_refuses_what_its_shape_shows_wrong(raw):
    assert likely_stream_and_respin(raw) is None


# --- version ordering -----------------------------------------------------------------


def test_version_sort_key_orders_numerically():
    versions = ["10.0", "8.10", "8.9", "8", "8.9.1", "9"]
    assert sorted(versions, key=version_sort_key) == ["8", "8.9", "8.9.1", "8.10", "9", "10.0"]


def test_version_sort_key_keeps_non_numeric_parts():
    assert version_sort_key("Rawhide") == "Rawhide"
    assert version_sort_key("8.10-beta") == "000000000008.000000000010-beta"
    assert version_sort_key("8.9") < version_sort_key("8.10") < version_sort_key("10.0")
