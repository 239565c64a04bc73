"""Buckets: named, versioned streams owned by a user or a group (`team-a/churn-data`). Each
publish adds an immutable version; the head moves by compare-and-swap, so of two publishers
racing one wins and the other is told. Who may read, publish and manage a bucket is decided
here from its owner, its visibility and grants (kiln.identity.grants, kind `bucket`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import Json, Statements, timestamp
from kiln.errors import ConflictError, NotFoundError, PermissionDenied, UserError
from kiln.identity.model import REGISTRY_NS, Principal
from kiln.names import RULES, check_name, valid

Visibility = Literal["private", "group", "public"]
VISIBILITIES = ("private", "group", "public")
_LEVEL = {None: 0, "read": 1, "edit": 2, "manage": 3}


def parse(ref: str) -> tuple[str, str]:
    """OWNER/NAME, each checked: no '..', no other slashes, ASCII only."""
    owner, sep, name = str(ref).partition("/")
    if not sep or "/" in name or not (valid("user", owner) or valid("group", owner)):
        raise UserError(f"'{ref}' is not a bucket", where="--bucket",
                        hint=RULES["bucket"].hint)
    check_name("bucket", name)
    return owner, name


@dataclass(frozen=True)
class Bucket:
    id: int
    owner: str
    name: str
    visibility: str
    origin: str | None
    head: int
    description: str
    created_by: str
    created_at: datetime
    deleted_at: datetime | None

    @property
    def ref(self) -> str:
        return f"{self.owner}/{self.name}"

    def to_dict(self) -> dict[str, Any]:
        return {"bucket": self.ref, "owner": self.owner, "name": self.name,
                "visibility": self.visibility, "origin": self.origin, "head": self.head,
                "description": self.description, "created_by": self.created_by,
                "created_at": self.created_at.isoformat() + "Z",
                "deleted": self.deleted_at is not None}


@dataclass(frozen=True)
class Version:
    number: int
    kind: str
    namespace: str
    manifest: dict[str, Any]
    message: str
    author: str
    tags: list[str]
    size: int
    created_at: datetime

    def to_dict(self, *, manifest: bool = False) -> dict[str, Any]:
        out = {"number": self.number, "kind": self.kind, "message": self.message,
               "author": self.author, "tags": self.tags, "size": self.size,
               "created_at": self.created_at.isoformat() + "Z",
               "files": self.manifest.get("files"),
               "source": self.manifest.get("source")}
        if manifest:
            out["manifest"] = self.manifest
        return out


_COLUMNS = ("id, owner, name, visibility, origin, head, description, created_by, created_at,"
            " deleted_at")


def _bucket(r: tuple[Any, ...]) -> Bucket:
    created = timestamp(r[8])
    assert created is not None
    return Bucket(int(r[0]), r[1], r[2], r[3], r[4], int(r[5]), r[6], r[7], created,
                  timestamp(r[9]))


def _find(q: Statements, owner: str, name: str) -> Bucket | None:
    row = q.first(f"SELECT {_COLUMNS} FROM buckets WHERE owner = :o AND name = :n",  # noqa: S608
                  {"o": owner, "n": name})
    return _bucket(row) if row else None


def level(cat: Catalog, who: Principal, b: Bucket) -> str | None:
    """read, edit, manage or None: the owner (or a member of the owning group) publishes,
    server admins and the owning user manage, visibility and grants add the rest."""
    if who.is_admin or (who.user_id is not None and who.name == b.owner):
        return "manage"
    best: str | None = None
    member = b.owner in who.group_names
    if member:
        best = "edit"
    if b.visibility == "public":  # anyone signed in (the API lets no one else ask)
        best = best or "read"
    if b.visibility == "group" and not best and who.user_id is not None:
        with cat.sql() as q:
            owner_groups = {r[0] for r in q.all(
                "SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id"
                " JOIN users u ON u.id = m.user_id WHERE u.name = :o", {"o": b.owner})}
        if owner_groups & set(who.group_names):
            best = "read"
    if who.user_id is not None:
        from kiln.identity.grants import role_on

        granted = {"view": "read", "edit": "edit", "admin": "manage"}.get(
            role_on(cat, who, REGISTRY_NS, "bucket", b.ref) or "")
        if _LEVEL[granted] > _LEVEL[best]:
            best = granted
    return best


def get(cat: Catalog, ref: str, who: Principal, need: str = "read", *,
        deleted_ok: bool = False) -> Bucket:
    """The bucket if the caller may `need` it. A bucket the caller may not read is answered
    exactly as one that does not exist: names are not to be probed."""
    owner, name = parse(ref)
    with cat.sql() as q:
        b = _find(q, owner, name)
    lv = level(cat, who, b) if b is not None else None
    if b is None or lv is None:
        raise NotFoundError(f"no bucket '{ref}' you may read", where="bucket",
                            hint="`kiln registry search` lists the ones you may")
    if b.deleted_at is not None and not deleted_ok:
        raise NotFoundError(f"bucket '{ref}' was deleted", where="bucket",
                            hint="subscribe to another; its versions are gone")
    if _LEVEL[lv] < _LEVEL[need]:
        verb = {"edit": "publish to", "manage": "manage"}[need]
        raise PermissionDenied(f"'{who.name}' may not {verb} bucket '{ref}' (may {lv} it)",
                               where="bucket", hint=f"ask its owner {b.owner} for a grant")
    return b


def may_publish(cat: Catalog, ref: str, who: Principal, *,
                visibility: str | None = None) -> Bucket | None:
    """The bucket if the caller may publish to it; None if it does not exist yet and the
    caller may make it (its owner: the user, or a member of the owning group). Nothing is
    written: a bucket comes into being with its first version (commit)."""
    owner, name = parse(ref)
    if visibility is not None and visibility not in VISIBILITIES:
        raise UserError(f"'{visibility}' is not a visibility", where="--visibility",
                        hint="private, group or public")
    with cat.sql() as q:
        found = _find(q, owner, name)
    if found is not None:
        return get(cat, ref, who, "edit")
    if not (who.is_admin or owner == who.name or owner in who.group_names):
        raise PermissionDenied(f"'{who.name}' may not make buckets for '{owner}'",
                               where="bucket", hint=f"publish under {who.name}/... or a "
                               "group you are in")
    return None


def ensure(cat: Catalog, ref: str, who: Principal, *, visibility: str | None = None,
           origin: str | None = None) -> Bucket:
    """The bucket, made now if missing (a mirror's record, kept by sync)."""
    owner, name = parse(ref)
    with cat.sql(write=True) as q:
        if _find(q, owner, name) is None:
            _insert(q, owner, name, visibility or "private", origin, who.name)
        b = _find(q, owner, name)
    assert b is not None
    return b


def _insert(q: Statements, owner: str, name: str, visibility: str, origin: str | None,
            by: str) -> None:
    q.all("INSERT INTO buckets (owner, name, visibility, origin, head, description,"
          " created_by, created_at) VALUES (:o, :n, :v, :origin, 0, '', :by, :ts)",
          {"o": owner, "n": name, "v": visibility, "origin": origin, "by": by, "ts": now()})


def commit(cat: Catalog, b: Bucket | str, *, parent: int, kind: str, namespace: str,
           manifest: dict[str, Any], message: str, author: str, tags: list[str], size: int,
           number: int | None = None, visibility: str | None = None) -> Version:
    """Add the next version if the head is still `parent` (compare-and-swap): a publisher
    that raced another gets ConflictError and nothing is written. `b` may be the OWNER/NAME
    of a bucket to make with this, its first version, in the same transaction."""
    n = number if number is not None else parent + 1
    with cat.sql(write=True) as q:
        if isinstance(b, str):
            owner, name = parse(b)
            if _find(q, owner, name) is None:
                _insert(q, owner, name, visibility or "private", None, author)
            found = _find(q, owner, name)
            assert found is not None
            b = found
        moved = q.rowcount("UPDATE buckets SET head = :n WHERE id = :id AND head = :parent"
                           " AND deleted_at IS NULL", {"n": n, "id": b.id, "parent": parent})
        if not moved:
            head = q.scalar("SELECT head FROM buckets WHERE id = :id", {"id": b.id})
            raise ConflictError(f"bucket '{b.ref}' moved to version {head} while this was "
                                f"published on top of version {parent}", where="bucket",
                                hint="look at the new version, then publish again")
        q.all("INSERT INTO bucket_versions (bucket_id, number, kind, namespace, manifest,"
              " message, author, tags, size, created_at) VALUES (:b, :n, :kind, :ns, :m,"
              " :msg, :author, :tags, :size, :ts)",
              {"b": b.id, "n": n, "kind": kind, "ns": namespace, "m": json.dumps(manifest),
               "msg": message, "author": author, "tags": Json(tags), "size": size,
               "ts": now()})
    return version(cat, b, n)


def version(cat: Catalog, b: Bucket, number: int | str | None = None) -> Version:
    """One version: a number, 'latest' or None (the head)."""
    n = b.head if number in (None, "latest") else _number(number)
    with cat.sql() as q:
        row = q.first("SELECT number, kind, namespace, manifest, message, author, tags, size,"
                      " created_at FROM bucket_versions WHERE bucket_id = :b AND number = :n",
                      {"b": b.id, "n": n})
        if row is None:
            raise NotFoundError(f"bucket '{b.ref}' has no version {number or 'yet'}",
                                where="version", hint=f"its versions are 1-{b.head}"
                                if b.head else "publish one first")
        return _version(q, row)


def _number(value: object) -> int:
    try:
        n = int(str(value).lstrip("v"))
    except ValueError:
        raise UserError(f"'{value}' is not a version number", where="version",
                        hint="a number, or latest") from None
    if n < 1:
        raise UserError(f"'{value}' is not a version number", where="version")
    return n


def _version(q: Statements, r: tuple[Any, ...]) -> Version:
    created = timestamp(r[8])
    assert created is not None
    return Version(int(r[0]), r[1], r[2], json.loads(r[3]), r[4], r[5],
                   list(q.load_json(r[6]) or []), int(r[7]), created)


def versions(cat: Catalog, b: Bucket) -> list[Version]:
    with cat.sql() as q:
        return [_version(q, r) for r in q.all(
            "SELECT number, kind, namespace, manifest, message, author, tags, size, created_at"
            " FROM bucket_versions WHERE bucket_id = :b ORDER BY number DESC", {"b": b.id})]


def search(cat: Catalog, who: Principal, text: str = "", *, owner: str | None = None,
           tag: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
    """Buckets the caller may read whose name, owner, description or a version's message
    holds `text`; newest first, each with its head version."""
    with cat.sql() as q:
        rows = [_bucket(r) for r in q.all(f"SELECT {_COLUMNS} FROM buckets"  # noqa: S608
                                          " WHERE deleted_at IS NULL ORDER BY id DESC")]
    out = []
    needle = text.lower()
    for b in rows:
        if owner and b.owner != owner:
            continue
        if level(cat, who, b) is None:
            continue
        head = version(cat, b) if b.head else None
        hay = " ".join([b.ref, b.description, head.message if head else ""]).lower()
        if needle and needle not in hay:
            continue
        if tag and not any(tag in v.tags for v in versions(cat, b)):
            continue
        out.append({**b.to_dict(), "latest": head.to_dict() if head else None})
        if len(out) >= limit:
            break
    return out


def change(cat: Catalog, b: Bucket, *, visibility: str | None = None,
           description: str | None = None) -> Bucket:
    if visibility is not None and visibility not in VISIBILITIES:
        raise UserError(f"'{visibility}' is not a visibility", where="visibility",
                        hint="private, group or public")
    with cat.sql(write=True) as q:
        if visibility is not None:
            q.all("UPDATE buckets SET visibility = :v WHERE id = :id",
                  {"v": visibility, "id": b.id})
        if description is not None:
            q.all("UPDATE buckets SET description = :d WHERE id = :id",
                  {"d": description[:2000], "id": b.id})
        found = _find(q, b.owner, b.name)
    assert found is not None
    return found


def delete(cat: Catalog, b: Bucket) -> None:
    """Deleted for everyone at once; its name stays taken, so a subscriber is told it was
    deleted rather than quietly following a new bucket of the same name."""
    with cat.sql(write=True) as q:
        q.all("UPDATE buckets SET deleted_at = :ts WHERE id = :id", {"ts": now(), "id": b.id})
        q.all("DELETE FROM bucket_versions WHERE bucket_id = :id", {"id": b.id})
