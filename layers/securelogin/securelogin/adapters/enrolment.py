"""Data access for IB Key enrolment: tickets, app instances, and the one transaction that
spends a ticket, adds the new IB Key and revokes the user's previous one."""
from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.exceptions import UpdateError

from securelogin.adapters.records import device_item
from securelogin.adapters.stores import StaleWrite, conditional_transaction, failed_on_condition
from securelogin.adapters.table import AppInstanceItem, DeviceItem, TicketItem, user_pk
from securelogin.domain.models import AppInstance, Device, DeviceStatus, Ticket


def _ticket_from(item: TicketItem) -> Ticket:
    return Ticket(key=item.pk.removeprefix("TICKET#"), username=item.username, purpose=item.purpose,
                  expires_at=item.expires_at, used=bool(item.used), attempts=int(item.attempts or 0),
                  code_digest=item.code_digest, phone=item.phone, details=dict(item.details.as_dict()))


class EnrolmentStore:
    def create_ticket(self, ticket: Ticket) -> None:
        TicketItem(pk=f"TICKET#{ticket.key}", sk="TICKET", username=ticket.username, purpose=ticket.purpose,
                   expires_at=ticket.expires_at, code_digest=ticket.code_digest, phone=ticket.phone,
                   details=ticket.details, expires_ttl=ticket.expires_at + timedelta(days=1),
                   ).save(condition=TicketItem.pk.does_not_exist())

    def ticket(self, key: str) -> Ticket | None:
        try:
            return _ticket_from(TicketItem.get(f"TICKET#{key}", "TICKET", consistent_read=True))
        except TicketItem.DoesNotExist:
            return None

    def record_wrong_code(self, key: str, max_attempts: int) -> int:
        """Counts a wrong token; returns the attempts used (StaleWrite when none are left)."""
        item = TicketItem(pk=f"TICKET#{key}", sk="TICKET")
        try:
            item.update(actions=[TicketItem.attempts.add(1)],
                        condition=(TicketItem.used == False) & (TicketItem.attempts < max_attempts))  # noqa: E712
        except UpdateError as exc:
            if failed_on_condition(exc):
                raise StaleWrite(key) from exc
            raise
        return int(item.attempts)

    def app_instance(self, app_instance_id: str) -> AppInstance | None:
        try:
            item = AppInstanceItem.get(f"APP#{app_instance_id}", "INSTANCE", consistent_read=True)
        except AppInstanceItem.DoesNotExist:
            return None
        return AppInstance(app_instance_id=item.app_instance_id, pin_hash=item.pin_hash, platform=item.platform,
                           created_at=item.created_at, push_endpoint=item.push_endpoint)

    def enrol(self, ticket: Ticket, now: datetime, max_attempts: int, device: Device, instance: AppInstance,
              new_instance: bool, revoke: list[Device]) -> None:
        """Spends ``ticket`` and enrols ``device`` on ``instance`` in one transaction,
        revoking the user's previous IB Keys. StaleWrite when the ticket was spent,
        expired or exhausted meanwhile, or the instance was created by someone else."""
        ticket_item = TicketItem(pk=f"TICKET#{ticket.key}", sk="TICKET")
        with conditional_transaction(ticket.key) as tx:
            tx.update(ticket_item, actions=[TicketItem.used.set(True)],
                      condition=(TicketItem.used == False) & (TicketItem.expires_at > now)  # noqa: E712
                      & (TicketItem.attempts < max_attempts))
            tx.save(device_item(device), condition=DeviceItem.pk.does_not_exist())
            for old in revoke:
                tx.update(DeviceItem(pk=user_pk(old.username), sk=f"DEVICE#{old.device_id}"),
                          actions=[DeviceItem.status.set(DeviceStatus.REVOKED.value)],
                          condition=DeviceItem.pk.exists())
            if new_instance:
                tx.save(AppInstanceItem(pk=f"APP#{instance.app_instance_id}", sk="INSTANCE",
                                        app_instance_id=instance.app_instance_id, pin_hash=instance.pin_hash,
                                        platform=instance.platform, push_endpoint=instance.push_endpoint,
                                        created_at=instance.created_at),
                        condition=AppInstanceItem.pk.does_not_exist())
            elif instance.push_endpoint:
                tx.update(AppInstanceItem(pk=f"APP#{instance.app_instance_id}", sk="INSTANCE"),
                          actions=[AppInstanceItem.push_endpoint.set(instance.push_endpoint)],
                          condition=AppInstanceItem.pin_hash == instance.pin_hash)
