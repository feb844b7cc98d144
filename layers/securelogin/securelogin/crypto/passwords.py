"""Password (and PIN) hashing with Argon2id via argon2-cffi.

The cost parameters come from the settings (``ARGON2_*``; RFC 9106's second recommended
option unless set), read once per container. A hash records the parameters it was made
with, so hashes made under other parameters keep verifying."""
from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from securelogin.settings import Argon2Parameters, get_argon2_parameters

_DECOY_PASSWORD = "decoy password that no user has"  # noqa: S105 - hashed for unknown users, never matches


def hasher_for(parameters: Argon2Parameters) -> PasswordHasher:
    return PasswordHasher(time_cost=parameters.time_cost, memory_cost=parameters.memory_cost_kib,
                          parallelism=parameters.parallelism, type=Type.ID)


@cache
def _hasher() -> PasswordHasher:
    return hasher_for(get_argon2_parameters())


@cache
def _decoy_hash() -> str:
    # Made by the same hasher as real hashes, so checking it costs what checking theirs does.
    return _hasher().hash(_DECOY_PASSWORD)


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
