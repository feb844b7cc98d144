"""Data access for second-factor devices: adding, activating, removing and revoking them,
each with the write to the user's profile that keeps the set of devices consistent.

A device shared with another username is a link in that user's partition; its state
(status, lock, failures, secrets) stays in the owner's item, which ``held`` reads.
"""
from __future__ import annotations

from datetime import datetime

from pynamodb.transactions import TransactWrite

from securelogin.adapters.dynamo import conditional_transaction
from securelogin.adapters.records import device_from, device_item
from securelogin.adapters.table import DeviceItem, UserItem
from securelogin.adapters.users import update_profile
from securelogin.domain.models import Device, DeviceStatus, through_link
from securelogin.ports import Completing, NoSuchUser, StaleWrite


def _state(device: Device) -> DeviceItem:
    """The item that holds the device's state: the owner's, for a shared device."""
    return DeviceItem.keyed(device.holder, device.device_id)


class DeviceStore:
    def add(self, device: Device, temporary: list[Device] | None = None, revoke: tuple[Device, ...] = (),
            devices_version: int | None = None, also: Completing | None = None) -> None:
        """Adds a device to an existing user (NoSuchUser when there is no such user, or
        StaleWrite when ``devices_version`` moved). A permanent device ends the
        ``temporary`` devices' period; ``revoke`` end and ``also`` (the audit events) are
        written in the same transaction."""
        try:
            with conditional_transaction(device.username) as tx:
                update_profile(tx, device.username, devices_version, end_temporary=temporary is not None)
                revoke_in(tx, [*(temporary or []), *revoke])
                tx.save(device_item(device), condition=DeviceItem.pk.does_not_exist())
                if also is not None:
                    also(tx)
        except StaleWrite as exc:
            if devices_version is not None:
                raise
            raise NoSuchUser(device.username) from exc

    def remove(self, device: Device, status: DeviceStatus, devices_version: int, also: Completing | None = None,
               release_reserve: bool = False) -> None:
        """An active device leaves the user's active set (removed or returned), if that
        set is still the one that was read: two removals at once cannot leave none. What the
        device held back from withdrawals (a DSC+ fee) is let go in the same write."""
        with conditional_transaction(device.device_id) as tx:
            tx.update(_state(device), actions=[DeviceItem.status.set(status.value)],
                      condition=DeviceItem.status == device.status.value)
            update_profile(tx, device.username, devices_version,
                           actions=(UserItem.reserves[device.device_id].remove(),) if release_reserve else ())
            if also is not None:
                also(tx)

    def set_status(self, device: Device, status: DeviceStatus, expected: tuple[DeviceStatus, ...],
                   also: Completing | None = None) -> None:
        """Moves a device to ``status`` if it is still in one of the ``expected`` ones, with
        ``also`` (its audit event and notice) in the same transaction."""
        with conditional_transaction(device.device_id) as tx:
            tx.update(_state(device), actions=[DeviceItem.status.set(status.value)],
                      condition=DeviceItem.status.is_in(*[s.value for s in expected]))
            if also is not None:
                also(tx)

    def begin_temporary_access(self, device: Device, also: Completing | None = None) -> None:
        """Adds a temporary-code device and marks the user as awaiting a permanent one,
        unless they already are (no two temporary codes in a row): StaleWrite then. ``also``
        (its audit event and notice) is written in the same transaction."""
        with conditional_transaction(device.username) as tx:
            if also is not None:
                also(tx)
            tx.update(UserItem.keyed(device.username), actions=[UserItem.awaiting_permanent_device.set(True)],
                      condition=UserItem.pk.exists() & (UserItem.awaiting_permanent_device.does_not_exist()
                                                        | (UserItem.awaiting_permanent_device == False)))  # noqa: E712
            tx.save(device_item(device), condition=DeviceItem.pk.does_not_exist())

    def make_permanent_active(self, device: Device, expected: tuple[DeviceStatus, ...], temporary: list[Device],
                              completing: Completing | None = None) -> None:
        """A permanent device becomes active: the temporary devices end and the user may
        be given a temporary code again, all in one transaction (with ``completing``, the
        flow whose answer activated it completes in it too)."""
        with conditional_transaction(device.device_id) as tx:
            tx.update(_state(device), actions=[DeviceItem.status.set(DeviceStatus.ACTIVE.value),
                                               DeviceItem.consecutive_failures.set(0)],
                      condition=DeviceItem.status.is_in(*[s.value for s in expected]))
            end_temporary_access(tx, device.username, temporary)
            if completing is not None:
                completing(tx)

    def replace_secret(self, device: Device, sealed_secret: str, now: datetime, completing: Completing) -> None:
        """The device's secrets change (a new PIN) as the flow that proved the old ones completes."""
        with conditional_transaction(device.device_id) as tx:
            tx.update(_state(device), actions=[DeviceItem.sealed_secret.set(sealed_secret),
                                               DeviceItem.consecutive_failures.set(0),
                                               DeviceItem.last_used_at.set(now)],
                      condition=DeviceItem.status == DeviceStatus.ACTIVE.value)
            completing(tx)

    def opening_pair(self, device: Device, value: str) -> Completing:
        """A code card's new open pair, for the transaction that issues its challenge, if
        the card still has the pair it was read with (of racing challenges, one draws)."""
        def write(tx: TransactWrite) -> None:
            held_pair = (DeviceItem.open_pair.does_not_exist() if device.open_pair is None
                         else DeviceItem.open_pair == device.open_pair)
            tx.update(_state(device), actions=[DeviceItem.open_pair.set(value)],
                      condition=DeviceItem.pk.exists() & held_pair)
        return write

    def by_id(self, device_id: str) -> Device | None:
        """A device by its id alone (GSI1), for callers that know nothing else (the app)."""
        for item in DeviceItem.gsi1.query(DeviceItem.by_id(device_id), DeviceItem.gsi1sk == DeviceItem.INDEXED,
                                          limit=1):
            return device_from(item)
        return None

    def get(self, username: str, device_id: str) -> Device | None:
        """One of the user's devices; a shared one as its owner holds it."""
        return held(read_device(username, device_id))


def end_temporary_access(tx: TransactWrite, username: str, temporary: list[Device],
                         devices_version: int | None = None) -> None:
    """In ``tx``: a permanent device was (re)activated, so the temporary devices end and
    the user may be given a temporary code again."""
    update_profile(tx, username, devices_version, end_temporary=True)
    revoke_in(tx, temporary)


def revoke_in(tx: TransactWrite, devices: list[Device]) -> None:
    """In ``tx``: these devices end for good (replaced, or a temporary period over)."""
    for old in devices:
        tx.update(_state(old), actions=[DeviceItem.status.set(DeviceStatus.REVOKED.value)],
                  condition=DeviceItem.pk.exists())


def read_device(username: str, device_id: str) -> Device | None:
    """The device item in ``username``'s partition as it is: a shared device's is a link."""
    item = DeviceItem.find(username, device_id)
    return device_from(item) if item is not None else None


def held(device: Device | None) -> Device | None:
    """A device as its holder keeps it: through its link when it is shared (one more read)."""
    if device is None or device.shared_from is None:
        return device
    return through_link(device, read_device(device.shared_from, device.device_id))
