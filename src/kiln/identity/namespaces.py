"""Namespaces as Kubeflow profiles: an owner, and role bindings (admin, edit, view) for users
and groups — the profile's contributors. A namespace always keeps at least one admin."""

from __future__ import annotations

from typing import Any

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import Statements
from kiln.errors import ConflictError, NotFoundError, UserError
from kiln.home import check_namespace
from kiln.identity.accounts import subject_id, user_id
from kiln.identity.model import ROLES, Principal, rank


def create(cat: Catalog, name: str, owner: str) -> dict[str, Any]:
    """A namespace record owned by `owner`, who becomes its admin. Its folder (or schema)
    comes with the first thing written in it, as before."""
    check_namespace(name)
    with cat.sql(write=True) as q:
        uid = user_id(q, owner)
        if q.scalar("SELECT 1 FROM namespaces WHERE name = :n", {"n": name}) is not None:
            raise ConflictError(f"namespace '{name}' already has an owner", where="name",
                                hint="add contributors to it (`kiln namespace bind`)")
        q.all("INSERT INTO namespaces (name, owner_id, created_at) VALUES (:n, :o, :ts)",
              {"n": name, "o": uid, "ts": now()})
        q.all("INSERT INTO role_bindings (namespace, subject_kind, subject_id, role)"
              " VALUES (:n, 'user', :o, 'admin')", {"n": name, "o": uid})
    return describe(cat, name)


def _check_exists(q: Statements, name: str) -> None:
    if q.scalar("SELECT 1 FROM namespaces WHERE name = :n", {"n": name}) is None:
        raise NotFoundError(f"namespace '{name}' has no owner or contributors yet",
                            where="namespace", hint="a server admin gives it an owner with "
                            f"`kiln namespace create {name} --owner USER`")


def set_owner(cat: Catalog, name: str, owner: str) -> dict[str, Any]:
    with cat.sql(write=True) as q:
        _check_exists(q, name)
        uid = user_id(q, owner)
        q.all("UPDATE namespaces SET owner_id = :o WHERE name = :n", {"o": uid, "n": name})
        _bind(q, name, "user", uid, "admin")
    return describe(cat, name)


def bind(cat: Catalog, namespace: str, kind: str, subject: str, role: str) -> dict[str, Any]:
    """Give a user or group a role in the namespace (replacing the one it had)."""
    if role not in ROLES:
        raise UserError(f"'{role}' is not a role", where="role", hint="admin, edit or view")
    with cat.sql(write=True) as q:
        _check_exists(q, namespace)
        sid = subject_id(q, kind, subject)
        if role != "admin":
            _keep_an_admin(q, namespace, kind, sid)
        _bind(q, namespace, kind, sid, role)
    return describe(cat, namespace)


def _bind(q: Statements, namespace: str, kind: str, sid: int, role: str) -> None:
    q.all("DELETE FROM role_bindings WHERE namespace = :n AND subject_kind = :k"
          " AND subject_id = :s", {"n": namespace, "k": kind, "s": sid})
    q.all("INSERT INTO role_bindings (namespace, subject_kind, subject_id, role)"
          " VALUES (:n, :k, :s, :r)", {"n": namespace, "k": kind, "s": sid, "r": role})


def unbind(cat: Catalog, namespace: str, kind: str, subject: str) -> dict[str, Any]:
    with cat.sql(write=True) as q:
        _check_exists(q, namespace)
        sid = subject_id(q, kind, subject)
        owner = q.scalar("SELECT owner_id FROM namespaces WHERE name = :n", {"n": namespace})
        if kind == "user" and owner == sid:
            raise ConflictError(f"'{subject}' owns namespace '{namespace}'", where="subject",
                                hint="give it another owner first (`kiln namespace owner`)")
        _keep_an_admin(q, namespace, kind, sid)
        if not q.rowcount("DELETE FROM role_bindings WHERE namespace = :n AND subject_kind = :k"
                          " AND subject_id = :s", {"n": namespace, "k": kind, "s": sid}):
            raise NotFoundError(f"{kind} '{subject}' has no role in namespace '{namespace}'",
                                where="subject")
    return describe(cat, namespace)


def _keep_an_admin(q: Statements, namespace: str, kind: str, sid: int) -> None:
    admins = q.all("SELECT subject_kind, subject_id FROM role_bindings WHERE namespace = :n"
                   " AND role = 'admin'", {"n": namespace})
    if [tuple(a) for a in admins] == [(kind, sid)]:
        raise ConflictError(f"this is the last admin of namespace '{namespace}'",
                            where="subject", hint="make someone else its admin first")


def describe(cat: Catalog, name: str) -> dict[str, Any]:
    """The namespace's owner and contributors, as the dashboard's members page shows them."""
    with cat.sql() as q:
        _check_exists(q, name)
        owner = q.scalar("SELECT u.name FROM namespaces n JOIN users u ON u.id = n.owner_id"
                         " WHERE n.name = :n", {"n": name})
        members = [{"kind": "user", "name": n, "role": r} for n, r in q.all(
            "SELECT u.name, b.role FROM role_bindings b JOIN users u ON u.id = b.subject_id"
            " WHERE b.namespace = :n AND b.subject_kind = 'user' ORDER BY u.name", {"n": name})]
        members += [{"kind": "group", "name": n, "role": r} for n, r in q.all(
            "SELECT g.name, b.role FROM role_bindings b JOIN groups g ON g.id = b.subject_id"
            " WHERE b.namespace = :n AND b.subject_kind = 'group' ORDER BY g.name",
            {"n": name})]
    return {"name": name, "owner": owner, "members": members}


def list_all(cat: Catalog) -> list[dict[str, Any]]:
    with cat.sql() as q:
        names = [r[0] for r in q.all("SELECT name FROM namespaces ORDER BY name")]
    return [describe(cat, n) for n in names]


def roles(cat: Catalog, who: Principal) -> dict[str, str]:
    """{namespace: the caller's highest role there}, through their own and their groups'
    bindings."""
    if who.user_id is None:
        return {}
    with cat.sql() as q:
        rows = q.all("SELECT namespace, role FROM role_bindings WHERE"
                     " (subject_kind = 'user' AND subject_id = :u) OR"
                     " (subject_kind = 'group' AND subject_id IN :g)",
                     {"u": who.user_id, "g": list(who.groups)})
    best: dict[str, str] = {}
    for ns, role in rows:
        if rank(role) > rank(best.get(ns)):
            best[ns] = role
    return best


def role_in(cat: Catalog, who: Principal, namespace: str) -> str | None:
    if who.user_id is None:
        return None
    with cat.sql() as q:
        rows = q.all("SELECT role FROM role_bindings WHERE namespace = :n AND"
                     " ((subject_kind = 'user' AND subject_id = :u) OR"
                     " (subject_kind = 'group' AND subject_id IN :g))",
                     {"n": namespace, "u": who.user_id, "g": list(who.groups)})
    return max((r[0] for r in rows), key=rank, default=None)
