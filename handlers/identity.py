"""Who is asking, and which roles the configuration gives them.

Authentication backends (HTTP, bus) produce an Actor; handlers decide with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """An authenticated caller. `backend` records how they proved who they are."""

    username: str
    groups: frozenset[str] = frozenset()
    backend: str = "noauth"
    # The noauth backend: one anonymous user with every permission (development only).
    superuser: bool = False
    # What an OIDC token was granted (scope names without their namespace); None for
    # backends that do not limit a user by scope (proxy, certificate, bus, CLI).
    scopes: frozenset[str] | None = None

    def has_scope(self, scope: str) -> bool:
        return self.scopes is None or scope in self.scopes


@dataclass(frozen=True)
class PrincipalSet:
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    def contains(self, actor: Actor) -> bool:
        return actor.username in self.users or bool(actor.groups & self.groups)


@dataclass(frozen=True)
class Roles:
    """The configured roles; per-tag taggers and untaggers live with the tags."""

    admins: PrincipalSet = field(default_factory=PrincipalSet)
    allowed_builders: PrincipalSet = field(default_factory=PrincipalSet)

    def is_admin(self, actor: Actor) -> bool:
        return actor.superuser or self.admins.contains(actor)

    def can_create_compose(self, actor: Actor) -> bool:
        return self.is_admin(actor) or self.allowed_builders.contains(actor)

    def can_set_url(self, actor: Actor) -> bool:
        return self.can_create_compose(actor)

    def can_manage_tags(self, actor: Actor) -> bool:
        return self.is_admin(actor)


ANONYMOUS = Actor(username="anonymous", backend="noauth", superuser=True)
