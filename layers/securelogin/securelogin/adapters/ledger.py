"""The withdrawal ledger: authorized amounts per day, written together with the approval."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from pynamodb.exceptions import TransactWriteError
from pynamodb.transactions import TransactWrite

from securelogin.adapters.stores import StaleWrite, failed_on_condition
from securelogin.adapters.table import DeviceItem, LedgerItem, LoginItem, connection, user_pk
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
        try:
            with TransactWrite(connection=connection()) as tx:
                tx.update(LoginItem(pk=f"LOGIN#{key}", sk="LOGIN"),
                          actions=[LoginItem.status.set(LoginStatus.APPROVED.value), LoginItem.challenge.remove()],
                          condition=(LoginItem.status == LoginStatus.PENDING.value)
                          & (LoginItem.challenge_version == version) & (LoginItem.attempts < max_attempts))
                tx.save(ledger)  # conditional on the version it was read at
                tx.update(DeviceItem(pk=user_pk(device.username), sk=f"DEVICE#{device.device_id}"),
                          actions=[DeviceItem.last_used_at.set(now), DeviceItem.consecutive_failures.set(0)],
                          condition=DeviceItem.pk.exists())
        except TransactWriteError as exc:
            if failed_on_condition(exc):
                raise StaleWrite(key) from exc
            raise
