"""Password hashing with Argon2id (RFC 9106 parameters via argon2-cffi)."""
from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError


@cache
def _hasher() -> PasswordHasher:
    # RFC 9106's second recommended option: 64 MiB, 3 passes, 4 lanes.
    return PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)


@cache
def _decoy_hash() -> str:
    return _hasher().hash("decoy password that no user has")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches. With no hash (unknown user) it still spends the
    same work on a decoy hash, so the answer's timing does not tell who exists."""
    try:
        matched = _hasher().verify(password_hash or _decoy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return matched and password_hash is not None
