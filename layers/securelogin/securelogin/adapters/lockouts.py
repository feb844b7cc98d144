"""Data access for the password guard of each username, known or not: a guess is
counted before it is checked, and the guess that reaches the count locks the username."""
from __future__ import annotations

from datetime import datetime, timedelta

from securelogin.adapters.dynamo import update_if
from securelogin.adapters.table import LockoutItem
from securelogin.domain.models import PasswordLockout


class LockoutStore:
    def take_attempt(self, username: str, now: datetime, lock_after: int) -> PasswordLockout:
        """Counts a password guess *before* it is checked, while the username is not
        locked and fewer than ``lock_after`` guesses are counted: parallel guesses can
        never be checked more often than that. Returns the count with this guess; a
        refused guess returns the lock that refuses it (``locked_until`` set)."""
        item = LockoutItem.keyed(username)
        if update_if(item, [LockoutItem.failures.add(1), LockoutItem.kind.set(LockoutItem),
                            LockoutItem.expires_ttl.set(now + timedelta(days=1))],
                     (LockoutItem.locked_until.does_not_exist() | (LockoutItem.locked_until <= now))
                     & (LockoutItem.failures.does_not_exist() | (LockoutItem.failures < lock_after))):
            return PasswordLockout(int(item.failures), None)
        current = LockoutItem.find(username) or item
        locked = current.locked_until if current.locked_until and current.locked_until > now else None
        return PasswordLockout(int(current.failures or 0), locked or now + timedelta(seconds=1))

    def lock(self, username: str, now: datetime, lock_after: int, lock_for: timedelta) -> datetime:
        """The guess that reached ``lock_after`` was wrong: the username locks, and the count starts again."""
        until = now + lock_for
        update_if(LockoutItem.keyed(username), [LockoutItem.failures.set(0), LockoutItem.locked_until.set(until),
                                             LockoutItem.expires_ttl.set(until + timedelta(days=1))],
                  LockoutItem.failures >= lock_after)
        return until

    def clear(self, username: str) -> None:
        LockoutItem.keyed(username).delete()
