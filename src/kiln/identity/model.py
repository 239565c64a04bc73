"""The shapes identity works with: a caller (Principal), roles and grant levels, and the
catalog that holds the records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from kiln.catalog.db import Catalog
    from kiln.runtime import Runtime

Role = Literal["view", "edit", "admin"]
Level = Literal["read", "edit", "manage"]
SubjectKind = Literal["user", "group"]

ROLES: tuple[Role, ...] = ("view", "edit", "admin")
LEVELS: tuple[Level, ...] = ("read", "edit", "manage")
# A grant level stands for the role it allows on its one object.
LEVEL_ROLE: dict[str, Role] = {"read": "view", "edit": "edit", "manage": "admin"}
OBJECT_KINDS = ("volume", "pipeline", "model", "bucket")
# Grants on registry buckets are not in a namespace: buckets are the server's, like users.
REGISTRY_NS = "*"


def rank(role: str | None) -> int:
    """view < edit < admin; no role is 0."""
    return ROLES.index(role) + 1 if role in ROLES else 0


@dataclass(frozen=True)
class Principal:
    """Who is calling. `via` says how they proved it: a personal or service token, a dashboard
    session, the server's shared admin token, a trusted proxy's header, or nothing at all on
    a server without --auth (`local`, who may do everything, as before)."""

    name: str
    user_id: int | None = None
    kind: str = "person"  # person, service
    is_admin: bool = False
    groups: tuple[int, ...] = ()
    read_only: bool = False
    via: str = "token"  # token, session, admin-token, proxy, local
    token_id: int | None = None
    group_names: tuple[str, ...] = field(default=(), compare=False)


LOCAL = Principal("local", is_admin=True, via="local")


def identity_catalog(rt: Runtime | None = None) -> Catalog:
    """The catalog that holds users, namespaces and tokens: the default namespace's."""
    from kiln.home import DEFAULT_NAMESPACE
    from kiln.runtime import Runtime

    rt = rt or Runtime.open()
    if rt.home.namespace == DEFAULT_NAMESPACE:
        return rt.catalog
    return Runtime.open(rt.home.for_namespace(DEFAULT_NAMESPACE)).catalog
