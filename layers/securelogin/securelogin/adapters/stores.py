"""Data access for users, devices, throttles, logins, sessions and the audit trail.

Every method takes and returns domain objects. Checks that guard a write are conditions
of that same write, so two concurrent requests cannot both pass them.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.transactions import TransactWrite

from securelogin.adapters.records import device_from, device_item, session_from, through_link, user_from, user_item
from securelogin.adapters.table import (
    AnswerSlotsItem,
    AuditItem,
    DeviceItem,
    Item,
    LockoutItem,
    PushGuardItem,
    SessionItem,
    ThrottleItem,
    UserItem,
    connection,
    user_pk,
)
from securelogin.domain.models import AuditEvent, Device, DeviceStatus, PasswordLockout, Session, User

# More writes for a transaction that another store runs (a flow completing with it, the
# audit event of what the transaction does).
Completing = Callable[[TransactWrite], None]


def together(*writes: Completing | None) -> Completing:
    """Several sets of extra writes as one."""
    def add(tx: TransactWrite) -> None:
        for write in writes:
            if write is not None:
                write(tx)
    return add


class AlreadyExists(Exception):
    pass


class NoSuchUser(Exception):
    pass


class StaleWrite(Exception):
    """A conditional write lost: the item changed since it was read. ``failed_items``
    are the positions, in a transaction, of the writes whose condition failed."""

    def __init__(self, key: str, failed_items: tuple[int, ...] = ()) -> None:
        super().__init__(key)
        self.failed_items = failed_items


def failed_on_condition(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) in ("ConditionalCheckFailedException",
                                                           "TransactionCanceledException")


# Cancellation reasons that mean "the items changed": anything else (a validation error) is a fault.
STALE_REASONS = {"None", "ConditionalCheckFailed", "TransactionConflict"}


@contextmanager
def conditional_transaction(key: str) -> Iterator[TransactWrite]:
    """A write transaction whose conditions guard it: if one fails, the items changed
    since they were read, and StaleWrite(key) says so."""
    try:
        with TransactWrite(connection=connection()) as tx:
            yield tx
    except TransactWriteError as exc:
        codes = [r.code if r is not None else "None" for r in (exc.cancellation_reasons or [])]
        if failed_on_condition(exc) and set(codes) <= STALE_REASONS:
            raise StaleWrite(key, tuple(i for i, code in enumerate(codes) if code == "ConditionalCheckFailed")) \
                from exc
        raise


@dataclass
class UserPartition:
    """Everything a login needs about one username, read with one Query."""
    user: User | None
    sealed_identity: str | None
    lockout: PasswordLockout
    devices: list[Device] = field(default_factory=list)


class UserStore:
    def create(self, user: User, sealed_identity: str, devices: list[Device], also: Completing) -> None:
        """The user, their cap on answers, their first devices and ``also`` (the audit
        events), all or none: AlreadyExists when the username is taken."""
        try:
            with conditional_transaction(user.username) as tx:
                tx.save(user_item(user, sealed_identity), condition=UserItem.pk.does_not_exist())
                tx.save(AnswerSlotsItem(pk=user_pk(user.username), sk="ANSWERS", slots={}))
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
            [(user_pk(d.holder), f"DEVICE#{d.device_id}") for d in links], consistent_read=True)}
        return [through_link(d, held.get((d.holder, d.device_id))) if d.shared_from else d for d in devices]

    def get_user(self, username: str) -> User | None:
        try:
            return user_from(UserItem.get(user_pk(username), "PROFILE"))
        except UserItem.DoesNotExist:
            return None

    def account_users(self, account_id: str) -> list[User]:
        return [user_from(item) for item in UserItem.gsi1.query(f"ACCOUNT#{account_id}", limit=100)
                if isinstance(item, UserItem)]

    def set_mode(self, username: str, mode: str, restrictions: list[str], also: Completing) -> None:
        """The user's Secure Login mode, with ``also`` (its audit event) in the same write."""
        with conditional_transaction(username) as tx:
            update_user(tx, username, actions=(UserItem.sls_mode.set(mode), UserItem.restrictions.set(restrictions)))
            also(tx)

    def add_device(self, device: Device, temporary: list[Device] | None = None, revoke: tuple[Device, ...] = (),
                   devices_version: int | None = None, also: Completing | None = None) -> None:
        """Adds a device to an existing user (NoSuchUser when there is no such user, or
        StaleWrite when ``devices_version`` moved). A permanent device ends the
        ``temporary`` devices' period; ``revoke`` end and ``also`` (the audit events) are
        written in the same transaction."""
        try:
            with conditional_transaction(device.username) as tx:
                update_user(tx, device.username, devices_version,
                            end_temporary=temporary is not None)
                revoke_in(tx, [*(temporary or []), *revoke])
                tx.save(device_item(device), condition=DeviceItem.pk.does_not_exist())
                if also is not None:
                    also(tx)
        except StaleWrite as exc:
            if devices_version is not None:
                raise
            raise NoSuchUser(device.username) from exc

    def remove_device(self, device: Device, status: DeviceStatus, devices_version: int) -> None:
        """An active device leaves the user's active set (removed or returned), if that
        set is still the one that was read: two removals at once cannot leave none."""
        with conditional_transaction(device.device_id) as tx:
            tx.update(DeviceItem(pk=user_pk(device.holder), sk=f"DEVICE#{device.device_id}"),
                      actions=[DeviceItem.status.set(status.value)],
                      condition=DeviceItem.status == device.status.value)
            update_user(tx, device.username, devices_version)

    def set_device_status(self, device: Device, status: DeviceStatus, expected: tuple[DeviceStatus, ...]) -> None:
        """Moves a device to ``status`` if it is still in one of the ``expected`` ones."""
        try:
            DeviceItem(pk=user_pk(device.holder), sk=f"DEVICE#{device.device_id}").update(
                actions=[DeviceItem.status.set(status.value)],
                condition=DeviceItem.status.is_in(*[s.value for s in expected]))
        except UpdateError as exc:
            if failed_on_condition(exc):
                raise StaleWrite(device.device_id) from exc
            raise

    def begin_temporary_access(self, device: Device) -> None:
        """Adds a temporary-code device and marks the user as awaiting a permanent one,
        unless they already are (no two temporary codes in a row): StaleWrite then."""
        user = UserItem(pk=user_pk(device.username), sk="PROFILE")
        with conditional_transaction(device.username) as tx:
            tx.update(user, actions=[UserItem.awaiting_permanent_device.set(True)],
                      condition=UserItem.pk.exists() & (UserItem.awaiting_permanent_device.does_not_exist()
                                                        | (UserItem.awaiting_permanent_device == False)))  # noqa: E712
            tx.save(device_item(device), condition=DeviceItem.pk.does_not_exist())

    def make_permanent_device_active(self, device: Device, expected: tuple[DeviceStatus, ...],
                                     temporary: list[Device], completing: Completing | None = None,
                                     ) -> None:
        """A permanent device becomes active: the temporary devices end and the user may
        be given a temporary code again, all in one transaction (with ``completing``, the
        flow whose answer activated it completes in it too)."""
        with conditional_transaction(device.device_id) as tx:
            tx.update(DeviceItem(pk=user_pk(device.holder), sk=f"DEVICE#{device.device_id}"),
                      actions=[DeviceItem.status.set(DeviceStatus.ACTIVE.value),
                               DeviceItem.consecutive_failures.set(0)],
                      condition=DeviceItem.status.is_in(*[s.value for s in expected]))
            end_temporary_access(tx, device.username, temporary)
            if completing is not None:
                completing(tx)

    def replace_secret(self, device: Device, sealed_secret: str, now: datetime, completing: Completing) -> None:
        """The device's secrets change (a new PIN) as the flow that proved the old ones completes."""
        with conditional_transaction(device.device_id) as tx:
            tx.update(DeviceItem(pk=user_pk(device.holder), sk=f"DEVICE#{device.device_id}"),
                      actions=[DeviceItem.sealed_secret.set(sealed_secret), DeviceItem.consecutive_failures.set(0),
                               DeviceItem.last_used_at.set(now)],
                      condition=DeviceItem.status == DeviceStatus.ACTIVE.value)
            completing(tx)

    def release_reserve(self, username: str, device_id: str) -> None:
        UserItem(pk=user_pk(username), sk="PROFILE").update(actions=[UserItem.reserves[device_id].remove()])

    def remember_challenge(self, device: Device, value: str) -> None:
        DeviceItem(pk=user_pk(device.holder), sk=f"DEVICE#{device.device_id}").update(
            actions=[DeviceItem.last_challenge.set(value)], condition=DeviceItem.pk.exists())

    def device_by_id(self, device_id: str) -> Device | None:
        """A device by its id alone (GSI1), for callers that know nothing else (the app)."""
        for item in DeviceItem.gsi1.query(f"DEVICE#{device_id}", DeviceItem.gsi1sk == "DEVICE", limit=1):
            return device_from(item)
        return None

    def get_device(self, username: str, device_id: str) -> Device | None:
        """One of the user's devices; a shared one as its owner holds it."""
        return held(read_device(username, device_id))

    def take_password_attempt(self, username: str, now: datetime, lock_after: int) -> PasswordLockout:
        """Counts a password guess *before* it is checked, while the username is not
        locked and fewer than ``lock_after`` guesses are counted: parallel guesses can
        never be checked more often than that. Returns the count with this guess; a
        refused guess returns the lock that refuses it (``locked_until`` set)."""
        item = LockoutItem(pk=user_pk(username), sk="LOCKOUT")
        try:
            item.update(actions=[LockoutItem.failures.add(1), LockoutItem.kind.set(LockoutItem),
                                 LockoutItem.expires_ttl.set(now + timedelta(days=1))],
                        condition=(LockoutItem.locked_until.does_not_exist() | (LockoutItem.locked_until <= now))
                        & (LockoutItem.failures.does_not_exist() | (LockoutItem.failures < lock_after)))
            return PasswordLockout(int(item.failures), None)
        except UpdateError as exc:
            if not failed_on_condition(exc):
                raise
        try:
            current = LockoutItem.get(item.pk, item.sk, consistent_read=True)
        except LockoutItem.DoesNotExist:
            current = item
        locked = current.locked_until if current.locked_until and current.locked_until > now else None
        return PasswordLockout(int(current.failures or 0), locked or now + timedelta(seconds=1))

    def lock_password(self, username: str, now: datetime, lock_after: int, lock_for: timedelta) -> datetime:
        """The guess that reached ``lock_after`` was wrong: the username locks, and the count starts again."""
        until = now + lock_for
        try:
            LockoutItem(pk=user_pk(username), sk="LOCKOUT").update(
                actions=[LockoutItem.failures.set(0), LockoutItem.locked_until.set(until),
                         LockoutItem.expires_ttl.set(until + timedelta(days=1))],
                condition=LockoutItem.failures >= lock_after)
        except UpdateError as exc:
            if not failed_on_condition(exc):
                raise
        return until

    def clear_password_failures(self, username: str) -> None:
        LockoutItem(pk=user_pk(username), sk="LOCKOUT").delete()


class ThrottleStore:
    def reserve(self, username: str, purpose: str, now: datetime, interval: timedelta) -> timedelta | None:
        """Reserves a send for ``purpose``. None when reserved; otherwise how long to wait."""
        item = ThrottleItem(pk=user_pk(username), sk=f"THROTTLE#{purpose}")
        try:
            item.update(actions=[ThrottleItem.last_sent_at.set(now), ThrottleItem.kind.set(ThrottleItem),
                                 ThrottleItem.expires_ttl.set(now + interval)],
                        condition=ThrottleItem.last_sent_at.does_not_exist()
                        | (ThrottleItem.last_sent_at <= now - interval))
            return None
        except UpdateError as exc:
            if not failed_on_condition(exc):
                raise
        try:
            last = ThrottleItem.get(item.pk, item.sk, consistent_read=True).last_sent_at
        except ThrottleItem.DoesNotExist:
            return timedelta(seconds=1)
        return max(timedelta(seconds=1), last + interval - now)

    def count_push(self, username: str, now: datetime, window: timedelta, limit: int) -> timedelta | None:
        """Counts a push about to be sent. None when allowed; otherwise how long until the
        guard's window ends. A window older than ``window`` starts afresh."""
        item = PushGuardItem(pk=user_pk(username), sk="PUSHES")
        try:
            item.update(actions=[PushGuardItem.window_start.set(now), PushGuardItem.unanswered.set(1),
                                 PushGuardItem.kind.set(PushGuardItem), PushGuardItem.expires_ttl.set(now + window)],
                        condition=PushGuardItem.window_start.does_not_exist()
                        | (PushGuardItem.window_start <= now - window))
            return None
        except UpdateError as exc:
            if not failed_on_condition(exc):
                raise
        try:
            item.update(actions=[PushGuardItem.unanswered.add(1)], condition=PushGuardItem.unanswered < limit)
            return None
        except UpdateError as exc:
            if not failed_on_condition(exc):
                raise
        started = PushGuardItem.get(item.pk, item.sk, consistent_read=True).window_start
        return max(timedelta(seconds=1), started + window - now)

    def push_answered(self, username: str) -> None:
        try:
            PushGuardItem(pk=user_pk(username), sk="PUSHES").update(
                actions=[PushGuardItem.unanswered.add(-1)], condition=PushGuardItem.unanswered > 0)
        except UpdateError as exc:
            if not failed_on_condition(exc):
                raise

    def release(self, username: str, purpose: str, reserved_at: datetime) -> None:
        """Gives back a reservation whose message was not sent, if it is still ours."""
        item = ThrottleItem(pk=user_pk(username), sk=f"THROTTLE#{purpose}")
        try:
            item.delete(condition=ThrottleItem.last_sent_at == reserved_at)
        except DeleteError as exc:
            if not failed_on_condition(exc):
                raise


def update_user(tx: TransactWrite, username: str, devices_version: int | None = None,
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
        tx.condition_check(UserItem, user_pk(username), "PROFILE", condition=condition)
        return
    tx.update(UserItem(pk=user_pk(username), sk="PROFILE"), actions=changes, condition=condition)


def end_temporary_access(tx: TransactWrite, username: str, temporary: list[Device],
                         devices_version: int | None = None) -> None:
    """In ``tx``: a permanent device was (re)activated, so the temporary devices end and
    the user may be given a temporary code again."""
    update_user(tx, username, devices_version, end_temporary=True)
    revoke_in(tx, temporary)


def revoke_in(tx: TransactWrite, devices: list[Device]) -> None:
    """In ``tx``: these devices end for good (replaced, or a temporary period over)."""
    for old in devices:
        tx.update(DeviceItem(pk=user_pk(old.holder), sk=f"DEVICE#{old.device_id}"),
                  actions=[DeviceItem.status.set(DeviceStatus.REVOKED.value)], condition=DeviceItem.pk.exists())


def read_device(username: str, device_id: str) -> Device | None:
    """The device item in ``username``'s partition as it is: a shared device's is a link."""
    try:
        return device_from(DeviceItem.get(user_pk(username), f"DEVICE#{device_id}", consistent_read=True))
    except DeviceItem.DoesNotExist:
        return None


def held(device: Device | None) -> Device | None:
    """A device as its holder keeps it: through its link when it is shared (one more read)."""
    if device is None or device.shared_from is None:
        return device
    return through_link(device, read_device(device.shared_from, device.device_id))


def session_item(session: Session) -> SessionItem:
    return SessionItem(pk=f"SESSION#{session.key}", sk="SESSION", username=session.username,
                       scope=session.scope.value, created_at=session.created_at, expires_at=session.expires_at,
                       device_id=session.device_id, expires_ttl=session.expires_at)


class SessionStore:
    def put(self, session: Session) -> None:
        session_item(session).save(condition=SessionItem.pk.does_not_exist())

    def get(self, key: str) -> Session | None:
        try:
            return session_from(SessionItem.get(f"SESSION#{key}", "SESSION"))
        except SessionItem.DoesNotExist:
            return None

    def delete(self, key: str) -> None:
        SessionItem(pk=f"SESSION#{key}", sk="SESSION").delete()


class AuditStore:
    @staticmethod
    def _item(username: str, event: AuditEvent, keep_for: timedelta) -> AuditItem:
        stamp = event.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return AuditItem(pk=f"AUDIT#{username}", sk=f"{stamp}#{secrets.token_hex(8)}", type=event.type,
                         at=event.at, details=event.details, expires_ttl=event.at + keep_for)

    def append(self, username: str, event: AuditEvent, keep_for: timedelta) -> None:
        item = self._item(username, event, keep_for)
        try:
            item.save(condition=AuditItem.pk.does_not_exist())
        except PutError as exc:
            if not failed_on_condition(exc):
                raise
            raise AlreadyExists(item.sk) from exc

    def writes(self, username: str, event: AuditEvent, keep_for: timedelta) -> Completing:
        """The event as a write of another store's transaction: it is recorded if, and
        only if, what it records happened."""
        item = self._item(username, event, keep_for)
        return lambda tx: tx.save(item, condition=AuditItem.pk.does_not_exist())

    def newest_first(self, username: str, limit: int) -> list[AuditEvent]:
        items = AuditItem.query(f"AUDIT#{username}", scan_index_forward=False, limit=limit)
        return [AuditEvent(at=i.at, type=i.type, details=dict(i.details.as_dict())) for i in items]
