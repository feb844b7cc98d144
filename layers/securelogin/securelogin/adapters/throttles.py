"""Data access for the guards on messages sent to a user: one send per interval for each
purpose, and the user's send guard (challenges issued, pushes, denials: domain/guards.py)."""
from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.transactions import TransactWrite

from securelogin.adapters.dynamo import delete_if, update_if
from securelogin.adapters.table import SendGuardItem, ThrottleItem
from securelogin.domain.guards import SendGuard
from securelogin.domain.models import Purpose
from securelogin.ports import Completing

GUARD_KEPT = timedelta(days=1)  # longer than any window the guard counts over


class ThrottleStore:
    def reserve(self, username: str, purpose: Purpose, now: datetime, interval: timedelta) -> timedelta | None:
        """Reserves a send for ``purpose``. None when reserved; otherwise how long to wait."""
        if update_if(ThrottleItem.keyed(username, purpose.value),
                     [ThrottleItem.last_sent_at.set(now), ThrottleItem.kind.set(ThrottleItem),
                      ThrottleItem.expires_ttl.set(now + interval)],
                     ThrottleItem.last_sent_at.does_not_exist() | (ThrottleItem.last_sent_at <= now - interval)):
            return None
        current = ThrottleItem.find(username, purpose.value)
        if current is None:
            return timedelta(seconds=1)
        return max(timedelta(seconds=1), current.last_sent_at + interval - now)

    def release(self, username: str, purpose: Purpose, reserved_at: datetime) -> None:
        """Gives back a reservation whose message was not sent, if it is still ours."""
        delete_if(ThrottleItem.keyed(username, purpose.value), ThrottleItem.last_sent_at == reserved_at)

    def guard(self, username: str) -> SendGuard:
        item = SendGuardItem.find(username)
        if item is None:
            return SendGuard()
        return SendGuard(issued=tuple(int(v) for v in item.issued or ()),
                         pushes={k: int(v) for k, v in (item.pushes.as_dict() if item.pushes else {}).items()},
                         denials=tuple(int(v) for v in item.denials or ()), paused_until=item.paused_until,
                         version=int(item.version or 0))

    def guard_writes(self, username: str, read: SendGuard, now: datetime, changed: SendGuard) -> Completing:
        """``changed`` written whole, for a transaction, if the guard is still as ``read``."""
        condition = (SendGuardItem.pk.does_not_exist() if read.version == 0
                     else SendGuardItem.version == read.version)
        item = SendGuardItem.keyed(username, issued=list(changed.issued), pushes=dict(changed.pushes),
                                   denials=list(changed.denials), paused_until=changed.paused_until,
                                   version=read.version + 1, expires_ttl=now + GUARD_KEPT)

        def write(tx: TransactWrite) -> None:
            tx.save(item, condition=condition)
        return write

    def push_approved_writes(self, username: str, push_key: str) -> Completing:
        """An approved push gives its place back (and the guard's version moves on, so that
        a writer who read it with that place fails and reads again)."""
        def write(tx: TransactWrite) -> None:
            tx.update(SendGuardItem.keyed(username),
                      actions=[SendGuardItem.pushes[push_key].remove(), SendGuardItem.version.add(1)],
                      condition=SendGuardItem.pk.exists())
        return write
