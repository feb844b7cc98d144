"""What each user withdrew per UTC day, and the one write that authorizes a withdrawal."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from securelogin.adapters.dynamo import conditional_transaction
from securelogin.adapters.flows import complete_flow
from securelogin.adapters.table import SpentItem, user_pk
from securelogin.domain.models import Device, Flow
from securelogin.ports import Completing, Reservation

KEEP = timedelta(days=21)


class LedgerStore:
    def totals(self, username: str, since: date, until: date) -> dict[date, float]:
        """USD authorized per day from ``since`` to ``until``, one Query."""
        first, last = SpentItem.key(username, since)[1], SpentItem.key(username, until)[1]
        items = SpentItem.query(user_pk(username), SpentItem.sk.between(first, last), consistent_read=True)
        return {i.day: float(i.total or 0) for i in items if isinstance(i, SpentItem)}

    def authorize(self, flow: Flow, amount: float, room_today: float | None, device: Device,
                  reservation: Reservation | None, now: datetime, also: Completing) -> None:
        """In one transaction: the withdrawal is approved and added to today's total, on
        the condition that today's total before it is at most ``room_today`` (None:
        unlimited). An atomic add, not a read-modify-write: concurrent withdrawals that
        fit all pass. StaleWrite when a condition failed (the total moved past the room, or
        the withdrawal changed: the caller reads which) or the write conflicted (no failed items)."""
        item = SpentItem.keyed(flow.username, now.date())
        condition = None
        if room_today is not None:
            condition = SpentItem.total.does_not_exist() | (SpentItem.total <= room_today)
        with conditional_transaction(flow.key) as tx:
            tx.update(item, actions=[SpentItem.total.add(amount), SpentItem.kind.set(SpentItem),
                                     SpentItem.expires_ttl.set(now + KEEP)],
                      condition=condition)
            complete_flow(tx, flow, confirmed_by=device, reservation=reservation, now=now)
            also(tx)
