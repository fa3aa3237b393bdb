"""The contents filters of the compose list compile once and are reused: SQLAlchemy
caches a statement only when every element in it has a cache key, and the contains
filter's `ARRAY(SELECT ...)` once had none (every request compiled the whole query)."""

from __future__ import annotations

import pytest
from multidict import MultiDict
from sqlalchemy import select

from ctsd.db.contents_filters import composes_containing, contents_conditions
from ctsd.db.contents_tables import rpms
from ctsd.db.tables import composes


def cache_key(query: MultiDict[str]):
    key = select(composes.c.pk).where(*contents_conditions(query, "postgresql"))
    return key._generate_cache_key()


@pytest.mark.parametrize("name", ["rpm_nvr", "rpm_nevra", "rpm_name", "srpm_nvr"])
def test_contains_filters_share_one_cached_statement_with_their_values_bound(name):
    values = {"rpm_nvr": ("glibc-2.40-7.fc42", "bash-5.2-1.fc42"),
              "rpm_nevra": ("glibc-0:2.40-7.fc42.x86_64", "bash-0:5.2-1.fc42.noarch"),
              "rpm_name": ("glibc", "bash"),
              "srpm_nvr": ("glibc-2.40-7.fc42", "bash-5.2-1.fc42")}[name]
    first, second = (cache_key(MultiDict({name: value})) for value in values)
    assert first is not None and second is not None
    assert first.key == second.key
    assert [p.value for p in first.bindparams] != [p.value for p in second.bindparams]
    assert "glibc" in [p.value for p in first.bindparams]


def test_package_history_conditions_are_cacheable():
    condition = composes_containing([rpms.c.name == "glibc", rpms.c.epoch == 0],
                                    "postgresql")
    assert select(composes.c.pk).where(condition)._generate_cache_key() is not None
