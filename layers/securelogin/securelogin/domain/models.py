"""What the service knows, free of HTTP and DynamoDB."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum


class DeviceType(StrEnum):
    IB_KEY = "ib_key"
    DSC_PLUS = "dsc_plus"
    SCC = "scc"
    SMS = "sms"
    TEMPORARY_CODE = "temporary_code"
    ONLINE_SCC = "online_scc"
    DSC = "dsc"
    GOLD = "gold"
    PLATINUM = "platinum"
    PASSKEY = "passkey"  # a FIDO2 / WebAuthn credential (domain/factors/passkey.py)


SECURITY_LEVEL: dict[DeviceType, int] = {
    DeviceType.IB_KEY: 3,
    DeviceType.DSC_PLUS: 4,
    DeviceType.SCC: 1,
    DeviceType.SMS: 1,
    DeviceType.TEMPORARY_CODE: 0,
    DeviceType.ONLINE_SCC: 1,
    DeviceType.DSC: 3,
    DeviceType.GOLD: 4,
    DeviceType.PLATINUM: 4,
    DeviceType.PASSKEY: 3,
}


# The devices one holds in hand: what recovery can challenge and what can be shared.
PHYSICAL_TYPES = frozenset({DeviceType.DSC_PLUS, DeviceType.SCC, DeviceType.DSC, DeviceType.GOLD,
                            DeviceType.PLATINUM})


class DeviceStatus(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    INACTIVE = "inactive"
    LOCKED = "locked"
    LOST = "lost"
    RETURNED = "returned"
    EXPIRED = "expired"
    REVOKED = "revoked"


class SlsMode(StrEnum):
    ALWAYS = "always"
    OPTED_OUT = "opted_out"


class Scope(StrEnum):
    FULL = "full"
    PORTAL_ONLY = "portal_only"
    TRADING = "trading"


@dataclass(frozen=True)
class IdDocument:
    type: str
    number: str


@dataclass(frozen=True)
class Identity:
    date_of_birth: str
    citizenship: str
    country_of_residence: str
    id_document: IdDocument
    ssn: str | None = None


@dataclass
class User:
    username: str
    password_hash: str
    account_id: str
    entity_id: str
    primary: bool
    phones: list[str]
    balance_usd: float
    jurisdiction: str
    created_at: datetime
    sls_mode: SlsMode = SlsMode.ALWAYS
    restrictions: list[str] = field(default_factory=list)
    preferred_device_id: str | None = None
    # Set by a temporary code; cleared when a permanent device is (re)activated.
    awaiting_permanent_device: bool = False
    # Fees held back from withdrawals until the replaced device is returned: {device_id: USD}.
    reserves: dict[str, float] = field(default_factory=dict)
    # The DSC+ request waiting for the back office (at most one at a time).
    open_request_id: str | None = None
    # Changes whenever the set of the user's devices changes (an enrolment, a removal, a
    # return, an online card): writes that depend on that set are conditional on it.
    devices_version: int = 0


@dataclass
class Device:
    device_id: str
    username: str
    type: DeviceType
    label: str
    status: DeviceStatus
    created_at: datetime
    last_used_at: datetime | None = None
    phone: str | None = None
    serial: str | None = None
    ocra_suite: str | None = None
    app_instance_id: str | None = None
    platform: str | None = None
    valid_until: datetime | None = None
    consecutive_failures: int = 0
    locked_until: datetime | None = None
    lock_count: int = 0
    # Opaque to the domain: the device's secrets (seed, PIN verifier, card values) as the
    # adapters sealed them. Factors open it through the SecretOpener they are given.
    sealed_secret: str | None = field(default=None, repr=False)
    # Code cards: the pair of index numbers every challenge asks until it is answered right
    # (``first,second@issued`` with ``issued`` in epoch seconds), so that no one can re-roll
    # the card until it asks for values they know. Cleared by a right answer.
    open_pair: str | None = None
    # IB Key: the app's P-256 public key (base64 DER SPKI) and where its pushes go.
    public_key: str | None = None
    push_endpoint: str | None = None
    # Temporary codes: full access until then, portal-only access until valid_until.
    full_access_until: datetime | None = None
    # A device shared to this user: the owner's username. This user's item is only a link;
    # the device's status, lock, failure counts and secrets live in the owner's item.
    shared_from: str | None = None
    # Passkeys: the WebAuthn credential id (base64url) and its signature counter; the
    # credential's COSE public key is ``public_key`` (base64url). No private material.
    credential_id: str | None = None
    sign_count: int | None = None

    @property
    def holder(self) -> str:
        """The username whose partition holds this device's state: one device, however
        many usernames use it."""
        return self.shared_from or self.username

    @property
    def security_level(self) -> int:
        return SECURITY_LEVEL[self.type]

    @property
    def physical(self) -> bool:
        return self.type in PHYSICAL_TYPES

    @property
    def temporary(self) -> bool:
        return self.type in (DeviceType.TEMPORARY_CODE, DeviceType.ONLINE_SCC)

    def status_at(self, now: datetime) -> DeviceStatus:
        """The status as the user sees it: a lock ends by itself, a temporary device expires."""
        if self.status == DeviceStatus.ACTIVE and self.valid_until and now >= self.valid_until:
            return DeviceStatus.EXPIRED
        if self.status == DeviceStatus.ACTIVE and self.locked_until and self.locked_until > now:
            return DeviceStatus.LOCKED
        return self.status

    def scope_cap(self, now: datetime) -> Scope:
        """The widest session this device can open now."""
        if self.full_access_until and now >= self.full_access_until:
            return Scope.PORTAL_ONLY
        return Scope.FULL

    def usable_at(self, now: datetime) -> bool:
        return self.status_at(now) in (DeviceStatus.ACTIVE, DeviceStatus.LOCKED)

    def access_ends_at(self, scope: Scope) -> datetime | None:
        """When a session this device opened with ``scope`` must end at the latest: a
        temporary code's full access, or the device's own validity (temporary code, online card)."""
        ends = [self.valid_until]
        if scope == Scope.FULL:
            ends.append(self.full_access_until)
        return min((e for e in ends if e is not None), default=None)


def through_link(link: Device, shared: Device | None) -> Device:
    """What a user with a link sees of a shared device: the owner's device (its status,
    lock, failures, secrets), under the link's username; a cancelled link, or a device
    the owner no longer has, is not usable."""
    if shared is None:
        return replace(link, status=DeviceStatus.REVOKED)
    status = shared.status if link.status == DeviceStatus.ACTIVE else link.status
    return replace(shared, username=link.username, shared_from=link.shared_from, status=status,
                   label=link.label, created_at=link.created_at)


def most_secure(devices: list[Device]) -> Device | None:
    """The device of the highest security level; ties go to the most recently used."""
    return max(devices, key=lambda d: (d.security_level, d.last_used_at or d.created_at), default=None)


@dataclass
class PasswordLockout:
    """Consecutive password failures for a username, known or not."""
    failures: int = 0
    locked_until: datetime | None = None


class Method(StrEnum):
    """How a challenge is put to the user."""
    PUSH = "push"  # an IB Key notification, approved or denied in the app
    CHALLENGE_RESPONSE = "challenge_response"  # a code the device turns into a response
    SMS = "sms"
    VOICE = "voice"
    CODE = "code"  # a temporary code the user already holds
    ACTIVATION_CODE = "activation_code"  # a code texted to a phone that is not (yet) a device
    WEBAUTHN = "webauthn"  # a passkey's assertion over the flow's challenge


class Channel(StrEnum):
    """How a message reaches a person."""
    SMS = "sms"
    VOICE = "voice"
    PUSH = "push"


class PushDecision(StrEnum):
    APPROVE = "approve"
    DENY = "deny"


@dataclass
class Challenge:
    """A challenge issued inside a flow: which device (None for a code texted to a phone
    that is not yet a device, as in IB Key activation), how, and what the server keeps to
    check the answer (digests only, never a plaintext code)."""
    device_id: str | None
    method: Method
    issued_at: datetime
    expires_at: datetime
    check_data: dict[str, str]
    # The device as it was when challenged, so that an answer need not read it again: the
    # write that counts the answer is conditional on the device still being in this state.
    device: Device | None = field(default=None, repr=False)

    @property
    def push_key(self) -> str | None:
        """The lookup key of the push this challenge sent, if it is a push."""
        return self.check_data.get(PUSH_KEY) if self.method == Method.PUSH else None


# The check data of a push challenge that names its push (domain/factors/ib_key.py).
PUSH_KEY = "push_key"


class Purpose(StrEnum):
    """What a flow in progress is for. A flow's id is stored under its purpose, so an id
    given to another flow's route is simply unknown there."""
    LOGIN = "login"
    WITHDRAWAL = "withdrawal"
    ACTIVATION = "activation"  # IB Key by SMS token
    QR_SESSION = "qr_session"  # IB Key by QR code / session ID
    RECOVERY = "recovery"
    SHARE = "share"
    DEVICE_ACTIVATION = "device_activation"  # a shipped card's first answer
    PIN_CHANGE = "pin_change"  # a DSC+ PIN, answered with the current one
    STEP_UP = "step_up"  # a session made recent and strong before a change to the account's protection
    PASSKEY_REGISTRATION = "passkey_registration"  # creation options waiting for the browser's credential


class PushStatus(StrEnum):
    PENDING = "pending"
    ANSWERED = "answered"  # approved, denied, or refused for its number
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"  # its flow completed or moved to another challenge first


@dataclass(frozen=True)
class Push:
    """A push sent to an IB Key, as the service keeps it: found by the lookup key of its
    ``push_id``, it names the flow it belongs to (which the app never learns), and holds
    what the app must sign over: the nonce, the statement and the number to match."""
    key: str
    username: str
    holder: str  # whose partition holds the device
    device_id: str
    purpose: Purpose
    flow_key: str
    nonce: str
    statement: str
    number_digest: str | None
    expires_at: datetime
    answered_at: datetime | None = None
    withdrawn_at: datetime | None = None

    def status_at(self, now: datetime) -> PushStatus:
        if self.answered_at is not None:
            return PushStatus.ANSWERED
        if self.withdrawn_at is not None:
            return PushStatus.WITHDRAWN
        return PushStatus.EXPIRED if now >= self.expires_at else PushStatus.PENDING


class FlowStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"  # completed: the answer was right, or the push approved
    DENIED = "denied"
    EXPIRED = "expired"


@dataclass
class Flow:
    """A flow in progress that waits for proof: a login after its password step, a
    withdrawal, an IB Key activation or recovery, a share, a shipped card's activation, a
    PIN change. Stored under its purpose and the lookup key of its id (never the id)."""
    purpose: Purpose
    key: str
    username: str
    expires_at: datetime
    status: FlowStatus = FlowStatus.PENDING
    device_ids: list[str] = field(default_factory=list)  # the devices it may be answered with
    challenge: Challenge | None = None
    attempts: int = 0  # answers counted against this flow
    version: int = 0  # changes with every challenge: an answer counts against the one it was given for
    scope: Scope = Scope.FULL  # logins: the session a right answer opens
    session_handed_out: bool = False
    amount_usd: float | None = None  # withdrawals
    confirmed_by: str | None = None  # the device whose answer or push completed it
    # What the person confirms (domain/statements.py), fixed when the flow starts.
    statement: str = ""
    # The answers counted against the current challenge, as ``<keyed digest>|<slot>|<stamp>``:
    # the same answer sent again (after a 503) takes no second attempt, it reuses its own.
    answered: set[str] = field(default_factory=set)
    # The keyed request whose write completed it (retries.py): that request, sent again, is recognised.
    completed_by_request: str | None = None
    details: dict[str, str] = field(default_factory=dict)  # what one purpose alone needs

    def status_at(self, now: datetime) -> FlowStatus:
        if self.status == FlowStatus.PENDING and now >= self.expires_at:
            return FlowStatus.EXPIRED
        return self.status

    def counted(self, answer_key: str | None) -> tuple[str, str, int] | None:
        """The ``answered`` entry that counted this answer, with its slot of the cap and stamp."""
        for entry in self.answered if answer_key else ():
            key, _, rest = entry.partition("|")
            slot, _, stamp = rest.partition("|")
            if key == answer_key and slot and stamp.isdigit():
                return entry, slot, int(stamp)
        return None


@dataclass
class Session:
    key: str  # lookup key of the session token
    username: str
    scope: Scope
    created_at: datetime
    expires_at: datetime
    device_id: str | None = None  # the device that opened it
    platform: str = "portal"  # the client that logged in (portal, tws, mobile)
    # The last proof of possession: when, and the type of the device that gave it (the
    # opening device, or a step-up's). A change to the account's protection needs it recent
    # and strong (services/step_up.py).
    proved_at: datetime | None = None
    proved_with: DeviceType | None = None
    proved_by: str | None = None  # that device's id: a proof ends with the device (lost, removed)


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    type: str
    details: dict[str, str | int | bool | None]


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to a person: by SMS or voice (``to`` an E.164 number) or by push (``to``
    the app's push endpoint, ``data`` what the app acts on)."""
    channel: Channel
    to: str
    body: str
    data: dict[str, str | bool] | None = None


@dataclass
class AppInstance:
    """One install of the IBKR Mobile app. It may carry several users ("Add user"), each
    its own ``ib_key`` device; they share the instance's PIN."""
    app_instance_id: str
    pin_hash: str
    platform: str
    created_at: datetime
    push_endpoint: str | None = None
    # The PIN guard: wrong PINs since the last right one, and the lock they led to.
    pin_failures: int = 0
    pin_locked_until: datetime | None = None
    pin_lock_count: int = 0


class ShareStatus(StrEnum):
    CHALLENGED = "challenged"  # waiting for the owner's device to answer
    PENDING_COMPLIANCE = "pending_compliance"  # proven; Compliance decides (different entities)
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


@dataclass
class Share:
    """A request by ``requester`` to use ``owner``'s physical device (same person, two
    usernames), from the owner's challenge to its end. ``key`` is the lookup key of
    ``share_id``; ``deactivated`` are the requester's own devices the share set inactive."""
    share_id: str
    key: str
    requester: str
    owner: str
    device_id: str
    status: ShareStatus
    same_entity: bool
    created_at: datetime
    expires_at: datetime
    deactivated: list[str] = field(default_factory=list)
    reason: str | None = None


class DeviceRequestStatus(StrEnum):
    REQUESTED = "requested"
    FULFILLED = "fulfilled"


@dataclass(frozen=True)
class DeviceRequest:
    """A DSC+ the user asked for, until the back office ships it. The PIN the user chose
    stays sealed until then; a replacement's fee is held back from withdrawals."""
    request_id: str
    username: str
    reason: str
    fee_usd: float
    status: DeviceRequestStatus
    sealed_pin: str
    created_at: datetime
    replaces_device_id: str | None = None


def lock_ends(now: datetime, lock_for: timedelta, earlier_locks: int) -> datetime:
    """When a lock set now ends: each earlier lock of the same secret doubles it."""
    return now + lock_for * (2 ** earlier_locks)
