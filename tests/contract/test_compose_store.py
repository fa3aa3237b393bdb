"""The compose store contract (handlers.ports.ComposeStore): representation, locking and
lookup, respin allocation, no-op changes and constraints, the same on every backend."""

from __future__ import annotations

from typing import Any

import pytest

from handlers import HANDLERS
from handlers.commands import ImportCompose
from handlers.composeinfo import parse_compose_info
from handlers.identity import Actor, Roles
from tests.conftest import compose_info
from tests.contract.conftest import Backend

ADMIN = Actor("admin", superuser=True)
FIRST = "test-1.0-20200526.0"
RESPIN = "test-1.0-20200526.1"


async def _import(backend: Backend, **fields: Any) -> dict[str, Any]:
    command = ImportCompose(compose_info(), **fields)
    return await backend.run(lambda uow: HANDLERS[ImportCompose](command, uow, ADMIN, Roles()))


async def _pk(backend: Backend, compose_id: str) -> int:
    async def pk(uow: Any) -> int:
        return (await uow.composes.pks_of([compose_id]))[compose_id]
    return await backend.run(pk)


async def _tag_id(backend: Backend, name: str) -> int:
    async def create(uow: Any) -> int:
        return int(await uow.tags.create(name, f"{name} composes", "https://example.com"))
    return await backend.run(create)


async def _representation(backend: Backend, pk: int) -> dict[str, Any]:
    async def represent(uow: Any) -> dict[str, Any]:
        return dict(await uow.composes.representation(pk))
    return await backend.run(represent)


async def test_respins_follow_one_rule(backend):
    async def allocate(uow: Any) -> list[int | None]:
        grants = [await uow.composes.allocate_respin("a", requested)
                  for requested in (0, 0, 4, 4, 1)]
        grants.append(await uow.composes.allocate_respin("b", 3))
        return [grant.respin for grant in grants]
    assert await backend.run(allocate) == [0, 1, 4, 5, 6, 3]


async def test_lookup_and_locking(backend):
    await _import(backend, compose_url="https://example.com/c/1")
    pk = await _pk(backend, FIRST)

    async def look(uow: Any) -> tuple[Any, ...]:
        ref = await uow.composes.lock(FIRST)
        return (await uow.composes.pks_of([FIRST, "nope-1-20200101.0"]),
                await uow.composes.pks_of([]),
                await uow.composes.lock("nope-1-20200101.0"),
                (ref.pk, ref.compose_id, ref.compose_url))
    assert await backend.run(look) == ({FIRST: pk}, {}, None,
                                       (pk, FIRST, "https://example.com/c/1"))


async def test_a_lock_sees_a_location_set_earlier_in_the_same_unit_of_work(backend):
    await _import(backend)

    async def move(uow: Any) -> tuple[str | None, str | None]:
        ref = await uow.composes.lock(FIRST)
        await uow.composes.set_url(ref.pk, "https://example.com/moved")
        again = await uow.composes.lock(FIRST)
        represented = await uow.composes.representation(ref.pk)
        return again.compose_url, represented["compose_url"]
    assert await backend.run(move) == ("https://example.com/moved",) * 2


async def test_representation_follows_every_change_in_and_after_the_unit_of_work(backend):
    await _import(backend)
    first = await _pk(backend, FIRST)
    await _import(backend, parent_compose_ids=(FIRST,), respin_of=FIRST)
    respin = await _pk(backend, RESPIN)
    nightly, extra = await _tag_id(backend, "nightly"), await _tag_id(backend, "extra")

    async def change(uow: Any) -> list[dict[str, Any]]:
        seen = []
        ref = await uow.composes.lock(FIRST)
        seen.append(dict(await uow.composes.representation(ref.pk)))
        for step in (uow.composes.add_tag(first, nightly), uow.composes.add_tag(first, extra),
                     uow.composes.remove_tag(first, extra),
                     uow.composes.set_build_status(first, "FINISHED"),
                     uow.composes.set_url(first, "https://example.com/c"),
                     uow.composes.mark_removed(first, "superseded")):
            await step
            seen.append(dict(await uow.composes.representation(first)))
        return seen

    seen = await backend.run(change)
    assert [(s["tags"], s["build_status"], s["compose_url"], s["removed"]) for s in seen] == [
        ([], None, None, False), (["nightly"], None, None, False),
        (["extra", "nightly"], None, None, False), (["nightly"], None, None, False),
        (["nightly"], "FINISHED", None, False),
        (["nightly"], "FINISHED", "https://example.com/c", False),
        (["nightly"], "FINISHED", "https://example.com/c", True),
    ]
    after = await _representation(backend, first)
    assert after == seen[-1] == await backend.read_representation(FIRST)
    assert (after["children"], after["respun_by"], after["removed_reason"]) == (
        [RESPIN], [RESPIN], "superseded")
    child = await _representation(backend, respin)
    assert (child["parents"], child["respin_of"], child["tags"]) == ([FIRST], FIRST, [])
    assert child["compose_info"]["payload"]["compose"]["id"] == RESPIN
    assert child == await backend.read_representation(RESPIN)


async def test_a_new_compose_is_represented_without_relations(backend):
    answer = await _import(backend, compose_url="https://example.com/c")
    pk = await _pk(backend, FIRST)
    represented = await _representation(backend, pk)
    assert represented["compose_info"] == answer
    assert {key: represented[key] for key in represented if key != "compose_info"} == {
        "builder": "admin", "tags": [], "parents": [], "children": [], "respin_of": None,
        "respun_by": [], "compose_url": "https://example.com/c", "build_status": None,
        "removed": False, "removed_reason": None}


async def test_changes_that_change_nothing_say_so(backend):
    await _import(backend)
    pk = await _pk(backend, FIRST)
    tag = await _tag_id(backend, "nightly")

    async def twice(uow: Any) -> list[bool]:
        composes = uow.composes
        return [await composes.add_tag(pk, tag), await composes.add_tag(pk, tag),
                await composes.remove_tag(pk, tag), await composes.remove_tag(pk, tag),
                await composes.set_build_status(pk, "STARTED"),
                await composes.set_build_status(pk, "STARTED"),
                await composes.mark_removed(pk, "gone"), await composes.mark_removed(pk, "again")]
    assert await backend.run(twice) == [True, False, True, False, True, False, True, False]


@pytest.mark.parametrize("violation", ["duplicate tag", "duplicate parent", "unknown tag",
                                       "duplicate compose"])
async def test_constraints_hold(backend, violation):
    await _import(backend)
    pk = await _pk(backend, FIRST)
    await _tag_id(backend, "nightly")

    async def violate(uow: Any) -> None:
        if violation == "duplicate tag":
            await uow.tags.create("nightly", "again", "https://example.com")
        elif violation == "duplicate parent":
            await uow.composes.add_parents(pk, [pk, pk])
        elif violation == "unknown tag":
            await uow.composes.add_tag(pk, 999_999)
        else:
            parsed = parse_compose_info(compose_info())
            await uow.composes.insert(parsed.columns(), parsed.to_json(), "admin", None, None)
    with pytest.raises(backend.integrity_errors):
        await backend.run(violate)


async def test_a_unit_of_work_that_fails_leaves_nothing(backend):
    await _import(backend)
    pk = await _pk(backend, FIRST)
    tag = await _tag_id(backend, "nightly")

    async def fail(uow: Any) -> None:
        await uow.composes.add_tag(pk, tag)
        await uow.composes.set_url(pk, "https://example.com/c")
        raise RuntimeError("the handler failed")
    with pytest.raises(RuntimeError):
        await backend.run(fail)
    represented = await _representation(backend, pk)
    assert (represented["tags"], represented["compose_url"]) == ([], None)


async def test_events_commit_with_the_change_or_not_at_all(backend):
    await _import(backend)
    tag = await _tag_id(backend, "nightly")
    pk = await _pk(backend, FIRST)

    async def tag_then_fail(uow: Any) -> None:
        await uow.composes.add_tag(pk, tag)
        await uow.emit("compose-tagged", {"event": "compose-tagged"}, FIRST)
        raise RuntimeError("after the event")
    with pytest.raises(RuntimeError):
        await backend.run(tag_then_fail)

    async def tag_twice(uow: Any) -> None:
        await uow.composes.add_tag(pk, tag)
        await uow.emit("compose-tagged", {"event": "compose-tagged", "n": 1}, FIRST)
        await uow.emit("compose-changed", {"event": "compose-changed", "n": 2}, None)
    await backend.run(tag_twice)
    events = await backend.committed_events()
    assert [(name, key) for name, _body, key in events] == [
        ("compose-created", FIRST), ("compose-tagged", FIRST), ("compose-changed", None)]
    assert events[0][1]["compose"]["compose_info"]["payload"]["compose"]["id"] == FIRST
    assert [body.get("n") for _name, body, _key in events[1:]] == [1, 2]


async def test_a_failed_transaction_gives_its_respins_back(backend, caplog):
    async def allocate_then_fail(uow: Any) -> None:
        # Two imports of one stream in one transaction (a batch of bus requests).
        await uow.composes.allocate_respin("stream", 0)
        await uow.composes.allocate_respin("stream", 0)
        raise RuntimeError("the import failed after allocation")
    with pytest.raises(RuntimeError):
        await backend.run(allocate_then_fail)

    async def allocate(uow: Any) -> int | None:
        return (await uow.composes.allocate_respin("stream", 0)).respin
    assert await backend.run(allocate) == 0
    assert "could not give back" not in caplog.text
