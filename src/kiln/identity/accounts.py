"""Users and groups: created, listed, changed and removed by server admins (`kiln user`,
`kiln group`, REST /users and /groups)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from kiln.catalog.db import Catalog, now
from kiln.catalog.sql import Statements, timestamp
from kiln.errors import ConflictError, NotFoundError, UserError
from kiln.identity import passwords
from kiln.names import check_name


@dataclass(frozen=True)
class User:
    id: int
    name: str
    kind: str
    is_admin: bool
    disabled: bool
    created_at: datetime
    has_password: bool
    groups: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "admin": self.is_admin,
                "disabled": self.disabled, "created_at": self.created_at.isoformat() + "Z",
                "password": self.has_password, "groups": list(self.groups)}


_USER_COLUMNS = "id, name, kind, is_admin, disabled, created_at, password_hash IS NOT NULL"


def _user(row: tuple[Any, ...], groups: tuple[str, ...] = ()) -> User:
    created = timestamp(row[5])
    assert created is not None
    return User(int(row[0]), row[1], row[2], bool(row[3]), bool(row[4]), created, bool(row[6]),
                groups)


def add_user(cat: Catalog, name: str, *, password: str | None = None, admin: bool = False,
             kind: str = "person") -> User:
    """A new account. A person without a password can only come in through a trusted proxy
    or a token an admin makes for them."""
    check_name("user", name)
    if kind not in ("person", "service"):
        raise UserError(f"'{kind}' is not a kind of account", where="kind",
                        hint="person or service")
    digest = passwords.hash_password(password) if password is not None else None
    with cat.sql(write=True) as q:
        if q.scalar("SELECT id FROM users WHERE name = :name", {"name": name}) is not None:
            raise ConflictError(f"there is already a user '{name}'", where="name",
                                hint="pick another name, or change that user")
        q.all("INSERT INTO users (name, kind, password_hash, is_admin, disabled, created_at)"
              " VALUES (:name, :kind, :hash, :admin, 0, :ts)",
              {"name": name, "kind": kind, "hash": digest, "admin": int(admin), "ts": now()})
    return get_user(cat, name)


def get_user(cat: Catalog, name: str) -> User:
    with cat.sql() as q:
        return _get_user(q, name)


def _get_user(q: Statements, name: str) -> User:
    row = q.first(f"SELECT {_USER_COLUMNS} FROM users WHERE name = :name",  # noqa: S608
                  {"name": name})
    if row is None:
        raise NotFoundError(f"no user '{name}'", where="user",
                            hint="`kiln user ls` lists them (GET /api/v1/users)")
    names = tuple(r[0] for r in q.all(
        "SELECT g.name FROM groups g JOIN group_members m ON m.group_id = g.id"
        " WHERE m.user_id = :id ORDER BY g.name", {"id": row[0]}))
    return _user(row, names)


def user_id(q: Statements, name: str) -> int:
    found = q.scalar("SELECT id FROM users WHERE name = :name", {"name": name})
    if found is None:
        raise NotFoundError(f"no user '{name}'", where="user",
                            hint="`kiln user ls` lists them; `kiln user add` makes one")
    return int(found)


def list_users(cat: Catalog) -> list[User]:
    with cat.sql() as q:
        rows = q.all(f"SELECT {_USER_COLUMNS} FROM users ORDER BY name")  # noqa: S608
        member: dict[int, list[str]] = {}
        for uid, group in q.all("SELECT m.user_id, g.name FROM group_members m"
                                " JOIN groups g ON g.id = m.group_id ORDER BY g.name"):
            member.setdefault(int(uid), []).append(group)
    return [_user(r, tuple(member.get(int(r[0]), ()))) for r in rows]


def count_users(cat: Catalog) -> int:
    with cat.sql() as q:
        return int(q.scalar("SELECT count(*) FROM users WHERE kind = 'person'") or 0)


def change_user(cat: Catalog, name: str, *, password: str | None = None,
                admin: bool | None = None, disabled: bool | None = None) -> User:
    """A new password, admin or not, disabled or not. Taking away the last server admin is
    refused: nobody could then manage the server."""
    digest = passwords.hash_password(password) if password is not None else None
    with cat.sql(write=True) as q:
        uid = user_id(q, name)
        if admin is False or disabled:
            _keep_an_admin(q, uid)
        if digest is not None:
            q.all("UPDATE users SET password_hash = :h WHERE id = :id", {"h": digest, "id": uid})
        if admin is not None:
            q.all("UPDATE users SET is_admin = :a WHERE id = :id", {"a": int(admin), "id": uid})
        if disabled is not None:
            q.all("UPDATE users SET disabled = :d WHERE id = :id", {"d": int(disabled), "id": uid})
            if disabled:  # a disabled account's sessions and tokens stop at once
                q.all("UPDATE tokens SET revoked_at = :ts WHERE user_id = :id"
                      " AND revoked_at IS NULL", {"ts": now(), "id": uid})
    return get_user(cat, name)


def _keep_an_admin(q: Statements, uid: int) -> None:
    admins = [int(r[0]) for r in q.all(
        "SELECT id FROM users WHERE is_admin = 1 AND disabled = 0 AND kind = 'person'")]
    if admins == [uid]:
        raise ConflictError("this is the server's last admin", where="user",
                            hint="make another user admin first (`kiln user add NAME --admin`)")


def remove_user(cat: Catalog, name: str) -> None:
    """Remove an account with its tokens, group memberships, role bindings and grants. Refused
    while it owns a namespace or is the last admin of one (nobody could manage it)."""
    with cat.sql(write=True) as q:
        uid = user_id(q, name)
        _keep_an_admin(q, uid)
        owned = [r[0] for r in q.all("SELECT name FROM namespaces WHERE owner_id = :id",
                                     {"id": uid})]
        if owned:
            raise ConflictError(f"'{name}' owns the namespace {', '.join(owned)}",
                                where="user", hint="give it another owner first "
                                "(`kiln namespace owner NS USER`)")
        for ns in last_admin_of(q, "user", uid):
            raise ConflictError(f"'{name}' is the last admin of namespace '{ns}'",
                                where="user", hint="make someone else its admin first")
        q.all("DELETE FROM role_bindings WHERE subject_kind = 'user' AND subject_id = :id",
              {"id": uid})
        q.all("DELETE FROM grants WHERE subject_kind = 'user' AND subject_id = :id", {"id": uid})
        q.all("DELETE FROM tokens WHERE user_id = :id", {"id": uid})
        q.all("DELETE FROM group_members WHERE user_id = :id", {"id": uid})
        q.all("DELETE FROM users WHERE id = :id", {"id": uid})


# --- groups ---------------------------------------------------------------------------------


def create_group(cat: Catalog, name: str) -> dict[str, Any]:
    check_name("group", name)
    with cat.sql(write=True) as q:
        if q.scalar("SELECT id FROM groups WHERE name = :name", {"name": name}) is not None:
            raise ConflictError(f"there is already a group '{name}'", where="name",
                                hint="pick another name, or add members to that group")
        q.all("INSERT INTO groups (name, created_at) VALUES (:name, :ts)",
              {"name": name, "ts": now()})
    return {"name": name, "members": []}


def group_id(q: Statements, name: str) -> int:
    found = q.scalar("SELECT id FROM groups WHERE name = :name", {"name": name})
    if found is None:
        raise NotFoundError(f"no group '{name}'", where="group",
                            hint="`kiln group ls` lists them; `kiln group create` makes one")
    return int(found)


def list_groups(cat: Catalog) -> list[dict[str, Any]]:
    with cat.sql() as q:
        rows = q.all("SELECT name FROM groups ORDER BY name")
        groups: dict[str, list[str]] = {name: [] for (name,) in rows}
        for group, user in q.all("SELECT g.name, u.name FROM group_members m"
                                 " JOIN groups g ON g.id = m.group_id"
                                 " JOIN users u ON u.id = m.user_id ORDER BY u.name"):
            groups[group].append(user)
    return [{"name": g, "members": m} for g, m in groups.items()]


def add_member(cat: Catalog, group: str, user: str) -> None:
    with cat.sql(write=True) as q:
        gid, uid = group_id(q, group), user_id(q, user)
        if q.scalar("SELECT 1 FROM group_members WHERE group_id = :g AND user_id = :u",
                    {"g": gid, "u": uid}) is None:
            q.all("INSERT INTO group_members (group_id, user_id) VALUES (:g, :u)",
                  {"g": gid, "u": uid})


def remove_member(cat: Catalog, group: str, user: str) -> None:
    with cat.sql(write=True) as q:
        gid, uid = group_id(q, group), user_id(q, user)
        if not q.rowcount("DELETE FROM group_members WHERE group_id = :g AND user_id = :u",
                          {"g": gid, "u": uid}):
            raise NotFoundError(f"'{user}' is not in group '{group}'", where="user")


def remove_group(cat: Catalog, name: str) -> None:
    with cat.sql(write=True) as q:
        gid = group_id(q, name)
        for ns in last_admin_of(q, "group", gid):
            raise ConflictError(f"group '{name}' is the last admin of namespace '{ns}'",
                                where="group", hint="make someone else its admin first")
        q.all("DELETE FROM role_bindings WHERE subject_kind = 'group' AND subject_id = :id",
              {"id": gid})
        q.all("DELETE FROM grants WHERE subject_kind = 'group' AND subject_id = :id",
              {"id": gid})
        q.all("DELETE FROM group_members WHERE group_id = :id", {"id": gid})
        q.all("DELETE FROM groups WHERE id = :id", {"id": gid})


def subject_id(q: Statements, kind: str, name: str) -> int:
    """A binding's or grant's subject: a user or a group, by name."""
    if kind == "user":
        return user_id(q, name)
    if kind == "group":
        return group_id(q, name)
    raise UserError(f"'{kind}' is not a kind of subject", where="subject_kind",
                    hint="user or group")


def last_admin_of(q: Statements, kind: str, sid: int) -> list[str]:
    """The namespaces whose only admin binding is this subject's."""
    rows = q.all("SELECT namespace, subject_kind, subject_id FROM role_bindings"
                 " WHERE role = 'admin' ORDER BY namespace")
    admins: dict[str, list[tuple[str, int]]] = {}
    for ns, k, s in rows:
        admins.setdefault(ns, []).append((k, int(s)))
    return [ns for ns, who in admins.items() if who == [(kind, sid)]]
