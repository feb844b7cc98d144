"""In-memory implementations of every port (``securelogin.ports``), so that the services
can be unit-tested without moto; ``fake_services`` wires the services over them.

The fakes keep what the services rely on from the DynamoDB adapters, write for write:
the same conditions, the same values returned and the same exceptions raised in the
same situations. Every store works on one ``FakeTable`` (a write may span stores, as an
item in DynamoDB may be written by any of them), and a store that runs a transaction
runs a ``FakeTransaction``: the ``Completing`` writes of other stores (a flow completing,
an audit event) are staged on it and applied only if every condition holds.

What they leave out, on purpose: TTL expiry (items the adapters let DynamoDB expire
stay until overwritten); eventual consistency (GSI queries and non-consistent reads see
every write at once); concurrency (a test interleaves by calling a service from inside a
fake's write); attributes that are absent rather than default (a flow made by
``restart`` counts as not handed out); DynamoDB's type round trip (an audit detail comes
back exactly as written); AWS faults and validation errors, but for two writes to one
item in a transaction (ValueError). A single conditional write whose failure the adapter
lets through as pynamodb's error raises ``ConditionFailed`` here.
"""
from __future__ import annotations

import base64
import binascii
import copy
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from securelogin.clock import Clock
from securelogin.crypto.envelope import SealedValueError
from securelogin.domain.factors.code_card import OPEN_PAIR
from securelogin.domain.factors.ocra_card import CARD_SUITE
from securelogin.domain.factors.passkey import RelyingParty
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.guards import SendGuard
from securelogin.domain.models import (
    AppInstance,
    AuditEvent,
    Challenge,
    Device,
    DeviceRequest,
    DeviceRequestStatus,
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
    lock_ends,
    through_link,
)
from securelogin.policy import Policy
from securelogin.ports import (
    AlreadyExists,
    AttemptsUsed,
    Completing,
    DeliveryFailed,
    FlowClosed,
    NoSuchUser,
    OutboxClaim,
    PinLocked,
    Reservation,
    StaleWrite,
    UserPartition,
    choose_answer_slot,
)
from securelogin.retries import current_request
from securelogin.runtime import Outside, Services, wire_services
from securelogin.services.device_common import card_pin_sha1_hex
from securelogin.services.users import NewUser

Item = tuple[str, ...]  # what a staged write writes: one item of the table, as ("DEVICE", username, device_id)


class ConditionFailed(Exception):
    """A single conditional write whose failure the adapter does not turn into an answer
    (pynamodb's PutError or UpdateError goes up as a fault): a flow id or session key
    that collides, a device that vanished under ``count_failure``."""


# ---------------------------------------------------------------------- the table and its transactions

class FakeTransaction:
    """Writes staged by a store and by the ``Completing`` callables it is given, applied
    all or none: every condition is checked against the table as it was before any of
    them; if one fails, nothing is applied and StaleWrite names the positions that
    failed. Two writes to one item are refused, as DynamoDB refuses them."""

    def __init__(self) -> None:
        self._writes: list[tuple[Callable[[], bool], Callable[[], None] | None]] = []
        self._items: set[Item] = set()
        self.after_commit: list[Callable[[], None]] = []  # ``dynamo.after_commit``

    def stage(self, item: Item, condition: Callable[[], bool] | None = None,
              apply: Callable[[], None] | None = None) -> None:
        """One write of ``item`` (or, without ``apply``, a condition check on it)."""
        if item in self._items:
            raise ValueError(f"two writes to {item} in one transaction")
        self._items.add(item)
        self._writes.append((condition or (lambda: True), apply))

    def commit(self, key: str) -> None:
        failed = tuple(i for i, (condition, _) in enumerate(self._writes) if not condition())
        if failed:
            raise StaleWrite(key, failed)
        for _, apply in self._writes:
            if apply is not None:
                apply()
        for action in self.after_commit:
            action()


@contextmanager
def transaction(key: str) -> Iterator[FakeTransaction]:
    """``dynamo.conditional_transaction``: committed when the block ends without raising."""
    tx = FakeTransaction()
    yield tx
    tx.commit(key)


class FakeTable:
    """Every item, by kind, and the writes several stores make (``table.py``'s key
    design: a device lives in its user's partition; a shared one is a link there and
    its state stays in the owner's item). Reads hand out copies, as a read of DynamoDB
    does."""

    def __init__(self) -> None:
        self.users: dict[str, User] = {}
        self.identities: dict[str, str] = {}
        self.lockouts: dict[str, PasswordLockout] = {}
        self.devices: dict[tuple[str, str], Device] = {}
        self.answer_slots: dict[str, dict[str, int]] = {}
        self.send_guards: dict[str, SendGuard] = {}  # what was sent lately (domain/guards.py), by username
        self.flows: dict[tuple[Purpose, str], Flow] = {}
        self.pushes: dict[str, Push] = {}  # by the lookup key of the push id
        self.sessions: dict[str, Session] = {}
        self.audit: dict[str, dict[str, AuditEvent]] = {}  # username -> sort key -> event
        self.app_instances: dict[str, AppInstance] = {}
        self.requests: dict[str, DeviceRequest] = {}
        self.shares: dict[str, Share] = {}
        self.pending_shares: dict[str, str] = {}  # GSI1 SHARES#pending_compliance: share key -> created at
        self.spent: dict[tuple[str, date], float] = {}
        self.outbox: dict[str, FakeOutboxEntry] = {}  # by outbox id, in the order written (the stream)

    # ------------------------------------------------------------------ devices

    def read_device(self, username: str, device_id: str) -> Device | None:
        """The device item in ``username``'s partition as it is (a link, for a shared one)."""
        stored = self.devices.get((username, device_id))
        return copy.deepcopy(stored) if stored is not None else None

    def held(self, device: Device | None) -> Device | None:
        """A device as its holder keeps it: through its link when it is shared."""
        if device is None or device.shared_from is None:
            return device
        return through_link(device, self.read_device(device.shared_from, device.device_id))

    def state(self, device: Device) -> tuple[str, str]:
        """The key of the item that holds the device's state: the owner's, for a shared one."""
        return device.holder, device.device_id

    def stage_new_device(self, tx: FakeTransaction, device: Device) -> None:
        key = (device.username, device.device_id)
        tx.stage(("DEVICE", *key), lambda: key not in self.devices,
                 lambda: self.devices.__setitem__(key, copy.deepcopy(device)))

    def stage_device_update(self, tx: FakeTransaction, key: tuple[str, str], change: Callable[[Device], None],
                            condition: Callable[[Device], bool] = lambda d: True) -> None:
        """An update of an existing device item (every such update is conditional on it)."""
        tx.stage(("DEVICE", *key), lambda: key in self.devices and condition(self.devices[key]),
                 lambda: change(self.devices[key]))

    def stage_revoke(self, tx: FakeTransaction, devices: list[Device]) -> None:
        """``devices.revoke_in``: these devices end for good."""
        for old in devices:
            self.stage_device_update(tx, self.state(old), _set_status(DeviceStatus.REVOKED))

    # ------------------------------------------------------------------ the user's profile

    def stage_profile(self, tx: FakeTransaction, username: str, devices_version: int | None = None,
                      end_temporary: bool = False, change: Callable[[User], None] | None = None) -> None:
        """``users.update_profile``: the one write to the profile; with ``devices_version``
        the set of devices changes only if it is still the one read."""
        def holds() -> bool:
            user = self.users.get(username)
            return user is not None and (devices_version is None or user.devices_version == devices_version)

        def apply() -> None:
            user = self.users[username]
            if change is not None:
                change(user)
            if devices_version is not None:
                user.devices_version += 1
            if end_temporary:
                user.awaiting_permanent_device = False

        writes = change is not None or devices_version is not None or end_temporary
        tx.stage(("USER", username), holds, apply if writes else None)

    # ------------------------------------------------------------------ flows

    def stage_complete_flow(self, tx: FakeTransaction, flow: Flow, status: FlowStatus = FlowStatus.APPROVED,
                            confirmed_by: Device | None = None, reservation: Reservation | None = None,
                            now: datetime | None = None, hand_out: bool = False,
                            extra: Callable[[Flow], None] | None = None) -> None:
        """``flows.complete_flow``: the pending flow, at the version it was read, ends as
        ``status``, once (with ``extra``'s changes); a right answer gives back what it took,
        a push approval records the device's use."""
        key = (flow.purpose, flow.key)

        def pending() -> bool:
            stored = self.flows.get(key)
            return stored is not None and stored.status == FlowStatus.PENDING and stored.version == flow.version

        request = current_request.get()

        def complete() -> None:
            stored = self.flows[key]
            stored.status, stored.challenge = status, None
            if request is not None:
                stored.completed_by_request = request
            if hand_out:
                stored.session_handed_out = True
            if confirmed_by is not None:
                stored.confirmed_by = confirmed_by.device_id
            if extra is not None:
                extra(stored)

        tx.stage(("FLOW", *key), pending, complete)
        if reservation is not None:
            assert now is not None
            self.stage_give_back(tx, confirmed_by, reservation, now,
                                 flow.challenge.check_data.get(OPEN_PAIR) if flow.challenge else None)
        elif confirmed_by is not None and status == FlowStatus.APPROVED:
            assert now is not None
            self.stage_device_update(tx, self.state(confirmed_by), _set(last_used_at=now))

    def stage_give_back(self, tx: FakeTransaction, device: Device | None, reservation: Reservation,
                        now: datetime, answered_pair: str | None = None) -> None:
        """A right answer gives back its slot of the cap and resets the device's failures; a
        code card's open pair it answered closes (only that pair: the next challenge draws anew)."""
        if device is not None:
            if answered_pair:
                self.stage_device_update(tx, self.state(device),
                                         _set(last_used_at=now, consecutive_failures=0, open_pair=None),
                                         lambda d: d.open_pair in (None, answered_pair))
            elif device.sign_count is not None:  # a passkey's counter, as its right answer saw it: never backwards
                self.stage_device_update(tx, self.state(device),
                                         _set(last_used_at=now, consecutive_failures=0, sign_count=device.sign_count),
                                         lambda d: d.sign_count is None or d.sign_count <= device.sign_count)
            else:
                self.stage_device_update(tx, self.state(device), _set(last_used_at=now, consecutive_failures=0))
        tx.stage(("ANSWERS", reservation.slot_user), None,
                 lambda: self.answer_slots.setdefault(reservation.slot_user, {}).pop(reservation.slot, None))

    # ------------------------------------------------------------------ sessions

    def stage_new_session(self, tx: FakeTransaction, session: Session) -> None:
        tx.stage(("SESSION", session.key), lambda: session.key not in self.sessions,
                 lambda: self.sessions.__setitem__(session.key, copy.deepcopy(session)))


def _set(**values: object) -> Callable[[object], None]:
    def change(item: object) -> None:
        for name, value in values.items():
            setattr(item, name, value)
    return change


def _set_status(status: DeviceStatus) -> Callable[[Device], None]:
    return _set(status=status)


# ---------------------------------------------------------------------- the stores

class FakeUserStore:
    """Users with their answer slots and first devices; a username's partition in one read."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def create(self, user: User, sealed_identity: str, devices: list[Device], also: Completing) -> None:
        t = self._t

        def put() -> None:
            t.users[user.username] = replace(copy.deepcopy(user), devices_version=0)
            t.identities[user.username] = sealed_identity

        try:
            with transaction(user.username) as tx:
                tx.stage(("USER", user.username), lambda: user.username not in t.users, put)
                tx.stage(("ANSWERS", user.username), None, lambda: t.answer_slots.__setitem__(user.username, {}))
                for device in devices:
                    t.stage_new_device(tx, device)
                also(tx)
        except StaleWrite as exc:
            raise AlreadyExists(user.username) from exc

    def partition(self, username: str, resolve_links: bool = True) -> UserPartition:
        t = self._t
        user = t.users.get(username)
        lockout = t.lockouts.get(username)
        found = UserPartition(user=copy.deepcopy(user), sealed_identity=t.identities.get(username),
                              lockout=copy.deepcopy(lockout) if lockout else PasswordLockout())
        found.devices = sorted((copy.deepcopy(d) for (owner, _), d in t.devices.items() if owner == username),
                               key=lambda d: (d.created_at, d.device_id))
        return self.with_links_resolved(found) if resolve_links else found

    def with_links_resolved(self, found: UserPartition) -> UserPartition:
        found.devices = [self._t.held(d) or d for d in found.devices]
        return found

    def get_user(self, username: str) -> User | None:
        return copy.deepcopy(self._t.users.get(username))

    def account_users(self, account_id: str) -> list[User]:
        return [copy.deepcopy(u) for _, u in sorted(self._t.users.items()) if u.account_id == account_id][:100]

    def set_mode(self, username: str, mode: SlsMode, restrictions: list[str], also: Completing) -> None:
        with transaction(username) as tx:
            self._t.stage_profile(tx, username, change=_set(sls_mode=mode, restrictions=list(restrictions)))
            also(tx)

    def release_reserve(self, username: str, device_id: str) -> None:
        user = self._t.users.get(username)
        if user is not None:
            user.reserves.pop(device_id, None)


class FakeDeviceStore:
    """Devices, each write with the profile write that keeps the set of devices consistent."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def add(self, device: Device, temporary: list[Device] | None = None, revoke: tuple[Device, ...] = (),
            devices_version: int | None = None, also: Completing | None = None) -> None:
        t = self._t
        try:
            with transaction(device.username) as tx:
                t.stage_profile(tx, device.username, devices_version, end_temporary=temporary is not None)
                t.stage_revoke(tx, [*(temporary or []), *revoke])
                t.stage_new_device(tx, device)
                if also is not None:
                    also(tx)
        except StaleWrite as exc:
            if devices_version is not None:
                raise
            raise NoSuchUser(device.username) from exc

    def remove(self, device: Device, status: DeviceStatus, devices_version: int, also: Completing | None = None,
               release_reserve: bool = False) -> None:
        def let_go(user: User) -> None:
            user.reserves.pop(device.device_id, None)

        with transaction(device.device_id) as tx:
            self._t.stage_device_update(tx, self._t.state(device), _set_status(status),
                                        lambda d: d.status == device.status)
            self._t.stage_profile(tx, device.username, devices_version, change=let_go if release_reserve else None)
            if also is not None:
                also(tx)

    def set_status(self, device: Device, status: DeviceStatus, expected: tuple[DeviceStatus, ...],
                   also: Completing | None = None) -> None:
        with transaction(device.device_id) as tx:
            self._t.stage_device_update(tx, self._t.state(device), _set_status(status),
                                        lambda d: d.status in expected)
            if also is not None:
                also(tx)

    def begin_temporary_access(self, device: Device, also: Completing | None = None) -> None:
        t = self._t
        with transaction(device.username) as tx:
            if also is not None:
                also(tx)
            tx.stage(("USER", device.username),
                     lambda: device.username in t.users and not t.users[device.username].awaiting_permanent_device,
                     lambda: _set(awaiting_permanent_device=True)(t.users[device.username]))
            t.stage_new_device(tx, device)

    def make_permanent_active(self, device: Device, expected: tuple[DeviceStatus, ...], temporary: list[Device],
                              completing: Completing | None = None) -> None:
        t = self._t
        with transaction(device.device_id) as tx:
            t.stage_device_update(tx, t.state(device), _set(status=DeviceStatus.ACTIVE, consecutive_failures=0),
                                  lambda d: d.status in expected)
            t.stage_profile(tx, device.username, end_temporary=True)
            t.stage_revoke(tx, temporary)
            if completing is not None:
                completing(tx)

    def replace_secret(self, device: Device, sealed_secret: str, now: datetime, completing: Completing) -> None:
        t = self._t
        with transaction(device.device_id) as tx:
            t.stage_device_update(tx, t.state(device),
                                  _set(sealed_secret=sealed_secret, consecutive_failures=0, last_used_at=now),
                                  lambda d: d.status == DeviceStatus.ACTIVE)
            completing(tx)

    def opening_pair(self, device: Device, value: str) -> Completing:
        """A code card's new open pair, for the transaction that issues its challenge, if the
        card still holds the pair it was read with."""
        def stage(tx: FakeTransaction) -> None:
            self._t.stage_device_update(tx, self._t.state(device), _set(open_pair=value),
                                        lambda d: d.open_pair == device.open_pair)
        return stage

    def by_id(self, device_id: str) -> Device | None:
        """The owner's item only: a link is not found by id."""
        return next((copy.deepcopy(d) for (_, i), d in self._t.devices.items()
                     if i == device_id and d.shared_from is None), None)

    def get(self, username: str, device_id: str) -> Device | None:
        return self._t.held(self._t.read_device(username, device_id))


class FakeLockoutStore:
    """The password guard of each username, known or not: counted before the check."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def take_attempt(self, username: str, now: datetime, lock_after: int) -> PasswordLockout:
        current = self._t.lockouts.get(username)
        if current is None or ((current.locked_until is None or current.locked_until <= now)
                               and current.failures < lock_after):
            current = self._t.lockouts.setdefault(username, PasswordLockout())
            current.failures += 1
            return PasswordLockout(current.failures, None)
        locked = current.locked_until if current.locked_until and current.locked_until > now else None
        return PasswordLockout(current.failures, locked or now + timedelta(seconds=1))

    def lock(self, username: str, now: datetime, lock_after: int, lock_for: timedelta) -> datetime:
        until = now + lock_for
        current = self._t.lockouts.get(username)
        if current is not None and current.failures >= lock_after:
            current.failures, current.locked_until = 0, until
        return until

    def clear(self, username: str) -> None:
        self._t.lockouts.pop(username, None)


class FakeThrottleStore:
    """The user's send guard (challenges issued, pushes holding a place, denials, the resend
    wait of codes: ``domain/guards.py`` says what it becomes)."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def guard(self, username: str) -> SendGuard:
        stored = self._t.send_guards.get(username)
        return copy.deepcopy(stored) if stored is not None else SendGuard()

    def guard_writes(self, username: str, read: SendGuard, now: datetime, changed: SendGuard) -> Completing:
        """``changed`` written whole, for a transaction, if the guard is still as ``read``."""
        t = self._t
        written = replace(copy.deepcopy(changed), version=read.version + 1)

        def still_as_read() -> bool:
            stored = t.send_guards.get(username)
            return stored is None if read.version == 0 else stored is not None and stored.version == read.version

        def stage(tx: FakeTransaction) -> None:
            tx.stage(("GUARD", username), still_as_read, lambda: t.send_guards.__setitem__(username, written))
        return stage

    def push_approved_writes(self, username: str, push_key: str) -> Completing:
        """An approved push gives its place back; the guard's version moves on."""
        t = self._t

        def give_back() -> None:
            stored = t.send_guards[username]
            t.send_guards[username] = replace(stored, pushes={k: v for k, v in stored.pushes.items() if k != push_key},
                                              version=stored.version + 1)

        def stage(tx: FakeTransaction) -> None:
            tx.stage(("GUARD", username), lambda: username in t.send_guards, give_back)
        return stage


class FakeSessionStore:
    """Sessions by the lookup key of their token; deleting one revokes it."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def put(self, session: Session) -> None:
        if session.key in self._t.sessions:
            raise ConditionFailed(session.key)
        self._t.sessions[session.key] = copy.deepcopy(session)

    def get(self, key: str) -> Session | None:
        return copy.deepcopy(self._t.sessions.get(key))

    def delete(self, key: str, also: Completing | None = None) -> None:
        with transaction(key) as tx:
            tx.stage(("SESSION", key), None, lambda: self._t.sessions.pop(key, None))
            if also is not None:
                also(tx)

    def proving(self, key: str, now: datetime, device_type: DeviceType, device_id: str | None = None) -> Completing:
        """A step-up, for a transaction: the session proved possession again, now, with this device."""
        t = self._t

        def stage(tx: FakeTransaction) -> None:
            tx.stage(("SESSION", key), lambda: key in t.sessions,
                     lambda: _set(proved_at=now, proved_with=device_type, proved_by=device_id)(t.sessions[key]))
        return stage


@dataclass
class FakeOutboxEntry:
    message: OutgoingMessage
    username: str
    claimed_until: datetime | None = None
    sent_at: datetime | None = None
    failures: int = 0


class FakeOutboxStore:
    """Messages written with a change; ``table.outbox`` in the order written stands for
    the table's stream."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def writes(self, username: str, message: OutgoingMessage, now: datetime, keep_for: timedelta,
               held_for: timedelta | None = None, committed: Callable[[str], None] | None = None) -> Completing:
        outbox_id = secrets.token_hex(16)
        entry = FakeOutboxEntry(message, username, claimed_until=now + held_for if held_for is not None else None)

        def stage(tx: FakeTransaction) -> None:
            tx.stage(("OUTBOX", outbox_id), lambda: outbox_id not in self._t.outbox,
                     lambda: self._t.outbox.__setitem__(outbox_id, entry))
            if committed is not None:
                tx.after_commit.append(lambda: committed(outbox_id))
        return stage

    def claim(self, outbox_id: str, now: datetime, hold_for: timedelta) -> OutboxClaim:
        entry = self._t.outbox.get(outbox_id)
        if entry is None or entry.sent_at is not None:
            return OutboxClaim(None, sent=True)
        if entry.claimed_until is not None and entry.claimed_until >= now:
            return OutboxClaim(None, sent=False)
        entry.claimed_until = now + hold_for
        return OutboxClaim(entry.message)

    def mark_sent(self, outbox_id: str, now: datetime) -> None:
        entry = self._t.outbox[outbox_id]
        entry.sent_at, entry.claimed_until = now, None

    def release(self, outbox_id: str) -> None:
        entry = self._t.outbox[outbox_id]
        entry.claimed_until = None
        entry.failures += 1


class FakeAuditStore:
    """The append-only trail, one per username, read newest first."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    @staticmethod
    def _sort_key(event: AuditEvent) -> str:
        return f"{event.at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{secrets.token_hex(8)}"

    def append(self, username: str, event: AuditEvent, keep_for: timedelta) -> None:
        trail, sort_key = self._t.audit.setdefault(username, {}), self._sort_key(event)
        if sort_key in trail:
            raise AlreadyExists(sort_key)
        trail[sort_key] = event

    def writes(self, username: str, event: AuditEvent, keep_for: timedelta) -> Completing:
        """The event as a write of another store's FakeTransaction: recorded if, and only
        if, that transaction commits."""
        sort_key = self._sort_key(event)

        def stage(tx: FakeTransaction) -> None:
            tx.stage(("AUDIT", username, sort_key), lambda: sort_key not in self._t.audit.get(username, {}),
                     lambda: self._t.audit.setdefault(username, {}).__setitem__(sort_key, event))
        return stage

    def newest_first(self, username: str, limit: int) -> list[AuditEvent]:
        trail = self._t.audit.get(username, {})
        return [trail[k] for k in sorted(trail, reverse=True)[:limit]]


class FakeFlowStore:
    """Flows in progress, and the guards every answer passes (``adapters/flows.py``): an
    attempt of the flow and a slot of the user's cap are taken before an answer is checked."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    # ------------------------------------------------------------------ the flow itself

    def create(self, flow: Flow, also: Completing | None = None) -> Flow:
        """A new flow (a key that exists is a collision, refused), with ``also`` (what its
        first challenge writes) in one transaction."""
        t, key = self._t, (flow.purpose, flow.key)
        stored = replace(copy.deepcopy(flow), attempts=0, session_handed_out=False, confirmed_by=None)
        if also is None:
            if key in t.flows:
                raise ConditionFailed(flow.key)
            t.flows[key] = stored
            return flow
        with transaction(flow.key) as tx:
            tx.stage(("FLOW", *key), lambda: key not in t.flows, lambda: t.flows.__setitem__(key, stored))
            also(tx)
        return flow

    def restart(self, flow: Flow, also: Completing | None = None) -> Flow:
        """Replaces any flow under the key: pending again, a new version, its attempts afresh;
        with ``also`` in one transaction (then, as the adapter, it returns ``flow`` as given)."""
        t, key = self._t, (flow.purpose, flow.key)

        def put() -> None:
            earlier = t.flows.get(key)
            kept = {"session_handed_out": earlier.session_handed_out, "amount_usd": earlier.amount_usd,
                    "confirmed_by": earlier.confirmed_by} if earlier else {"session_handed_out": False}
            t.flows[key] = Flow(purpose=flow.purpose, key=flow.key, username=flow.username,
                                expires_at=flow.expires_at, status=FlowStatus.PENDING,
                                device_ids=list(flow.device_ids), challenge=copy.deepcopy(flow.challenge),
                                attempts=0, version=(earlier.version if earlier else 0) + 1, scope=flow.scope,
                                statement=flow.statement, details=dict(flow.details), **kept)

        if also is None:
            put()
            return copy.deepcopy(t.flows[key])
        with transaction(flow.key) as tx:
            tx.stage(("FLOW", *key), None, put)
            also(tx)
        return flow

    def get(self, purpose: Purpose, key: str) -> Flow | None:
        return copy.deepcopy(self._t.flows.get((purpose, key)))

    def first_of(self, purposes: tuple[Purpose, ...], key: str) -> Flow | None:
        return next((self.get(p, key) for p in purposes if (p, key) in self._t.flows), None)

    def set_challenge(self, flow: Flow, challenge: Challenge, also: Completing | None = None) -> None:
        """A new challenge on a pending flow, unless another was set since it was read, with
        ``also`` (the send guard, a push, a card's pair) in one transaction: StaleWrite when
        any of them changed."""
        t, key = self._t, (flow.purpose, flow.key)

        def unchanged() -> bool:
            stored = t.flows.get(key)
            return stored is not None and stored.status == FlowStatus.PENDING and stored.version == flow.version

        def put() -> None:
            stored = t.flows[key]
            stored.challenge, stored.version, stored.answered = copy.deepcopy(challenge), stored.version + 1, set()

        if also is None:
            if not unchanged():
                raise StaleWrite(flow.key)  # one conditional update (``update_if``): no failed items
            put()
            return
        with transaction(flow.key) as tx:
            tx.stage(("FLOW", *key), unchanged, put)
            also(tx)

    # ------------------------------------------------------------------ pushes

    def push(self, push_key: str) -> Push | None:
        return copy.deepcopy(self._t.pushes.get(push_key))

    def pushing(self, push: Push) -> Completing:
        """A new push, for the transaction that issues its challenge."""
        t = self._t

        def stage(tx: FakeTransaction) -> None:
            tx.stage(("PUSH", push.key), lambda: push.key not in t.pushes,
                     lambda: t.pushes.__setitem__(push.key, copy.deepcopy(push)))
        return stage

    def withdrawing(self, push_key: str, now: datetime) -> Completing:
        """A push whose flow moved on before it expired: the app drops it."""
        t = self._t

        def stage(tx: FakeTransaction) -> None:
            tx.stage(("PUSH", push_key), lambda: push_key in t.pushes,
                     lambda: t.pushes.__setitem__(push_key, replace(t.pushes[push_key], withdrawn_at=now)))
        return stage

    def answering(self, push: Push, now: datetime) -> Completing:
        """The one answer a push takes, unless it was answered or withdrawn. (The adapter's
        condition would let an update create a push that is missing; the services never
        answer one that was not read, so here a missing push simply fails the condition.)"""
        t = self._t

        def open_() -> bool:
            stored = t.pushes.get(push.key)
            return stored is not None and stored.answered_at is None and stored.withdrawn_at is None

        def stage(tx: FakeTransaction) -> None:
            tx.stage(("PUSH", push.key), open_,
                     lambda: t.pushes.__setitem__(push.key, replace(t.pushes[push.key], answered_at=now)))
        return stage

    def pushed_flow(self, push: Push) -> tuple[Flow | None, Device | None]:
        """The flow a push belongs to and the device's own item (its holder's), read together."""
        return self.get(push.purpose, push.flow_key), self._t.read_device(push.holder, push.device_id)

    def run(self, key: str, *writes: Completing) -> None:
        """``writes`` in one transaction: StaleWrite when a condition of one of them failed."""
        with transaction(key) as tx:
            for write in writes:
                write(tx)

    # ------------------------------------------------------------------ answers

    def device_for_answer(self, username: str, device_id: str) -> tuple[Device | None, dict[str, int]]:
        return self._t.held(self._t.read_device(username, device_id)), self.slots(username)

    def slots(self, username: str) -> dict[str, int]:
        """A user made before the cap existed gets its (empty) slots now."""
        return dict(self._t.answer_slots.setdefault(username, {}))

    def reserve_answer(self, flow: Flow, device: Device | None, slot_user: str, slots: dict[str, int] | None,
                       now: datetime, max_attempts: int, cap: int, window: timedelta,
                       answer_key: str | None = None) -> Reservation:
        t = self._t
        key = (flow.purpose, flow.key)
        counted = flow.counted(answer_key)
        if counted is not None:  # the same answer again: its own reservation, if still recorded
            entry, slot, stamp = counted
            try:
                with transaction(flow.key) as tx:
                    tx.stage(("FLOW", *key), lambda: (stored := t.flows.get(key)) is not None
                             and stored.status == FlowStatus.PENDING and stored.version == flow.version
                             and entry in stored.answered)
                    if device is not None:
                        tx.stage(("DEVICE", *t.state(device)), lambda: self._answers_as(device, now))
            except StaleWrite:
                current = t.flows.get(key)
                if current is None or current.status != FlowStatus.PENDING or current.version != flow.version:
                    raise FlowClosed(flow.key) from None
                raise
            return Reservation(slot_user, slot, stamp, flow.attempts)
        choice = choose_answer_slot(slots, cap, now, window)
        if slot_user not in t.answer_slots:
            if slots is None:  # no slots to set a slot in: the caller reads them (which makes them) and tries again
                raise StaleWrite(flow.key)
            raise ValueError(f"{slot_user} has no answer slots")

        def flow_takes() -> bool:
            stored = t.flows.get(key)
            return (stored is not None and stored.status == FlowStatus.PENDING and stored.version == flow.version
                    and stored.attempts < max_attempts)

        try:
            with transaction(flow.key) as tx:
                def take() -> None:
                    stored = t.flows[key]
                    stored.attempts += 1
                    if answer_key is not None:
                        stored.answered.add(f"{answer_key}|{choice.slot}|{choice.stamp}")
                tx.stage(("FLOW", *key), flow_takes, take)
                if device is not None:
                    tx.stage(("DEVICE", *t.state(device)), lambda: self._answers_as(device, now))
                    if device.shared_from is not None:  # the share must still stand
                        link = (device.username, device.device_id)
                        tx.stage(("DEVICE", *link),
                                 lambda: link in t.devices and t.devices[link].status == DeviceStatus.ACTIVE)
                tx.stage(("ANSWERS", slot_user),
                         lambda: t.answer_slots[slot_user].get(choice.slot, 0) <= choice.cutoff,
                         lambda: t.answer_slots[slot_user].__setitem__(choice.slot, choice.stamp))
        except StaleWrite:
            current = t.flows.get(key)
            if current is None or current.status != FlowStatus.PENDING or current.version != flow.version:
                raise FlowClosed(flow.key) from None
            if current.attempts >= max_attempts:
                raise AttemptsUsed(flow.key) from None
            raise
        return Reservation(slot_user, choice.slot, choice.stamp, flow.attempts + 1)

    def _answers_as(self, device: Device, now: datetime) -> bool:
        """The device's item is unlocked and, in all that checking an answer reads, as ``device`` shows it."""
        stored = self._t.devices.get(self._t.state(device))
        return (stored is not None and stored.status == device.status
                and (stored.locked_until is None or stored.locked_until <= now)
                and (stored.sealed_secret, stored.valid_until, stored.full_access_until)
                == (device.sealed_secret, device.valid_until, device.full_access_until))

    def count_failure(self, device: Device, now: datetime, lock_after: int,
                      lock_for: timedelta) -> datetime | None:
        """One more failure; at ``lock_after`` a lock (``lock_ends``: doubled per earlier lock)."""
        stored = self._t.devices.get(self._t.state(device))
        if stored is None:
            raise ConditionFailed(device.device_id)
        stored.consecutive_failures += 1
        if stored.consecutive_failures < lock_after:
            return None
        until = lock_ends(now, lock_for, stored.lock_count)
        stored.consecutive_failures, stored.locked_until, stored.lock_count = 0, until, stored.lock_count + 1
        return until

    def unreserve(self, flow: Flow, reservation: Reservation) -> None:
        """A right answer whose completion failed before it committed gives back its attempt and slot."""
        t = self._t
        key = (flow.purpose, flow.key)

        def flow_as_read() -> bool:
            stored = t.flows.get(key)
            return (stored is not None and stored.status == FlowStatus.PENDING and stored.version == flow.version
                    and stored.attempts > 0)

        with transaction(flow.key) as tx:
            tx.stage(("FLOW", *key), flow_as_read, lambda: _set(attempts=t.flows[key].attempts - 1)(t.flows[key]))
            tx.stage(("ANSWERS", reservation.slot_user),
                     lambda: t.answer_slots.get(reservation.slot_user, {}).get(reservation.slot) == reservation.stamp,
                     lambda: t.answer_slots[reservation.slot_user].pop(reservation.slot))

    def forgive(self, device: Device | None, reservation: Reservation, now: datetime) -> None:
        with transaction(reservation.slot) as tx:
            self._t.stage_give_back(tx, device, reservation, now)

    def completing(self, flow: Flow, reservation: Reservation | None, now: datetime,
                   confirmed_by: Device | None = None, status: FlowStatus = FlowStatus.APPROVED) -> Completing:
        return lambda tx: self._t.stage_complete_flow(tx, flow, status, confirmed_by=confirmed_by,
                                                      reservation=reservation, now=now)


class FakeSessionGrants:
    """The writes that end a login by granting its session."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def approve(self, flow: Flow, reservation: Reservation, device: Device, session: Session, now: datetime,
                also: Completing) -> None:
        with transaction(flow.key) as tx:
            self._t.stage_complete_flow(tx, flow, confirmed_by=device, reservation=reservation, now=now,
                                        hand_out=True)
            self._t.stage_new_session(tx, session)
            also(tx)

    def hand_out(self, flow: Flow, session: Session, also: Completing) -> None:
        t, key = self._t, (flow.purpose, flow.key)
        with transaction(flow.key) as tx:
            tx.stage(("FLOW", *key), lambda: key in t.flows and t.flows[key].status == FlowStatus.APPROVED
                     and not t.flows[key].session_handed_out,
                     lambda: _set(session_handed_out=True)(t.flows[key]))
            t.stage_new_session(tx, session)
            also(tx)


class FakeEnrolmentStore:
    """App instances with their PIN guard, and the one write that enrols an IB Key."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def app_instance(self, app_instance_id: str) -> AppInstance | None:
        return copy.deepcopy(self._t.app_instances.get(app_instance_id))

    def take_pin_attempt(self, instance: AppInstance, now: datetime, max_failures: int) -> None:
        stored = self._t.app_instances.get(instance.app_instance_id)
        if stored is not None and (stored.pin_locked_until is None or stored.pin_locked_until <= now) \
                and stored.pin_failures < max_failures:
            stored.pin_failures += 1
            return
        current = stored or instance
        if current.pin_locked_until and current.pin_locked_until > now:
            raise PinLocked(current.pin_locked_until)
        raise PinLocked(now)  # a lock is being set by a concurrent guess

    def pin_was_right(self, instance: AppInstance) -> None:
        stored = self._t.app_instances.get(instance.app_instance_id)
        if stored is not None:
            stored.pin_failures = 0

    def lock_pin_if_due(self, instance: AppInstance, now: datetime, max_failures: int,
                        lock_for: timedelta) -> datetime | None:
        until = lock_ends(now, lock_for, instance.pin_lock_count)
        stored = self._t.app_instances.get(instance.app_instance_id)
        if stored is None or stored.pin_failures < max_failures:
            return None
        stored.pin_failures, stored.pin_locked_until, stored.pin_lock_count = 0, until, stored.pin_lock_count + 1
        return until

    def enrol(self, flow: Flow, reservation: Reservation | None, now: datetime, device: Device,
              instance: AppInstance, new_instance: bool, revoke: list[Device], temporary: list[Device],
              devices_version: int, also: Completing) -> None:
        t, app = self._t, instance.app_instance_id
        enrolled = _set(confirmed_by=device.device_id)
        with transaction(flow.key) as tx:
            t.stage_complete_flow(tx, flow, reservation=reservation, now=now, extra=enrolled)
            t.stage_new_device(tx, device)
            t.stage_revoke(tx, revoke)
            t.stage_profile(tx, device.username, devices_version, end_temporary=True)
            t.stage_revoke(tx, temporary)
            also(tx)
            if new_instance:
                fresh = replace(copy.deepcopy(instance), pin_failures=0, pin_locked_until=None, pin_lock_count=0)
                tx.stage(("APP", app), lambda: app not in t.app_instances,
                         lambda: t.app_instances.__setitem__(app, fresh))
            elif instance.push_endpoint:
                tx.stage(("APP", app), lambda: app in t.app_instances
                         and t.app_instances[app].pin_hash == instance.pin_hash,
                         lambda: _set(push_endpoint=instance.push_endpoint)(t.app_instances[app]))


class FakeShareStore:
    """Device shares, from the owner's challenge through Compliance to the link and its end."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def _stage_status(self, tx: FakeTransaction, share: Share, expected: ShareStatus, status: ShareStatus,
                      **values: object) -> None:
        t = self._t

        def apply() -> None:
            _set(status=status, **values)(t.shares[share.key])
            if status == ShareStatus.PENDING_COMPLIANCE:
                t.pending_shares[share.key] = share.created_at.isoformat()
            else:
                t.pending_shares.pop(share.key, None)
        tx.stage(("SHARE", share.key), lambda: share.key in t.shares and t.shares[share.key].status == expected,
                 apply)

    def create(self, share: Share, also: Completing) -> None:
        t = self._t
        with transaction(share.key) as tx:
            stored = replace(copy.deepcopy(share), deactivated=[], reason=None)
            tx.stage(("SHARE", share.key), lambda: share.key not in t.shares,
                     lambda: t.shares.__setitem__(share.key, stored))
            also(tx)

    def get(self, key: str) -> Share | None:
        return copy.deepcopy(self._t.shares.get(key))

    def pending(self, limit: int = 100) -> list[Share]:
        waiting = sorted(self._t.pending_shares, key=lambda k: self._t.pending_shares[k])[:limit]
        return [copy.deepcopy(self._t.shares[k]) for k in waiting]

    def await_compliance(self, share: Share, completing: Completing) -> None:
        with transaction(share.key) as tx:
            self._stage_status(tx, share, ShareStatus.CHALLENGED, ShareStatus.PENDING_COMPLIANCE)
            completing(tx)

    def approve(self, share: Share, expected_status: ShareStatus, link: Device, deactivate: list[Device],
                reason: str | None, completing: Completing | None = None) -> None:
        t = self._t
        values: dict[str, object] = {"deactivated": [d.device_id for d in deactivate]}
        if reason:
            values["reason"] = reason
        with transaction(share.key) as tx:
            self._stage_status(tx, share, expected_status, ShareStatus.APPROVED, **values)
            link_key = (link.username, link.device_id)
            tx.stage(("DEVICE", *link_key), None, lambda: t.devices.__setitem__(link_key, copy.deepcopy(link)))
            for own in deactivate:
                t.stage_device_update(tx, (own.username, own.device_id), _set_status(DeviceStatus.INACTIVE),
                                      lambda d: d.status == DeviceStatus.ACTIVE)
            if completing is not None:
                completing(tx)

    def reject(self, share: Share, reason: str, also: Completing) -> None:
        with transaction(share.key) as tx:
            self._stage_status(tx, share, ShareStatus.PENDING_COMPLIANCE, ShareStatus.REJECTED, reason=reason)
            also(tx)

    def cancel(self, share: Share, reactivate: list[str], also: Completing) -> None:
        """Ends a share as the caller read it: an approved one revokes the link and brings
        the requester's own devices in ``reactivate`` back."""
        t = self._t
        with transaction(share.key) as tx:
            self._stage_status(tx, share, share.status, ShareStatus.CANCELLED)
            if share.status == ShareStatus.APPROVED:
                t.stage_device_update(tx, (share.requester, share.device_id), _set_status(DeviceStatus.REVOKED),
                                      lambda d: d.shared_from == share.owner)
                for device_id in reactivate:
                    t.stage_device_update(tx, (share.requester, device_id), _set_status(DeviceStatus.ACTIVE),
                                          lambda d: d.status == DeviceStatus.INACTIVE)
            also(tx)


class FakeDeviceRequestStore:
    """DSC+ requests, from the user's request (one open at a time) to the back office's fulfilment."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def create(self, request: DeviceRequest, also: Completing) -> None:
        t, username = self._t, request.username

        def hold(user: User) -> None:
            user.open_request_id = request.request_id
            if request.fee_usd and request.replaces_device_id:
                user.reserves[request.replaces_device_id] = request.fee_usd

        with transaction(request.request_id) as tx:
            tx.stage(("REQUEST", request.request_id), lambda: request.request_id not in t.requests,
                     lambda: t.requests.__setitem__(request.request_id, request))
            tx.stage(("USER", username), lambda: username in t.users and t.users[username].open_request_id is None,
                     lambda: hold(t.users[username]))
            also(tx)

    def get(self, request_id: str) -> DeviceRequest | None:
        return self._t.requests.get(request_id)  # frozen: no copy needed

    def fulfil(self, request: DeviceRequest, device: Device, also: Completing) -> None:
        t, request_id = self._t, request.request_id
        def still_requested() -> bool:
            stored = t.requests.get(request_id)
            return stored is not None and stored.status == DeviceRequestStatus.REQUESTED

        with transaction(request_id) as tx:
            tx.stage(("REQUEST", request_id), still_requested,
                     lambda: t.requests.__setitem__(request_id, replace(t.requests[request_id],
                                                                        status=DeviceRequestStatus.FULFILLED)))
            t.stage_new_device(tx, device)
            t.stage_profile(tx, request.username, change=_set(open_request_id=None))
            also(tx)


class FakeLedgerStore:
    """USD authorized per user and UTC day; authorizing adds to today's total on the
    condition that the total before it is at most ``room_today``."""

    def __init__(self, table: FakeTable) -> None:
        self._t = table

    def totals(self, username: str, since: date, until: date) -> dict[date, float]:
        return {day: total for (who, day), total in self._t.spent.items()
                if who == username and since <= day <= until}

    def authorize(self, flow: Flow, amount: float, room_today: float | None, device: Device,
                  reservation: Reservation | None, now: datetime, also: Completing) -> None:
        t, day = self._t, (flow.username, now.date())
        with transaction(flow.key) as tx:
            tx.stage(("SPENT", flow.username, now.date().isoformat()),
                     lambda: room_today is None or day not in t.spent or t.spent[day] <= room_today,
                     lambda: t.spent.__setitem__(day, t.spent.get(day, 0.0) + amount))
            t.stage_complete_flow(tx, flow, confirmed_by=device, reservation=reservation, now=now)
            also(tx)


# ---------------------------------------------------------------------- the world outside the table

class RecordingSender:
    """Keeps every message it takes; while ``failing``, refuses them (DeliveryFailed)."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.failing = False

    def send(self, message: OutgoingMessage) -> None:
        if self.failing:
            raise DeliveryFailed(f"{message.channel} delivery failed")
        self.sent.append(message)

    def last(self, channel: str | None = None, to: str | None = None) -> OutgoingMessage:
        return [m for m in self.sent if (channel is None or m.channel == channel) and (to is None or m.to == to)][-1]


class FakePushEndpoints:
    """An endpoint per app instance for the platforms that have an application."""

    def __init__(self, platforms: tuple[str, ...] = ("ios", "android")) -> None:
        self._platforms = platforms
        self.registered: list[tuple[str, str, str]] = []

    def register(self, platform: str, push_token: str, app_instance_id: str) -> str | None:
        if platform not in self._platforms:
            return None
        self.registered.append((platform, push_token, app_instance_id))
        return f"arn:aws:sns:us-east-1:000000000000:endpoint/{platform}/fake/{app_instance_id}"


class FakeSecretBox:
    """Seals as ``fake.`` and the base64 of context and plaintext: readable, reversible,
    and bound to the context (opening under another raises SealedValueError, as the KMS
    box does)."""

    def seal(self, plaintext: bytes, context: str) -> str:
        return "fake." + base64.urlsafe_b64encode(context.encode() + b"\x00" + plaintext).decode()

    def open(self, sealed: str, context: str) -> bytes:
        prefix, _, body = sealed.partition(".")
        try:
            sealed_context, separator, plaintext = base64.urlsafe_b64decode(body).partition(b"\x00")
        except (binascii.Error, ValueError):
            raise SealedValueError("not a sealed value") from None
        if prefix != "fake" or not separator or sealed_context != context.encode():
            raise SealedValueError("sealed value does not open")
        return plaintext


class FakeClock(Clock):
    """The service's Clock from a fixed moment (so the day, and the business days
    around it, are known), moved on by ``advance``."""

    START = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)  # a Tuesday, no holiday near it

    def __init__(self, start: datetime = START) -> None:
        super().__init__()
        self._start = start

    def now(self) -> datetime:
        return self._start + timedelta(seconds=self._offset.value)


# ---------------------------------------------------------------------- the services over the fakes

CODE_KEY = bytes(range(32))


@dataclass
class FakeStores:
    table: FakeTable
    users: FakeUserStore
    devices: FakeDeviceStore
    lockouts: FakeLockoutStore
    throttles: FakeThrottleStore
    sessions: FakeSessionStore
    audit: FakeAuditStore
    flows: FakeFlowStore
    grants: FakeSessionGrants
    enrolment: FakeEnrolmentStore
    shares: FakeShareStore
    requests: FakeDeviceRequestStore
    ledger: FakeLedgerStore
    outbox: FakeOutboxStore

    @classmethod
    def over(cls, table: FakeTable) -> FakeStores:
        return cls(table, FakeUserStore(table), FakeDeviceStore(table), FakeLockoutStore(table),
                   FakeThrottleStore(table), FakeSessionStore(table), FakeAuditStore(table), FakeFlowStore(table),
                   FakeSessionGrants(table), FakeEnrolmentStore(table), FakeShareStore(table),
                   FakeDeviceRequestStore(table), FakeLedgerStore(table), FakeOutboxStore(table))


@dataclass
class FakeServices:
    """The services as ``runtime.wire_services`` wires them, over the fakes, with the
    fakes at hand; ``world.login`` and the like are the wired services."""
    clock: FakeClock
    policy: Policy
    stores: FakeStores
    sender: RecordingSender
    box: FakeSecretBox
    push_endpoints: FakePushEndpoints
    services: Services

    def __getattr__(self, name: str) -> object:
        if name == "services":  # not set yet (a copy being made): nothing to delegate to
            raise AttributeError(name)
        return getattr(self.services, name)

    def with_users(self, *new: NewUser) -> FakeServices:
        """These users created by the back office, through the services."""
        for user in new:
            self.services.users.create(user, actor="tester")
        return self

    @property
    def table(self) -> FakeTable:
        return self.stores.table

    def deliver_outbox(self) -> int:
        """What the stream's consumer does: every message not yet out, through the wired
        OutboxDelivery, oldest first. The number that went out now."""
        pending = [i for i, entry in self.table.outbox.items() if entry.sent_at is None]
        return sum(self.services.outbox.deliver(outbox_id) for outbox_id in pending)

    def add_device(self, username: str, type_: DeviceType, secret: DeviceSecret | None = None,
                   **fields: object) -> Device:
        """An active device of ``username``, added through the DeviceStore port."""
        device_id = "dev_" + secrets.token_hex(6)
        sealed = self.device_secrets.seal(device_id, secret) if secret is not None else None
        device = Device(device_id=device_id, username=username, type=type_, label=f"{type_.value} {device_id}",
                        status=DeviceStatus.ACTIVE, created_at=self.clock.now(), sealed_secret=sealed,
                        **fields)
        self.stores.devices.add(device)
        return device

    def add_ocra_card(self, username: str, seed_hex: str, pin: str, type_: DeviceType = DeviceType.DSC_PLUS) -> Device:
        return self.add_device(username, type_, DeviceSecret(seed_hex=seed_hex, pin_sha1_hex=card_pin_sha1_hex(pin)),
                               serial=f"{type_.value.upper()}-1", ocra_suite=CARD_SUITE)


# The relying party of the fakes' passkeys: the local stack's (tests/unit/test_passkey_factor.py signs for it).
RELYING_PARTY = RelyingParty(id="localhost", name="IBKR Secure Login", origins=("http://localhost:3000",))


def fake_services(clock: FakeClock | None = None, policy: Policy | None = None) -> FakeServices:
    """The services over fresh fakes, wired by ``runtime.wire_services`` as in production."""
    clock = clock or FakeClock()
    policy = policy or Policy()
    stores = FakeStores.over(FakeTable())
    sender, box, push_endpoints = RecordingSender(), FakeSecretBox(), FakePushEndpoints()
    outside = Outside(users=stores.users, devices=stores.devices, lockouts=stores.lockouts, throttles=stores.throttles,
                      sessions=stores.sessions, audit=stores.audit, flows=stores.flows, grants=stores.grants,
                      enrolment=stores.enrolment, shares=stores.shares, requests=stores.requests, ledger=stores.ledger,
                      outbox=stores.outbox, sender=sender, push_endpoints=push_endpoints, box=box,
                      code_key=lambda: CODE_KEY, voice_calls=True, relying_party=RELYING_PARTY)
    return FakeServices(clock, policy, stores, sender, box, push_endpoints, wire_services(outside, clock, policy))
