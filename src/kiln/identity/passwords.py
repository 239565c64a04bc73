"""Passwords, hashed with argon2id (argon2-cffi's defaults, RFC 9106's second choice): slow
and memory-hard, so a stolen catalog does not give the passwords away."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from kiln.errors import UserError

if TYPE_CHECKING:
    from argon2 import PasswordHasher

MIN_LENGTH = 8


@cache
def _hasher() -> PasswordHasher:
    from argon2 import PasswordHasher

    return PasswordHasher()


def check_new(password: object, *, where: str = "password") -> str:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise UserError(f"a password needs at least {MIN_LENGTH} characters", where=where,
                        hint="pick a longer one; a passphrase of a few words works well")
    if len(password) > 1024:
        raise UserError("a password may have at most 1024 characters", where=where)
    return password


def hash_password(password: str) -> str:
    return _hasher().hash(check_new(password))


def verify(stored: str | None, password: str) -> bool:
    """True if `password` is the one `stored` was made from. A missing hash (a service account,
    a proxy user) still costs one verification, so timing does not tell which names exist."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(stored or _dummy(), password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _dummy() -> str:
    return _hasher().hash("not a password of anyone's")
