"""rpmvercmp against orderings rpm itself documents and its test suite checks."""

from __future__ import annotations

import pytest

from handlers.evr import compare_evr, format_evr, rpmvercmp

# (a, b, expected): pairs whose order rpm defines.
CASES = [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0), ("2.0", "2.0.1", -1), ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p1", 0), ("5.5p1", "5.5p2", -1), ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1), ("xyz10", "xyz10.1", -1), ("xyz.4", "8", -1),
    ("1.05", "1.5", 0), ("1.0010", "1.9", 1), ("2.50", "2.5", 1),
    ("fc4", "fc.4", 0), ("FC5", "fc4", -1), ("2a", "2.0", -1), ("1.0", "1.fc4", 1),
    ("3.0.0_fc", "3.0.0.fc", 0), ("1++", "1_", 0), ("+", "_", 0),
    ("1.0~rc1", "1.0", -1), ("1.0~rc1", "1.0~rc2", -1), ("1.0~rc1~git", "1.0~rc1", -1),
    ("1.0^", "1.0", 1), ("1.0^git1", "1.0", 1), ("1.0^git1", "1.01", -1),
    ("1.0^20160101", "1.0.1", -1), ("1.0~rc1^git1", "1.0~rc1", 1), ("1.0^git1~pre", "1.0^git1", -1),
    ("2.40", "2.40", 0), ("7.fc42", "10.fc42", -1), ("1.el9_4", "1.el9", 1),
]


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
def test_rpmvercmp(a, b, expected):
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


def test_epoch_wins_over_version():
    assert compare_evr((1, "1.0", "1"), (0, "9.9", "9")) == 1
    assert compare_evr((0, "2.40", "7.fc42"), (0, "2.40", "10.fc42")) == -1
    assert compare_evr((0, "2.40", "7"), (0, "2.40", "7")) == 0


def test_format_evr_hides_zero_epoch():
    assert format_evr(0, "2.40", "7.fc42") == "2.40-7.fc42"
    assert format_evr(2, "1.0", "3") == "2:1.0-3"
