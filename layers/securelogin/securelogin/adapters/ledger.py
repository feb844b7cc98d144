"""What each user withdrew per UTC day, and the one write that authorizes a withdrawal."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from securelogin.adapters.flows import Reservation, complete_flow
from securelogin.adapters.stores import Completing, conditional_transaction
from securelogin.adapters.table import SpentItem, user_pk
from securelogin.domain.models import Device, Flow

KEEP = timedelta(days=21)


def _sk(day: date) -> str:
    return f"SPENT#{day.isoformat()}"


class LedgerStore:
    def totals(self, username: str, since: date, until: date) -> dict[date, float]:
        """USD authorized per day from ``since`` to ``until``, one Query."""
        items = SpentItem.query(user_pk(username), SpentItem.sk.between(_sk(since), _sk(until)), consistent_read=True)
        return {date.fromisoformat(i.sk.removeprefix("SPENT#")): float(i.total or 0) for i in items
                if isinstance(i, SpentItem)}

    def authorize(self, flow: Flow, amount: float, room_today: float | None, device: Device,
                  reservation: Reservation | None, now: datetime, also: Completing) -> None:
        """In one transaction: the withdrawal is approved and added to today's total, on
        the condition that today's total before it is at most ``room_today`` (None:
        unlimited). An atomic add, not a read-modify-write: concurrent withdrawals that
        fit all pass. StaleWrite when a condition failed (the total moved past the room, or
        the withdrawal changed: the caller reads which) or the write conflicted (no failed items)."""
        day = now.date()
        item = SpentItem(pk=user_pk(flow.username), sk=_sk(day))
        condition = None
        if room_today is not None:
            condition = SpentItem.total.does_not_exist() | (SpentItem.total <= room_today)
        with conditional_transaction(flow.key) as tx:
            tx.update(item, actions=[SpentItem.total.add(amount), SpentItem.kind.set(SpentItem),
                                     SpentItem.expires_ttl.set(now + KEEP)],
                      condition=condition)
            complete_flow(tx, flow, confirmed_by=device, reservation=reservation, now=now)
            also(tx)
