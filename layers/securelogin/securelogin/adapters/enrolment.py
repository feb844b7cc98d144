"""Data access for IB Key enrolment: app instances and their PIN guard, and the one
transaction that completes an activation or recovery flow, adds the new IB Key and
revokes the user's previous one."""
from __future__ import annotations

from datetime import datetime, timedelta

from securelogin.adapters.devices import end_temporary_access, revoke_in
from securelogin.adapters.dynamo import conditional_transaction, lock_when_due, update_if
from securelogin.adapters.flows import complete_flow
from securelogin.adapters.records import device_item
from securelogin.adapters.table import AppInstanceItem, DeviceItem, FlowItem
from securelogin.domain.models import AppInstance, Device, Flow, lock_ends
from securelogin.ports import Completing, PinLocked, Reservation


def _instance_from(item: AppInstanceItem) -> AppInstance:
    return AppInstance(app_instance_id=item.app_instance_id, pin_hash=item.pin_hash, platform=item.platform,
                       created_at=item.created_at, push_endpoint=item.push_endpoint,
                       pin_failures=int(item.pin_failures or 0), pin_locked_until=item.pin_locked_until,
                       pin_lock_count=int(item.pin_lock_count or 0))


class EnrolmentStore:
    def app_instance(self, app_instance_id: str) -> AppInstance | None:
        item = AppInstanceItem.find(app_instance_id)
        return _instance_from(item) if item is not None else None

    # ------------------------------------------------------------------ the PIN guard

    def take_pin_attempt(self, instance: AppInstance, now: datetime, max_failures: int) -> None:
        """Counts a PIN guess before it is checked; PinLocked while the PIN is locked."""
        if update_if(AppInstanceItem.keyed(instance.app_instance_id), [AppInstanceItem.pin_failures.add(1)],
                     (AppInstanceItem.pin_locked_until.does_not_exist() | (AppInstanceItem.pin_locked_until <= now))
                     & (AppInstanceItem.pin_failures < max_failures)):
            return
        current = self.app_instance(instance.app_instance_id) or instance
        if current.pin_locked_until and current.pin_locked_until > now:
            raise PinLocked(current.pin_locked_until)
        raise PinLocked(now)  # a lock is being set by a concurrent guess

    def pin_was_right(self, instance: AppInstance) -> None:
        AppInstanceItem.keyed(instance.app_instance_id).update(actions=[AppInstanceItem.pin_failures.set(0)])

    def lock_pin_if_due(self, instance: AppInstance, now: datetime, max_failures: int,
                        lock_for: timedelta) -> datetime | None:
        until = lock_ends(now, lock_for, instance.pin_lock_count)
        locked = lock_when_due(AppInstanceItem.keyed(instance.app_instance_id), AppInstanceItem.pin_failures,
                               AppInstanceItem.pin_locked_until, AppInstanceItem.pin_lock_count, until, max_failures)
        return until if locked else None

    # ------------------------------------------------------------------ enrolment

    def enrol(self, flow: Flow, reservation: Reservation | None, now: datetime, device: Device,
              instance: AppInstance, new_instance: bool, revoke: list[Device], temporary: list[Device],
              devices_version: int, also: Completing) -> None:
        """Completes ``flow`` and enrols ``device`` on ``instance`` in one transaction, with
        ``also`` (the audit events),
        revoking the user's previous IB Keys and ending a temporary-code period. StaleWrite
        when the flow completed or changed meanwhile, the instance was made by another, or
        the user's devices changed since ``devices_version`` (another enrolment at once:
        its key would escape the revocation). The flow keeps ``device`` as the one that
        completed it (``confirmed_by``): the portal that showed a QR session reads it back, and
        the same request sent again after its answer was lost gets that device's answer."""
        enrolled = (FlowItem.confirmed_by.set(device.device_id),)
        with conditional_transaction(flow.key) as tx:
            complete_flow(tx, flow, reservation=reservation, now=now, extra=enrolled)
            tx.save(device_item(device), condition=DeviceItem.pk.does_not_exist())
            revoke_in(tx, revoke)
            end_temporary_access(tx, device.username, temporary, devices_version)
            also(tx)
            if new_instance:
                tx.save(AppInstanceItem.keyed(instance.app_instance_id, app_instance_id=instance.app_instance_id,
                                              pin_hash=instance.pin_hash, platform=instance.platform,
                                              push_endpoint=instance.push_endpoint, created_at=instance.created_at),
                        condition=AppInstanceItem.pk.does_not_exist())
            elif instance.push_endpoint:
                tx.update(AppInstanceItem.keyed(instance.app_instance_id),
                          actions=[AppInstanceItem.push_endpoint.set(instance.push_endpoint)],
                          condition=AppInstanceItem.pin_hash == instance.pin_hash)
