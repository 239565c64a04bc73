"""Grants on single objects (a volume, a pipeline, a model, a registry bucket): read, edit or
manage for a user or group, so one thing can be shared beyond its namespace without opening
the namespace."""

from __future__ import annotations

from typing import Any

from kiln.catalog.db import Catalog, now
from kiln.errors import NotFoundError, UserError
from kiln.home import check_namespace
from kiln.identity.accounts import subject_id
from kiln.identity.model import LEVEL_ROLE, LEVELS, OBJECT_KINDS, REGISTRY_NS, Principal, rank


def check_object(kind: str, name: str) -> None:
    if kind not in OBJECT_KINDS:
        raise UserError(f"'{kind}' is not a kind of object that can be shared", where="kind",
                        hint=", ".join(OBJECT_KINDS))
    if not name or len(name) > 200 or "/" in name.strip("/") and kind != "bucket":
        raise UserError(f"'{name}' is not a {kind} name", where="name")


def grant(cat: Catalog, namespace: str, kind: str, name: str, subject_kind: str,
          subject: str, level: str, *, by: str) -> dict[str, Any]:
    """`namespace`: the object's; registry buckets, which are the server's, use "*"."""
    if kind == "bucket":  # OWNER/NAME, checked by the registry that shares it
        namespace = REGISTRY_NS
    else:
        check_namespace(namespace)
    check_object(kind, name)
    if level not in LEVELS:
        raise UserError(f"'{level}' is not a grant level", where="level",
                        hint="read, edit or manage")
    with cat.sql(write=True) as q:
        sid = subject_id(q, subject_kind, subject)
        key = {"n": namespace, "k": kind, "o": name, "sk": subject_kind, "s": sid}
        q.all("DELETE FROM grants WHERE namespace = :n AND object_kind = :k AND"
              " object_name = :o AND subject_kind = :sk AND subject_id = :s", key)
        q.all("INSERT INTO grants (namespace, object_kind, object_name, subject_kind,"
              " subject_id, level, created_by, created_at)"
              " VALUES (:n, :k, :o, :sk, :s, :level, :by, :ts)",
              {**key, "level": level, "by": by, "ts": now()})
    return {"namespace": namespace, "kind": kind, "name": name,
            "subject_kind": subject_kind, "subject": subject, "level": level}


def revoke(cat: Catalog, namespace: str, kind: str, name: str, subject_kind: str,
           subject: str) -> None:
    check_object(kind, name)
    if kind == "bucket":
        namespace = REGISTRY_NS
    with cat.sql(write=True) as q:
        sid = subject_id(q, subject_kind, subject)
        if not q.rowcount("DELETE FROM grants WHERE namespace = :n AND object_kind = :k AND"
                          " object_name = :o AND subject_kind = :sk AND subject_id = :s",
                          {"n": namespace, "k": kind, "o": name, "sk": subject_kind,
                           "s": sid}):
            raise NotFoundError(f"{subject_kind} '{subject}' has no grant on {kind} '{name}'",
                                where="subject")


def list_grants(cat: Catalog, namespace: str | None = None, *,
                who: Principal | None = None) -> list[dict[str, Any]]:
    """A namespace's grants, or (with `who`) the ones given to a caller anywhere."""
    sql = ("SELECT g.namespace, g.object_kind, g.object_name, g.subject_kind,"
           " COALESCE(u.name, gr.name), g.level, g.created_by FROM grants g"
           " LEFT JOIN users u ON g.subject_kind = 'user' AND u.id = g.subject_id"
           " LEFT JOIN groups gr ON g.subject_kind = 'group' AND gr.id = g.subject_id")
    params: dict[str, Any] = {}
    if who is not None:
        sql += (" WHERE ((g.subject_kind = 'user' AND g.subject_id = :u) OR"
                " (g.subject_kind = 'group' AND g.subject_id IN :g))")
        params = {"u": who.user_id or -1, "g": list(who.groups)}
    else:
        sql += " WHERE g.namespace = :n"
        params = {"n": namespace}
    with cat.sql() as q:
        rows = q.all(sql + " ORDER BY g.namespace, g.object_kind, g.object_name", params)
    return [{"namespace": r[0], "kind": r[1], "name": r[2], "subject_kind": r[3],
             "subject": r[4], "level": r[5], "granted_by": r[6]} for r in rows]


def role_on(cat: Catalog, who: Principal, namespace: str, kind: str, name: str) -> str | None:
    """The role a caller's grants give them on one object (read → view, edit → edit,
    manage → admin), or None."""
    if who.user_id is None:
        return None
    with cat.sql() as q:
        rows = q.all("SELECT level FROM grants WHERE namespace = :n AND object_kind = :k AND"
                     " object_name = :o AND ((subject_kind = 'user' AND subject_id = :u) OR"
                     " (subject_kind = 'group' AND subject_id IN :g))",
                     {"n": namespace, "k": kind, "o": name, "u": who.user_id,
                      "g": list(who.groups)})
    found = [LEVEL_ROLE[r[0]] for r in rows]
    return max(found, key=rank, default=None)
