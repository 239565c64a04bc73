"""The audit log: who created, changed, deleted, shared or exported what, and who signed in
or was refused. One row per event, written after the answer is known (its status)."""

from __future__ import annotations

from typing import Any

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import timestamp


def record(cat: Catalog, *, actor: str, action: str, target: str, status: int,
           namespace: str | None = None, address: str = "") -> None:
    with cat.sql(write=True) as q:
        q.all("INSERT INTO audit_log (at, actor, action, namespace, target, status, address)"
              " VALUES (:at, :actor, :action, :ns, :target, :status, :address)",
              {"at": now(), "actor": actor[:128], "action": action, "ns": namespace,
               "target": target[:500], "status": status, "address": address[:64]})


def entries(cat: Catalog, *, namespace: str | None = None, actor: str | None = None,
            limit: int = 100, before: int | None = None) -> list[dict[str, Any]]:
    """Newest first; `before`: the id of the last entry seen, for the next page."""
    where: list[str] = []
    params: dict[str, Any] = {"limit": limit}
    if namespace is not None:
        where.append("namespace = :ns")
        params["ns"] = namespace
    if actor is not None:
        where.append("actor = :actor")
        params["actor"] = actor
    if before is not None:
        where.append("id < :before")
        params["before"] = before
    sql = ("SELECT id, at, actor, action, namespace, target, status, address FROM audit_log"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT :limit")
    with cat.sql() as q:
        rows = q.all(sql, params)
    out = []
    for r in rows:
        at = timestamp(r[1])
        out.append({"id": int(r[0]), "at": at.isoformat() + "Z" if at else None, "actor": r[2],
                    "action": r[3], "namespace": r[4], "target": r[5], "status": int(r[6]),
                    "address": r[7]})
    return out
