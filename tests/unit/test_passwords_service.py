"""The password gate over the fakes: known and unknown usernames lock alike after the
policy's count of failures, a guess is counted before the hash is checked, and a right
password starts the count again."""
from __future__ import annotations

import pytest
from fakes import FakeServices, fake_services

from securelogin.domain.models import Purpose
from securelogin.errors import Throttled, Unauthenticated
from securelogin.services import passwords

PASSWORD = "correct horse 1"


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice"))


def fail(world, username: str, times: int) -> None:
    for _ in range(times):
        with pytest.raises(Unauthenticated):
            world.passwords.check(username, "not the password", Purpose.LOGIN)


def locks(world, username: str) -> list[bool]:
    """Whether each failure so far locked the username (its audit events, in no order)."""
    return [bool(e.details["locked"]) for e in world.audit.newest_first(username) if e.type == "login.password_failed"]


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_the_policy_count_of_failures_locks_any_username(world, username):
    lock_after, lock_for = world.policy.password_lock_after, world.policy.password_lock_duration
    fail(world, username, lock_after - 1)
    assert world.table.lockouts[username].locked_until is None and locks(world, username) == [False] * (lock_after - 1)
    fail(world, username, 1)
    assert sorted(locks(world, username)) == [False] * (lock_after - 1) + [True]  # the last failure locked
    with pytest.raises(Throttled) as locked:
        world.passwords.check(username, PASSWORD, Purpose.LOGIN)  # even the right password waits
    assert locked.value.extra["retry_after_seconds"] == lock_for.total_seconds()
    world.clock.advance(lock_for.total_seconds() - 1)
    with pytest.raises(Throttled):
        world.passwords.check(username, PASSWORD, Purpose.LOGIN)
    world.clock.advance(1)
    if username == "alice":
        assert world.passwords.check(username, PASSWORD, Purpose.LOGIN).user.username == "alice"
    else:
        fail(world, username, 1)  # refused again, not locked


def test_a_right_password_starts_the_count_again(world):
    fail(world, "alice", world.policy.password_lock_after - 1)
    world.passwords.check("alice", PASSWORD, Purpose.LOGIN)
    assert "alice" not in world.table.lockouts
    fail(world, "alice", world.policy.password_lock_after - 1)
    assert world.passwords.check("alice", PASSWORD, Purpose.LOGIN).user is not None


def test_a_guess_is_counted_before_its_hash_is_checked(world, monkeypatch):
    counted_at_check = []
    verify = passwords.verify_password

    def watching(password_hash, password):
        lockout = world.table.lockouts.get("alice")
        counted_at_check.append(lockout.failures if lockout else 0)
        return verify(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", watching)
    fail(world, "alice", world.policy.password_lock_after)
    assert counted_at_check == list(range(1, world.policy.password_lock_after + 1))
    with pytest.raises(Throttled):
        world.passwords.check("alice", PASSWORD, Purpose.LOGIN)
    assert len(counted_at_check) == world.policy.password_lock_after  # a locked username's hash is not checked
