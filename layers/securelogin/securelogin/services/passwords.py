"""The password step every flow starts with (login, activation, recovery, sharing)."""
from __future__ import annotations

from datetime import datetime

from securelogin.clock import Clock, seconds_until
from securelogin.crypto.passwords import verify_password
from securelogin.domain.models import Purpose
from securelogin.domain.usernames import normalise_username
from securelogin.errors import Throttled, Unauthenticated
from securelogin.observability import Metric, count
from securelogin.policy import Policy
from securelogin.ports import LockoutStore, UserPartition, UserStore
from securelogin.services.audit import AuditTrail

INVALID_CREDENTIALS = "The username or password is incorrect."


class PasswordGate:
    """Checks a username and password. Unknown usernames answer exactly like known ones:
    the same refusal, the same hashing work, and the same lock after repeated failures."""

    def __init__(self, users: UserStore, lockouts: LockoutStore, audit: AuditTrail, clock: Clock,
                 policy: Policy) -> None:
        self._users = users
        self._lockouts = lockouts
        self._audit = audit
        self._clock = clock
        self._policy = policy

    @staticmethod
    def _locked(until: datetime, now: datetime) -> Throttled:
        return Throttled("too_many_attempts", "Too many failed attempts. Try again later.", seconds_until(until, now))

    def check(self, username: str, password: str, purpose: Purpose) -> UserPartition:
        """The user's partition (profile, lockout, devices) when the password is right.
        A known and an unknown username make the same AWS calls, so that neither the
        answer nor its time tells them apart."""
        now = self._clock.now()
        username = normalise_username(username)
        # Shared devices are read through their links only after the password: a user with
        # a link must cost no more to refuse than an unknown username.
        found = self._users.partition(username, resolve_links=False)
        if found.lockout.locked_until and found.lockout.locked_until > now:
            raise self._locked(found.lockout.locked_until, now)
        # The guess is counted before the (slow) hash is checked, so parallel guesses are
        # never checked more often than the lock allows.
        taken = self._lockouts.take_attempt(username, now, self._policy.password_lock_after)
        if taken.locked_until is not None:
            raise self._locked(taken.locked_until, now)
        if not verify_password(found.user.password_hash if found.user else None, password) or found.user is None:
            locked = taken.failures >= self._policy.password_lock_after
            if locked:
                self._lockouts.lock(username, now, self._policy.password_lock_after,
                                    self._policy.password_lock_duration)
                count(Metric.PASSWORD_LOCKOUT)
            if purpose == Purpose.LOGIN:  # the guess was counted (and the lock set) before this
                count(Metric.LOGIN_FAILED)
            self._audit.record(username, f"{purpose.value}.password_failed", locked=locked)
            raise Unauthenticated("invalid_credentials", INVALID_CREDENTIALS)
        self._lockouts.clear(username)
        return self._users.with_links_resolved(found)
