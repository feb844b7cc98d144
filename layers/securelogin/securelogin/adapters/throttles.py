"""Data access for the user's send guard (challenges issued, pushes, denials, the resend
wait of codes by purpose: domain/guards.py), read once and written whole with the challenge."""
from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.transactions import TransactWrite

from securelogin.adapters.table import SendGuardItem
from securelogin.domain.guards import SendGuard
from securelogin.ports import Completing

GUARD_KEPT = timedelta(days=1)  # longer than any window the guard counts over


class ThrottleStore:
    def guard(self, username: str) -> SendGuard:
        item = SendGuardItem.find(username)
        if item is None:
            return SendGuard()
        return SendGuard(issued=tuple(int(v) for v in item.issued or ()),
                         pushes={k: int(v) for k, v in (item.pushes.as_dict() if item.pushes else {}).items()},
                         denials=tuple(int(v) for v in item.denials or ()), paused_until=item.paused_until,
                         sent={k: int(v) for k, v in (item.sent.as_dict() if item.sent else {}).items()},
                         version=int(item.version or 0))

    def guard_writes(self, username: str, read: SendGuard, now: datetime, changed: SendGuard) -> Completing:
        """``changed`` written whole, for a transaction, if the guard is still as ``read``."""
        condition = (SendGuardItem.pk.does_not_exist() if read.version == 0
                     else SendGuardItem.version == read.version)
        item = SendGuardItem.keyed(username, issued=list(changed.issued), pushes=dict(changed.pushes),
                                   denials=list(changed.denials), paused_until=changed.paused_until,
                                   sent=dict(changed.sent),
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
