"""Personal access tokens, service tokens and dashboard sessions: one table, one check.

A token is `kiln_` and 43 random URL-safe characters (256 bits), shown once when made. Only
its SHA-256 is kept: a plain hash suffices for a secret that random (a slow hash is for
passwords people choose), and it lets a request find its token by an indexed lookup. What a
lookup by hash could leak through timing is about the hash, not the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import Statements, timestamp
from kiln.errors import AuthenticationError, NotFoundError, PermissionDenied, UserError
from kiln.identity.accounts import user_id
from kiln.identity.model import Principal
from kiln.names import check_name

PREFIX = "kiln_"
SESSION_HOURS = 12
MAX_DAYS = 366
# last_used_at is written at most this often per token: a write per request would cost an
# fsync per request on SQLite.
_TOUCH_EVERY = timedelta(seconds=60)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    """A token just made: the secret is here once and never again."""

    id: int
    secret: str
    name: str
    expires_at: datetime | None
    read_only: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "token": self.secret, "name": self.name,
                "expires_at": self.expires_at.isoformat() + "Z" if self.expires_at else None,
                "read_only": self.read_only}


def create(cat: Catalog, user: str, name: str, *, days: int | None = 90,
           read_only: bool = False, kind: str = "personal") -> NewToken:
    """A token for `user`: expires after `days` (None: never, for a service account's)."""
    check_name("token", name)
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise UserError(f"a token lives 1 to {MAX_DAYS} days, not {days}", where="expires_days",
                        hint="make a new one when it runs out")
    secret = PREFIX + secrets.token_urlsafe(32)
    ts = now()
    expires = (ts + timedelta(hours=SESSION_HOURS) if kind == "session" else
               None if days is None else ts + timedelta(days=days))
    with cat.sql(write=True) as q:
        uid = user_id(q, user)
        if kind != "session" and days is None and q.scalar(
                "SELECT kind FROM users WHERE id = :id", {"id": uid}) != "service":
            raise UserError("only a service account's token may live for ever",
                            where="expires_days", hint="give it a number of days")
        tid = q.scalar("INSERT INTO tokens (user_id, kind, name, digest, prefix, read_only,"
                       " created_at, expires_at) VALUES (:u, :kind, :name, :d, :p, :ro, :ts, :ex)"
                       " RETURNING id", {"u": uid, "kind": kind, "name": name,
                                         "d": digest(secret), "p": secret[:12],
                                         "ro": int(read_only), "ts": ts, "ex": expires})
    return NewToken(int(tid), secret, name, expires, read_only)


def authenticate(cat: Catalog, secret: str, *, kind: str | None = None) -> Principal:
    """The caller a token (or session) stands for; AuthenticationError if it is unknown,
    revoked, expired, or its account is disabled."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        raise AuthenticationError("the token is not one this server made",
                                  where="Authorization", hint="sign in again (`kiln login`)")
    want = digest(secret)
    with cat.sql() as q:
        row = q.first("SELECT t.id, t.digest, t.kind, t.read_only, t.expires_at, t.revoked_at,"
                      " t.last_used_at, u.id, u.name, u.kind, u.is_admin, u.disabled"
                      " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.digest = :d",
                      {"d": want})
        if row is None or not hmac.compare_digest(row[1], want) or (
                kind is not None and row[2] != kind):
            raise AuthenticationError("the token is not one this server knows",
                                      where="Authorization",
                                      hint="sign in again (`kiln login`, or the dashboard)")
        ts = now()
        if row[5] is not None:
            raise AuthenticationError("the token was revoked", where="Authorization",
                                      hint="make a new one (`kiln token create`)")
        expires = timestamp(row[4])
        if expires is not None and expires <= ts:
            raise AuthenticationError("the token has expired", where="Authorization",
                                      hint="make a new one (`kiln token create`), or sign in")
        if row[11]:
            raise AuthenticationError(f"the account '{row[8]}' is disabled",
                                      where="Authorization", hint="ask a server admin")
        groups = _groups(q, int(row[7]))
    last = timestamp(row[6])
    if last is None or ts - last > _TOUCH_EVERY:
        with cat.sql(write=True) as q:
            q.all("UPDATE tokens SET last_used_at = :ts WHERE id = :id", {"ts": ts, "id": row[0]})
    return Principal(row[8], user_id=int(row[7]), kind=row[9], is_admin=bool(row[10]),
                     groups=groups[0], read_only=bool(row[3]),
                     via="session" if row[2] == "session" else "token", token_id=int(row[0]),
                     group_names=groups[1])


def _groups(q: Statements, uid: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    rows = q.all("SELECT g.id, g.name FROM group_members m JOIN groups g ON g.id = m.group_id"
                 " WHERE m.user_id = :u ORDER BY g.name", {"u": uid})
    return tuple(int(r[0]) for r in rows), tuple(r[1] for r in rows)


def groups_of(cat: Catalog, uid: int) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """A user's groups: (ids, names)."""
    with cat.sql() as q:
        return _groups(q, uid)


def principal_of(cat: Catalog, name: str) -> Principal:
    """A user as a caller, for work done later on their behalf (a scheduled sync): their
    rights now, not when the work was set up. `local` (an open server's owner) stays that."""
    from kiln.identity.model import LOCAL

    if name == LOCAL.name:
        return LOCAL
    with cat.sql() as q:
        row = q.first("SELECT id, kind, is_admin, disabled FROM users WHERE name = :n",
                      {"n": name})
        if row is None or row[3]:
            raise AuthenticationError(f"the account '{name}' is gone or disabled",
                                      where="user", hint="someone else must set this up again")
        ids, names = _groups(q, int(row[0]))
    return Principal(name, user_id=int(row[0]), kind=row[1], is_admin=bool(row[2]),
                     groups=ids, via="scheduled", group_names=names)


def list_tokens(cat: Catalog, user: str) -> list[dict[str, Any]]:
    """A user's tokens (not sessions), without secrets: the prefix tells them apart."""
    def stamp(v: Any) -> str | None:
        t = timestamp(v)
        return t.isoformat() + "Z" if t else None

    with cat.sql() as q:
        uid = user_id(q, user)
        rows = q.all("SELECT id, name, prefix, read_only, created_at, expires_at, last_used_at,"
                     " revoked_at FROM tokens WHERE user_id = :u AND kind != 'session'"
                     " ORDER BY id", {"u": uid})
    ts = now()
    return [{"id": int(r[0]), "name": r[1], "prefix": r[2], "read_only": bool(r[3]),
             "created_at": stamp(r[4]), "expires_at": stamp(r[5]), "last_used_at": stamp(r[6]),
             "revoked_at": stamp(r[7]),
             "state": "revoked" if r[7] else "expired" if (
                 timestamp(r[5]) or ts) < ts else "active"} for r in rows]


def revoke(cat: Catalog, token_id: int, *, by: Principal) -> None:
    """Revoke a token: its owner may, and a server admin may revoke anyone's."""
    with cat.sql(write=True) as q:
        owner = q.scalar("SELECT user_id FROM tokens WHERE id = :id AND kind != 'session'",
                         {"id": token_id})
        if owner is None or (int(owner) != by.user_id and not by.is_admin):
            # the same answer for someone else's token as for none: ids are not to be probed
            raise NotFoundError(f"you have no token {token_id}", where="token",
                                hint="`kiln token ls` lists yours")
        q.all("UPDATE tokens SET revoked_at = COALESCE(revoked_at, :ts) WHERE id = :id",
              {"ts": now(), "id": token_id})


def end_session(cat: Catalog, secret: str) -> None:
    with cat.sql(write=True) as q:
        q.all("UPDATE tokens SET revoked_at = :ts WHERE digest = :d AND kind = 'session'",
              {"ts": now(), "d": digest(secret)})


def check_may_create_for(cat: Catalog, by: Principal, account: str) -> None:
    """A token for someone else: a server admin's right, or a namespace admin's for a service
    account bound in their namespace."""
    if account == by.name or by.is_admin:
        return
    from kiln.identity.namespaces import roles

    with cat.sql() as q:
        uid = user_id(q, account)
        kind = q.scalar("SELECT kind FROM users WHERE id = :id", {"id": uid})
        bound = [r[0] for r in q.all("SELECT namespace FROM role_bindings WHERE"
                                     " subject_kind = 'user' AND subject_id = :id", {"id": uid})]
    mine = roles(cat, by)
    if kind == "service" and any(mine.get(ns) == "admin" for ns in bound):
        return
    raise PermissionDenied(f"you may not make tokens for '{account}'", where="user",
                           hint="a server admin, or an admin of the service account's "
                                "namespace, may")
