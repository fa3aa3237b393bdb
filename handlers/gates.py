"""Chained gates: a tag may require other tags on the compose first, or exclude others.

QE teams chain their testing through tags (qa-passed only after installability-passed).
Gates are checked whenever a tag is added — by the v1 PATCH, the bus, or a promotion —
and only against the gates of the tag being added: removing a prerequisite later is not
blocked (an untagger must be able to correct a wrong result).

A refused tag answers 409 Conflict, not 400: the request is well-formed and names
existing things, it conflicts with the compose's current tags, and the same request
succeeds once the prerequisite is there.
"""

from __future__ import annotations

from typing import Any

from handlers.commands import SetTagGates
from handlers.errors import Conflict, Forbidden, InvalidInput, NotFound
from handlers.identity import Actor, Roles
from handlers.ports import TagRecord, UnitOfWork
from handlers.validation import check_user_data

MAX_GATES = 50


async def check_gates(uow: UnitOfWork, compose_pk: int, compose_id: str,
                      tag: TagRecord) -> None:
    """Conflict naming the missing prerequisites or present excluded tags, if any."""
    gates = await uow.gates.of(tag.id)
    if not gates["requires"] and not gates["excludes"]:
        return
    present = set((await uow.composes.representation(compose_pk))["tags"])
    if tag.name in present:
        return  # already tagged: a no-op success, as v1 promises
    missing = [name for name in gates["requires"] if name not in present]
    if missing:
        raise Conflict(f"Tag {tag.name} requires {', '.join(missing)} on compose "
                       f"{compose_id} first (missing: {', '.join(missing)})")
    clashing = [name for name in gates["excludes"] if name in present]
    if clashing:
        raise Conflict(f"Tag {tag.name} cannot be added to compose {compose_id} while it "
                       f"has {', '.join(clashing)} (excluded)")


async def set_tag_gates(cmd: SetTagGates, uow: UnitOfWork, actor: Actor,
                        roles: Roles) -> dict[str, list[str]]:
    """Replace a tag's gates (admins); refuses unknown tags, self-references, a tag both
    required and excluded, and chains of requirements that loop back (never satisfiable)."""
    if not roles.can_manage_tags(actor):
        raise Forbidden(f"User {actor.username} is not an admin")
    check_user_data(cmd.user_data)
    tag = await uow.tags.get(cmd.tag)
    if tag is None:
        raise NotFound(f"Tag {cmd.tag} does not exist")
    requires = await _tag_ids(uow, cmd.requires, "requires", tag)
    excludes = await _tag_ids(uow, cmd.excludes, "excludes", tag)
    both = sorted(set(requires) & set(excludes))
    if both:
        raise InvalidInput(f"Tag(s) {', '.join(both)} cannot be both required and excluded")
    edges = [(a, b) for a, b in await uow.gates.requires_edges() if a != tag.id]
    cycle = _cycle_through(tag.id, [*edges, *((tag.id, i) for i in requires.values())])
    if cycle:
        names = [await _name(uow, tag_id) for tag_id in cycle]
        raise InvalidInput(f"Requirements would loop: {' requires '.join(names)}")
    before = await uow.gates.of(tag.id)
    after = {"requires": sorted(requires), "excludes": sorted(excludes)}
    if {key: sorted(value) for key, value in before.items()} != after:
        await uow.gates.replace(tag.id, list(requires.values()), list(excludes.values()))
        summary = (f"gates: requires [{', '.join(after['requires'])}], "
                   f"excludes [{', '.join(after['excludes'])}]")
        await uow.tags.add_change(tag.id, "gates_changed", actor.username, summary,
                                  cmd.user_data)
    return await uow.gates.of(tag.id)


async def _tag_ids(uow: UnitOfWork, names: Any, field: str, tag: TagRecord) -> dict[str, int]:
    if not isinstance(names, list | tuple) or not all(isinstance(n, str) for n in names):
        raise InvalidInput(f'"{field}" must be a list of tag names')
    if len(names) > MAX_GATES:
        raise InvalidInput(f'"{field}" may name at most {MAX_GATES} tags')
    found: dict[str, int] = {}
    unknown = []
    for name in dict.fromkeys(names):
        other = await uow.tags.get(name)
        if other is None or other.name != name:
            unknown.append(name)
        elif other.id == tag.id:
            raise InvalidInput(f'Tag {tag.name} cannot gate itself ("{field}")')
        else:
            found[name] = other.id
    if unknown:
        raise InvalidInput(f'"{field}": unknown tag(s) {", ".join(unknown)}')
    return found


def _cycle_through(start: int, edges: list[tuple[int, int]]) -> list[int]:
    """A path start -> ... -> start along `edges`, or [] if none (depth-first search)."""
    following: dict[int, list[int]] = {}
    for a, b in edges:
        following.setdefault(a, []).append(b)
    stack: list[tuple[int, list[int]]] = [(start, [start])]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        for nxt in following.get(node, []):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return []


async def _name(uow: UnitOfWork, tag_id: int) -> str:
    tag = await uow.tags.get(str(tag_id))
    return tag.name if tag is not None else str(tag_id)
