"""What the services need from the world outside them, as Protocols: the stores, the
message sender, the secret box. ``adapters/`` holds the AWS implementations; tests may
hold others. Services import these, never an adapter.

A store's conditional write that loses raises ``StaleWrite``; a flow's guards raise
``FlowClosed``, ``AttemptsUsed`` or ``CapReached``. Writes that must happen in another
store's transaction travel as ``Completing``: opaque to the services, applied by the
store that runs the transaction.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Protocol

from securelogin.domain.guards import SendGuard
from securelogin.domain.models import (
    AppInstance,
    AuditEvent,
    Challenge,
    Device,
    DeviceRequest,
    DeviceStatus,
    DeviceType,
    Flow,
    FlowStatus,
    OutgoingMessage,
    PasswordLockout,
    Purpose,
    Push,
    Session,
    Share,
    ShareStatus,
    SlsMode,
    User,
)

# Writes added to a transaction that another store runs (a flow completing with it, the
# audit event of what the transaction does). Called with that transaction.
Completing = Callable[[Any], None]


def together(*writes: Completing | None) -> Completing:
    """Several sets of extra writes as one."""
    def add(transaction: Any) -> None:
        for write in writes:
            if write is not None:
                write(transaction)
    return add


class StaleWrite(Exception):
    """A conditional write lost: the item changed since it was read. ``failed_items``
    are the positions, in a transaction, of the writes whose condition failed."""

    def __init__(self, key: str, failed_items: tuple[int, ...] = ()) -> None:
        super().__init__(key)
        self.failed_items = failed_items


class AlreadyExists(Exception):
    pass


class NoSuchUser(Exception):
    pass


class FlowClosed(Exception):
    """The flow is no longer pending, or its challenge changed since it was read."""


class AttemptsUsed(Exception):
    """The flow has no attempts left."""


class CapReached(Exception):
    """Every slot of the user's cap holds an answer from inside the window."""

    def __init__(self, free_at: datetime) -> None:
        super().__init__(free_at)
        self.free_at = free_at


class PinLocked(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__(until)
        self.until = until


class DeliveryFailed(Exception):
    """A message was not taken for delivery."""


@dataclass(frozen=True)
class OutboxClaim:
    """What a delivery of an outbox message found: the message, now held by this delivery
    until it is marked sent or released; or None, with ``sent`` saying whether it already
    went out (True) or another delivery holds it (False: try again later)."""
    message: OutgoingMessage | None
    sent: bool = False


@dataclass(frozen=True)
class Reservation:
    """What an answer took before it was checked: a slot of the user's cap and one of
    the flow's attempts."""
    slot_user: str
    slot: str
    stamp: int  # epoch milliseconds
    attempts: int  # the flow's attempts, this one included


@dataclass(frozen=True)
class SlotChoice:
    """The slot of the user's cap an answer tries to take, stamped ``stamp`` (epoch
    milliseconds); the slot is free if its answer is at or before ``cutoff``."""
    slot: str
    stamp: int
    cutoff: int


def choose_answer_slot(slots: dict[str, int] | None, cap: int, now: datetime, window: timedelta) -> SlotChoice:
    """The rule every FlowStore applies to the cap's slots (``{slot: epoch ms}``): one of
    the free ones; with ``slots`` unread, one at random (the write's condition refuses it
    if it is in use). CapReached when every slot holds an answer from inside the window."""
    cutoff = _millis(now - window)
    if slots is None:
        free = [str(secrets.randbelow(cap))]
    else:
        free = [str(n) for n in range(cap) if slots.get(str(n), 0) <= cutoff]
        if not free:
            raise CapReached(datetime.fromtimestamp(min(slots.values()) / 1000, tz=now.tzinfo) + window)
    return SlotChoice(secrets.choice(free), _millis(now), cutoff)


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@dataclass
class UserPartition:
    """Everything a login needs about one username, read at once."""
    user: User | None
    sealed_identity: str | None
    lockout: PasswordLockout
    devices: list[Device] = field(default_factory=list)


class UserStore(Protocol):
    def create(self, user: User, sealed_identity: str, devices: list[Device], also: Completing) -> None: ...
    def partition(self, username: str, resolve_links: bool = True) -> UserPartition: ...
    def with_links_resolved(self, found: UserPartition) -> UserPartition: ...
    def get_user(self, username: str) -> User | None: ...
    def account_users(self, account_id: str) -> list[User]: ...
    def set_mode(self, username: str, mode: SlsMode, restrictions: list[str], also: Completing) -> None: ...


class DeviceStore(Protocol):
    def add(self, device: Device, temporary: list[Device] | None = None, revoke: tuple[Device, ...] = (),
            devices_version: int | None = None, also: Completing | None = None) -> None: ...
    def remove(self, device: Device, status: DeviceStatus, devices_version: int, also: Completing | None = None,
               release_reserve: bool = False) -> None: ...
    def set_status(self, device: Device, status: DeviceStatus, expected: tuple[DeviceStatus, ...],
                   also: Completing | None = None) -> None: ...
    def begin_temporary_access(self, device: Device, also: Completing | None = None) -> None: ...
    def make_permanent_active(self, device: Device, expected: tuple[DeviceStatus, ...], temporary: list[Device],
                              completing: Completing | None = None) -> None: ...
    def replace_secret(self, device: Device, sealed_secret: str, now: datetime, completing: Completing) -> None: ...
    def opening_pair(self, device: Device, value: str) -> Completing: ...
    def by_id(self, device_id: str) -> Device | None: ...
    def get(self, username: str, device_id: str) -> Device | None: ...


class LockoutStore(Protocol):
    def take_attempt(self, username: str, now: datetime, lock_after: int) -> PasswordLockout: ...
    def lock(self, username: str, now: datetime, lock_after: int, lock_for: timedelta) -> datetime: ...
    def clear(self, username: str) -> None: ...


class ThrottleStore(Protocol):
    def guard(self, username: str) -> SendGuard: ...
    def guard_writes(self, username: str, read: SendGuard, now: datetime, changed: SendGuard) -> Completing: ...
    def push_approved_writes(self, username: str, push_key: str) -> Completing: ...


class SessionStore(Protocol):
    def put(self, session: Session) -> None: ...
    def get(self, key: str) -> Session | None: ...
    def delete(self, key: str, also: Completing | None = None) -> None: ...
    def proving(self, key: str, now: datetime, device_type: DeviceType, device_id: str | None = None) -> Completing: ...


class OutboxStore(Protocol):
    def writes(self, username: str, message: OutgoingMessage, now: datetime, keep_for: timedelta,
               held_for: timedelta | None = None, committed: Callable[[str], None] | None = None) -> Completing: ...
    def claim(self, outbox_id: str, now: datetime, hold_for: timedelta) -> OutboxClaim: ...
    def mark_sent(self, outbox_id: str, now: datetime) -> None: ...
    def release(self, outbox_id: str) -> None: ...


class AuditStore(Protocol):
    def append(self, username: str, event: AuditEvent, keep_for: timedelta) -> None: ...
    def writes(self, username: str, event: AuditEvent, keep_for: timedelta) -> Completing: ...
    def newest_first(self, username: str, limit: int) -> list[AuditEvent]: ...


class FlowStore(Protocol):
    def create(self, flow: Flow, also: Completing | None = None) -> Flow: ...
    def restart(self, flow: Flow, also: Completing | None = None) -> Flow: ...
    def get(self, purpose: Purpose, key: str) -> Flow | None: ...
    def first_of(self, purposes: tuple[Purpose, ...], key: str) -> Flow | None: ...
    def set_challenge(self, flow: Flow, challenge: Challenge, also: Completing | None = None) -> None: ...
    def push(self, push_key: str) -> Push | None: ...
    def pushing(self, push: Push) -> Completing: ...
    def withdrawing(self, push_key: str, now: datetime) -> Completing: ...
    def answering(self, push: Push, now: datetime) -> Completing: ...
    def pushed_flow(self, push: Push) -> tuple[Flow | None, Device | None]: ...
    def run(self, key: str, *writes: Completing) -> None: ...
    def device_for_answer(self, username: str, device_id: str) -> tuple[Device | None, dict[str, int]]: ...
    def slots(self, username: str) -> dict[str, int]: ...
    def reserve_answer(self, flow: Flow, device: Device | None, slot_user: str, slots: dict[str, int] | None,
                       now: datetime, max_attempts: int, cap: int, window: timedelta,
                       answer_key: str | None = None) -> Reservation: ...
    def count_failure(self, device: Device, now: datetime, lock_after: int,
                      lock_for: timedelta) -> datetime | None: ...
    def forgive(self, device: Device | None, reservation: Reservation, now: datetime) -> None: ...
    def unreserve(self, flow: Flow, reservation: Reservation) -> None: ...
    def completing(self, flow: Flow, reservation: Reservation | None, now: datetime,
                   confirmed_by: Device | None = None, status: FlowStatus = FlowStatus.APPROVED) -> Completing: ...


class SessionGrants(Protocol):
    def approve(self, flow: Flow, reservation: Reservation, device: Device, session: Session, now: datetime,
                also: Completing) -> None: ...
    def hand_out(self, flow: Flow, session: Session, also: Completing) -> None: ...


class EnrolmentStore(Protocol):
    def app_instance(self, app_instance_id: str) -> AppInstance | None: ...
    def take_pin_attempt(self, instance: AppInstance, now: datetime, max_failures: int) -> None: ...
    def pin_was_right(self, instance: AppInstance) -> None: ...
    def lock_pin_if_due(self, instance: AppInstance, now: datetime, max_failures: int,
                        lock_for: timedelta) -> datetime | None: ...
    def enrol(self, flow: Flow, reservation: Reservation | None, now: datetime, device: Device,
              instance: AppInstance, new_instance: bool, revoke: list[Device], temporary: list[Device],
              devices_version: int, also: Completing) -> None: ...


class ShareStore(Protocol):
    def create(self, share: Share, also: Completing) -> None: ...
    def get(self, key: str) -> Share | None: ...
    def pending(self, limit: int = 100) -> list[Share]: ...
    def await_compliance(self, share: Share, completing: Completing) -> None: ...
    def approve(self, share: Share, expected_status: ShareStatus, link: Device, deactivate: list[Device],
                reason: str | None, completing: Completing | None = None) -> None: ...
    def reject(self, share: Share, reason: str, also: Completing) -> None: ...
    def cancel(self, share: Share, reactivate: list[str], also: Completing) -> None: ...


class DeviceRequestStore(Protocol):
    def create(self, request: DeviceRequest, also: Completing) -> None: ...
    def get(self, request_id: str) -> DeviceRequest | None: ...
    def fulfil(self, request: DeviceRequest, device: Device, also: Completing) -> None: ...


class LedgerStore(Protocol):
    def totals(self, username: str, since: date, until: date) -> dict[date, float]: ...
    def authorize(self, flow: Flow, amount: float, room_today: float | None, device: Device,
                  reservation: Reservation | None, now: datetime, also: Completing) -> None: ...


class MessageSender(Protocol):
    def send(self, message: OutgoingMessage) -> None: ...


class PushEndpoints(Protocol):
    def register(self, platform: str, push_token: str, app_instance_id: str) -> str | None: ...


class SecretBox(Protocol):
    """Seals values for storage; ``context`` names where a value lives, and opening under
    another context fails."""

    def seal(self, plaintext: bytes, context: str) -> str: ...
    def open(self, sealed: str, context: str) -> bytes: ...
