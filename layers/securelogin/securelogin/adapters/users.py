"""Data access for users: creating one with their first devices, reading everything a
login needs about a username in one Query, and the one write to a user's profile."""
from __future__ import annotations

from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from securelogin.adapters.dynamo import conditional_transaction
from securelogin.adapters.records import device_from, device_item, user_from, user_item
from securelogin.adapters.table import AnswerSlotsItem, DeviceItem, Item, LockoutItem, UserItem, user_pk
from securelogin.domain.models import Device, PasswordLockout, SlsMode, User, through_link
from securelogin.ports import AlreadyExists, Completing, StaleWrite, UserPartition


class UserStore:
    def create(self, user: User, sealed_identity: str, devices: list[Device], also: Completing) -> None:
        """The user, their cap on answers, their first devices and ``also`` (the audit
        events), all or none: AlreadyExists when the username is taken."""
        try:
            with conditional_transaction(user.username) as tx:
                tx.save(user_item(user, sealed_identity), condition=UserItem.pk.does_not_exist())
                tx.save(AnswerSlotsItem.keyed(user.username))
                for device in devices:
                    tx.save(device_item(device), condition=DeviceItem.pk.does_not_exist())
                also(tx)
        except StaleWrite as exc:
            raise AlreadyExists(user.username) from exc

    def partition(self, username: str, resolve_links: bool = True) -> UserPartition:
        found = UserPartition(user=None, sealed_identity=None, lockout=PasswordLockout())
        for item in Item.query(user_pk(username), consistent_read=True):
            if isinstance(item, UserItem):
                found.user, found.sealed_identity = user_from(item), item.sealed_identity
            elif isinstance(item, LockoutItem):
                found.lockout = PasswordLockout(int(item.failures or 0), item.locked_until)
            elif isinstance(item, DeviceItem):
                found.devices.append(device_from(item))
        found.devices.sort(key=lambda d: d.created_at)
        return self.with_links_resolved(found) if resolve_links else found

    def with_links_resolved(self, found: UserPartition) -> UserPartition:
        found.devices = self._resolve_links(found.devices)
        return found

    @staticmethod
    def _resolve_links(devices: list[Device]) -> list[Device]:
        """Shared devices as their owners hold them (one BatchGetItem, only when there are links)."""
        links = [d for d in devices if d.shared_from is not None]
        if not links:
            return devices
        held = {(i.username, i.device_id): device_from(i) for i in DeviceItem.batch_get(
            [DeviceItem.key(d.holder, d.device_id) for d in links], consistent_read=True)}
        return [through_link(d, held.get((d.holder, d.device_id))) if d.shared_from else d for d in devices]

    def get_user(self, username: str) -> User | None:
        item = UserItem.find(username, consistent_read=False)
        return user_from(item) if item is not None else None

    def account_users(self, account_id: str) -> list[User]:
        return [user_from(item) for item in UserItem.gsi1.query(UserItem.account(account_id), limit=100)
                if isinstance(item, UserItem)]

    def set_mode(self, username: str, mode: SlsMode, restrictions: list[str], also: Completing) -> None:
        """The user's Secure Login mode, with ``also`` (its audit event) in the same write."""
        with conditional_transaction(username) as tx:
            update_profile(tx, username, actions=(UserItem.sls_mode.set(mode.value),
                                                  UserItem.restrictions.set(restrictions)))
            also(tx)


def update_profile(tx: TransactWrite, username: str, devices_version: int | None = None,
                   end_temporary: bool = False, actions: tuple[Action, ...] = ()) -> None:
    """In ``tx``, the one write to the user's profile: with ``devices_version``, the set
    of devices changes only if it is still the one read; ``end_temporary`` lets the user
    be given a temporary code again (a permanent device is back)."""
    changes = list(actions)
    condition = UserItem.pk.exists()
    if devices_version is not None:
        changes.append(UserItem.devices_version.add(1))
        condition &= (UserItem.devices_version == devices_version) if devices_version else \
            (UserItem.devices_version.does_not_exist() | (UserItem.devices_version == 0))
    if end_temporary:
        changes.append(UserItem.awaiting_permanent_device.set(False))
    if not changes:
        tx.condition_check(UserItem, *UserItem.key(username), condition=condition)
        return
    tx.update(UserItem.keyed(username), actions=changes, condition=condition)
