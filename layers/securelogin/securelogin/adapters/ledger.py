"""The withdrawal ledger: authorized amounts per day, written together with the approval."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from securelogin.adapters.stores import conditional_transaction, record_device_use, settle_pending
from securelogin.adapters.table import LedgerItem, user_pk
from securelogin.domain.models import Device, LoginStatus

KEEP = timedelta(days=21)


class LedgerStore:
    def load(self, username: str) -> tuple[dict[date, float], LedgerItem]:
        try:
            item = LedgerItem.get(user_pk(username), "LEDGER", consistent_read=True)
        except LedgerItem.DoesNotExist:
            item = LedgerItem(pk=user_pk(username), sk="LEDGER", days={})
        return {date.fromisoformat(k): float(v) for k, v in item.days.as_dict().items()}, item

    def authorize(self, key: str, version: int, max_attempts: int, ledger: LedgerItem, totals: dict[date, float],
                  device: Device, now: datetime) -> None:
        """Approves the withdrawal and records it in one transaction; StaleWrite if the
        withdrawal or the ledger changed since they were read."""
        oldest = (now - KEEP).date()
        ledger.days = {day.isoformat(): amount for day, amount in totals.items() if day >= oldest}
        with conditional_transaction(key) as tx:
            settle_pending(tx, key, version, LoginStatus.APPROVED, max_attempts)
            tx.save(ledger)  # conditional on the version it was read at
            record_device_use(tx, device, now)
