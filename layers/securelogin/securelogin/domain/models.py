"""What the service knows, free of HTTP and DynamoDB."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
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
    # What the last challenge asked, for factors that must not ask the same twice in a row.
    last_challenge: str | None = None
    # IB Key: the app's P-256 public key (base64 DER SPKI) and where its pushes go.
    public_key: str | None = None
    push_endpoint: str | None = None
    # Temporary codes: full access until then, portal-only access until valid_until.
    full_access_until: datetime | None = None
    # A device shared to this user: the owner's username (the item is a link to their device).
    shared_from: str | None = None

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


def most_secure(devices: list[Device]) -> Device | None:
    """The device of the highest security level; ties go to the most recently used."""
    return max(devices, key=lambda d: (d.security_level, d.last_used_at or d.created_at), default=None)


@dataclass
class PasswordLockout:
    """Consecutive password failures for a username, known or not."""
    failures: int = 0
    locked_until: datetime | None = None


@dataclass
class Challenge:
    """A challenge issued inside a flow: which device, how, and what the server keeps
    to check the answer (digests only, never a plaintext code)."""
    device_id: str
    method: str
    issued_at: datetime
    expires_at: datetime
    check_data: dict[str, str]


class LoginStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    EXPIRED = "expired"


@dataclass
class LoginTransaction:
    """Something waiting for a second factor: a login after its password step, or a
    withdrawal (``purpose``). Stored with the lookup key of its id."""
    key: str  # lookup key of the login_id; the id itself is never stored
    username: str
    device_ids: list[str]
    expires_at: datetime
    status: LoginStatus = LoginStatus.PENDING
    challenge: Challenge | None = None
    attempts: int = 0
    scope: Scope = Scope.FULL
    session_handed_out: bool = False
    purpose: str = "login"  # or "withdrawal": what a right answer confirms
    amount_usd: float | None = None

    def status_at(self, now: datetime) -> LoginStatus:
        if self.status == LoginStatus.PENDING and now >= self.expires_at:
            return LoginStatus.EXPIRED
        return self.status


@dataclass
class Session:
    key: str  # lookup key of the session token
    username: str
    scope: Scope
    created_at: datetime
    expires_at: datetime
    device_id: str | None = None


@dataclass(frozen=True)
class AuditEvent:
    at: datetime
    type: str
    details: dict[str, str | int | bool | None]


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to a person: ``channel`` is ``sms`` or ``voice`` (``to`` an E.164 number)
    or ``push`` (``to`` the app's push endpoint, ``data`` what the app acts on)."""
    channel: str
    to: str
    body: str
    data: dict[str, str] | None = None


@dataclass
class AppInstance:
    """One install of the IBKR Mobile app. It may carry several users ("Add user"), each
    its own ``ib_key`` device; they share the instance's PIN."""
    app_instance_id: str
    pin_hash: str
    platform: str
    created_at: datetime
    push_endpoint: str | None = None


@dataclass
class Ticket:
    """A single-use permission to enrol an IB Key: by SMS token (``code_digest``) or by a
    QR session shown to a logged-in user."""
    key: str
    username: str
    purpose: str  # activation, recovery
    expires_at: datetime
    used: bool = False
    attempts: int = 0
    code_digest: str | None = None
    phone: str | None = None
    details: dict[str, str] = field(default_factory=dict)
