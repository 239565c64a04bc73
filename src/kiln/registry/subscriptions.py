"""Subscriptions: keep a volume (or a registered model) of this namespace at a bucket's
newest version, fetched from this server or from peers (tried in order; the next one when
one is down or sends a bad piece)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import Json, timestamp
from kiln.errors import ConflictError, NotFoundError, UserError
from kiln.names import check_name
from kiln.registry import buckets


@dataclass(frozen=True)
class Subscription:
    id: int
    bucket: str
    sources: list[str]
    token: str | None
    target_kind: str
    target: str
    version: int
    paused: bool
    created_by: str
    created_at: datetime
    last_sync_at: datetime | None
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        def stamp(d: datetime | None) -> str | None:
            return d.isoformat() + "Z" if d else None

        return {"id": self.id, "bucket": self.bucket,
                "sources": [s or "this server" for s in self.sources],
                "target_kind": self.target_kind, "target": self.target,
                "version": self.version, "paused": self.paused, "created_by": self.created_by,
                "created_at": stamp(self.created_at), "last_sync_at": stamp(self.last_sync_at),
                "last_error": self.last_error}


_COLUMNS = ("id, bucket, sources, token, target_kind, target, version, paused, created_by,"
            " created_at, last_sync_at, last_error")


def check_source(url: str) -> str:
    url = url.strip().rstrip("/")
    if url and not url.startswith(("http://", "https://")):
        raise UserError(f"'{url}' is not a server address", where="--from",
                        hint="http://HOST:PORT of another kiln server, or leave it out for "
                             "this one")
    return url


def create(cat: Catalog, bucket: str, *, target_kind: str, target: str, sources: list[str],
           token: str | None, by: str) -> Subscription:
    buckets.parse(bucket)
    if target_kind == "volume":
        check_name("volume", target)
    elif target_kind == "model":
        check_name("service", target, what="model name")
    else:
        raise UserError(f"'{target_kind}' cannot subscribe", where="target_kind",
                        hint="volume or model")
    sources = [check_source(s) for s in sources] or [""]
    with cat.sql(write=True) as q:
        if q.scalar("SELECT id FROM subscriptions WHERE target_kind = :k AND target = :t",
                    {"k": target_kind, "t": target}) is not None:
            raise ConflictError(f"{target_kind} '{target}' already follows a bucket",
                                where="--to", hint="remove that subscription first, or pick "
                                                   "another target")
        sid = q.scalar("INSERT INTO subscriptions (bucket, sources, token, target_kind, target,"
                       " version, paused, created_by, created_at) VALUES (:b, :s, :tok, :k,"
                       " :t, 0, 0, :by, :ts) RETURNING id",
                       {"b": bucket, "s": Json(sources), "tok": token, "k": target_kind,
                        "t": target, "by": by, "ts": now()})
    return get(cat, int(sid))


def _sub(r: tuple[Any, ...], load: Any) -> Subscription:
    created = timestamp(r[9])
    assert created is not None
    return Subscription(int(r[0]), r[1], list(load(r[2]) or []), r[3], r[4], r[5], int(r[6]),
                        bool(r[7]), r[8], created, timestamp(r[10]), r[11])


def get(cat: Catalog, sid: int) -> Subscription:
    with cat.sql() as q:
        row = q.first(f"SELECT {_COLUMNS} FROM subscriptions WHERE id = :id",  # noqa: S608
                      {"id": sid})
        if row is None:
            raise NotFoundError(f"no subscription {sid}", where="subscription",
                                hint="`kiln subscription ls` lists them")
        return _sub(row, q.load_json)


def list_all(cat: Catalog) -> list[Subscription]:
    with cat.sql() as q:
        return [_sub(r, q.load_json) for r in q.all(
            f"SELECT {_COLUMNS} FROM subscriptions ORDER BY id")]  # noqa: S608


def set_paused(cat: Catalog, sid: int, paused: bool) -> Subscription:
    get(cat, sid)
    with cat.sql(write=True) as q:
        q.all("UPDATE subscriptions SET paused = :p WHERE id = :id", {"p": int(paused), "id": sid})
    return get(cat, sid)


def remove(cat: Catalog, sid: int) -> None:
    """Stop following; what was received stays (the volume, its snapshots, model versions)."""
    sub = get(cat, sid)
    with cat.sql(write=True) as q:
        q.all("DELETE FROM subscriptions WHERE id = :id", {"id": sid})
        q.all("DELETE FROM registry_pins WHERE reason LIKE :r",  # a cut-off sync's pin
              {"r": f"sync of {sub.bucket} v% in flight"})


def advance(cat: Catalog, sid: int, *, old: int, new: int) -> bool:
    """Move the held version from `old` to `new` (compare-and-swap): False if another sync
    moved it meanwhile."""
    with cat.sql(write=True) as q:
        return bool(q.rowcount("UPDATE subscriptions SET version = :new, last_sync_at = :ts,"
                               " last_error = NULL WHERE id = :id AND version = :old",
                               {"new": new, "ts": now(), "id": sid, "old": old}))


def failed(cat: Catalog, sid: int, error: str) -> None:
    with cat.sql(write=True) as q:
        q.all("UPDATE subscriptions SET last_error = :e, last_sync_at = :ts WHERE id = :id",
              {"e": error[:2000], "ts": now(), "id": sid})


def touch(cat: Catalog, sid: int) -> None:
    """Checked just now, nothing new."""
    with cat.sql(write=True) as q:
        q.all("UPDATE subscriptions SET last_sync_at = :ts, last_error = NULL WHERE id = :id",
              {"ts": now(), "id": sid})
