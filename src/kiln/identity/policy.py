"""The one decision: may this caller do what a request needs, in this namespace, on this
object? kiln.server.authz asks it for every REST request, with the need its route's rule
names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from kiln.catalog.db import Catalog
from kiln.errors import PermissionDenied
from kiln.identity.model import Principal, rank

# public: anyone, signed in or not; user: any signed-in caller; view/edit/admin: that role in
# the namespace (or a grant on the object); server-admin: a server admin only.
Need = Literal["public", "user", "view", "edit", "admin", "server-admin"]

_VERB = {"view": "see", "edit": "change", "admin": "manage"}


Object = tuple[str, str] | Callable[[], tuple[str, str] | None] | None


def decide(cat: Catalog, who: Principal, need: Need, namespace: str, *,
           obj: Object = None, changes: bool = False, obj_need: Need | None = None) -> str:
    """How the caller is allowed ('admin', 'role', 'grant', 'open'), or PermissionDenied.
    `obj`: the one object the request touches (kind, name), or a function finding it, looked
    at only when the namespace role falls short; a grant on it must give `obj_need` (default
    `need`). `changes`: the request changes something, which a read-only token may not."""
    if who.read_only and changes:
        raise PermissionDenied("this token is read-only", where="Authorization",
                               hint="use a token made without --read-only for changes")
    if need in ("public", "user"):
        return "open"
    if who.is_admin:
        return "admin"
    if need == "server-admin":
        raise PermissionDenied(f"'{who.name}' is not a server admin", where="user",
                               hint="a server admin may do this")
    from kiln.identity.namespaces import role_in

    role = role_in(cat, who, namespace)
    if rank(role) >= rank(need):
        return "role"
    target = obj() if callable(obj) else obj
    if target is not None:
        from kiln.identity.grants import role_on

        if rank(role_on(cat, who, namespace, *target)) >= rank(obj_need or need):
            return "grant"
    what = f"{target[0]} '{target[1]}'" if target else f"namespace '{namespace}'"
    has = f"your role there is {role}" if role else "you have no role there"
    raise PermissionDenied(f"'{who.name}' may not {_VERB[need]} {what} ({has})",
                           where="namespace",
                           hint=f"ask an admin of '{namespace}' for the {need} role"
                                + (" or a grant on it" if target else ""))
