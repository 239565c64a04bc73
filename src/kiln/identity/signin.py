"""Signing in with a name and password (the dashboard's form, `kiln login`), throttled."""

from __future__ import annotations

from kiln.catalog.db import Catalog
from kiln.errors import AuthenticationError
from kiln.identity import passwords, throttle


def check_password(cat: Catalog, name: object, password: object, address: str) -> str:
    """The user's name if the password is theirs; AuthenticationError (the same words whether
    the name exists or not) or TooManyAttempts otherwise."""
    if not isinstance(name, str) or not isinstance(password, str) or not name or \
            len(name) > 128 or len(password) > 1024:
        raise AuthenticationError("send a user name and a password", where="body",
                                  hint='{"username": "...", "password": "..."}')
    name = name.strip().lower()
    throttle.check(cat, name, address)
    with cat.sql() as q:
        row = q.first("SELECT password_hash, disabled, kind FROM users WHERE name = :n",
                      {"n": name})
    right = passwords.verify(row[0] if row else None, password)
    if not right or row is None or row[1] or row[2] != "person":
        throttle.failed(cat, name, address)
        raise AuthenticationError("wrong user name or password", where="body",
                                  hint="check both; after a few wrong tries the server makes "
                                       "you wait")
    throttle.succeeded(cat, name)
    return name
