"""productmd validates with its validators listed once per class
(handlers.productmd_validation): the same validators, in the same order, with the same
errors as productmd's own listing."""

from __future__ import annotations

from typing import Any

import pytest
from productmd.common import MetadataBase
from productmd.composeinfo import ComposeInfo

from handlers import composeinfo  # installs it
from handlers.errors import InvalidInput
from handlers.productmd_validation import validators
from tests.conftest import compose_info


def productmd_listing(instance: Any) -> list[str]:
    """productmd 1.51's own validate(): every callable `_validate*` of dir(instance)."""
    return sorted(name for name in dir(instance)
                  if name.startswith("_validate") and callable(getattr(instance, name)))


def test_installed_when_compose_metadata_is_parsed():
    assert MetadataBase.validate.__module__ == "handlers.productmd_validation"
    assert composeinfo.parse_compose_info(compose_info()).info.compose.respin == 0


def with_variant() -> dict[str, Any]:
    raw = compose_info()
    raw["payload"]["variants"] = {"Server": {
        "id": "Server", "uid": "Server", "name": "Server", "type": "variant",
        "arches": ["x86_64"], "paths": {"os_tree": {"x86_64": "Server/x86_64/os"}}}}
    return raw


def test_every_object_of_a_compose_gets_productmds_validators_in_its_order():
    info: ComposeInfo = composeinfo.parse_compose_info(with_variant()).info
    objects = [info, info.header, info.compose, info.release, info.base_product,
               info.variants, *info.variants.variants.values()]
    assert len(objects) > 6, "the sample has variants"
    for instance in objects:
        listed = validators(type(instance))
        assert list(listed) == productmd_listing(instance), type(instance).__name__
    assert "_validate_respin" in validators(type(info.compose))


@pytest.mark.parametrize(("field", "value", "message"), [
    ("type", "nightlyish", "type"),
    ("date", "2020-05-26", "date"),
])
def test_bad_values_are_still_refused(field, value, message):
    raw = compose_info()
    raw["payload"]["compose"][field] = value
    with pytest.raises(InvalidInput, match=message):
        composeinfo.parse_compose_info(raw)
