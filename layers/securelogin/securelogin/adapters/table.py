"""The service's single DynamoDB table, as PynamoDB models.

Key design (``pk`` / ``sk``; every access is by key, by a partition Query, or by GSI1):

| item | pk | sk | gsi1pk / gsi1sk | TTL |
|---|---|---|---|---|
| user profile | ``USER#<username>`` | ``PROFILE`` | ``ACCOUNT#<account_id>`` / ``USER#<username>`` | |
| password lockout | ``USER#<username>`` | ``LOCKOUT`` | | when the lock ends |
| device | ``USER#<username>`` | ``DEVICE#<device_id>`` | ``DEVICE#<device_id>`` / ``DEVICE`` | |
| send throttle | ``USER#<username>`` | ``THROTTLE#<purpose>`` | | after the interval |
| withdrawal ledger | ``USER#<username>`` | ``LEDGER`` | | |
| unanswered pushes | ``USER#<username>`` | ``PUSHES`` | | after the window |
| IB Key app instance | ``APP#<app_instance_id>`` | ``INSTANCE`` | | |
| device share | ``SHARE#<sha256(share_id)>`` | ``SHARE`` | ``SHARES#<status>`` / created at (pending only) | |
| DSC+ request | ``REQUEST#<request_id>`` | ``REQUEST`` | | |
| enrolment ticket | ``TICKET#<sha256(activation or QR session id)>`` | ``TICKET`` | | expiry + 1 day |
| failed answers in an hour | ``USER#<username>`` | ``FAILS#<YYYYMMDDHH>`` | | two hours later |
| audit event | ``AUDIT#<username>`` | ``<iso time>#<random>`` | | retention |
| login transaction | ``LOGIN#<sha256(login_id)>`` | ``LOGIN`` | | expiry + 1 day |
| session | ``SESSION#<sha256(token)>`` | ``SESSION`` | | expiry |
| service config | ``CONFIG`` | ``<name>`` | | |

Everything about one user that a login or ``/v1/me`` needs sits in one partition, so one
Query reads it; the audit trail has its own partition because it only grows.
"""
from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model


class Gsi1(GlobalSecondaryIndex):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Item(Model):
    class Meta:
        table_name: str | None = None  # bound by bind_table() before first use
        region: str | None = None

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    kind = DiscriminatorAttribute()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi1 = Gsi1()
    expires_ttl = TTLAttribute(null=True)


def bind_table(table_name: str, region: str) -> None:
    """Point every model at the deployed table. Called once per container (and again by
    tests that switch AWS endpoints, hence the reset of PynamoDB's per-class connections)."""
    Item.Meta.table_name = table_name
    Item.Meta.region = region
    pending: list[type[Model]] = [Item]
    while pending:
        model = pending.pop()
        model._connection = None
        pending.extend(model.__subclasses__())


def connection() -> Connection:
    """A connection for transactions, in the table's region."""
    return Connection(region=Item.Meta.region)


def user_pk(username: str) -> str:
    return f"USER#{username}"


class UserItem(Item, discriminator="user"):
    """pk ``USER#<username>``, sk ``PROFILE``; GSI1 ``ACCOUNT#<account_id>`` / ``USER#<username>``
    finds an account's users (and so its primary user). The identity is sealed (KMS envelope)."""

    username = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    account_id = UnicodeAttribute()
    entity_id = UnicodeAttribute()
    primary = BooleanAttribute()
    phones = ListAttribute(of=UnicodeAttribute, default=list)
    balance_usd = NumberAttribute()
    jurisdiction = UnicodeAttribute()
    sls_mode = UnicodeAttribute(default="always")
    restrictions = ListAttribute(of=UnicodeAttribute, default=list)
    preferred_device_id = UnicodeAttribute(null=True)
    awaiting_permanent_device = BooleanAttribute(default=False)
    reserves = MapAttribute(default=dict)
    sealed_identity = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()


class LockoutItem(Item, discriminator="lockout"):
    """pk ``USER#<username>``, sk ``LOCKOUT``; exists for unknown usernames too, so that
    they lock exactly like known ones. Expires with the lock."""

    failures = NumberAttribute(default=0)
    locked_until = UTCDateTimeAttribute(null=True)


class DeviceItem(Item, discriminator="device"):
    """pk ``USER#<username>``, sk ``DEVICE#<device_id>``; GSI1 ``DEVICE#<device_id>`` finds
    a device by id alone (the IB Key app knows only its device id)."""

    device_id = UnicodeAttribute()
    username = UnicodeAttribute()
    type = UnicodeAttribute()
    label = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    last_used_at = UTCDateTimeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    serial = UnicodeAttribute(null=True)
    ocra_suite = UnicodeAttribute(null=True)
    app_instance_id = UnicodeAttribute(null=True)
    platform = UnicodeAttribute(null=True)
    valid_until = UTCDateTimeAttribute(null=True)
    consecutive_failures = NumberAttribute(default=0)
    locked_until = UTCDateTimeAttribute(null=True)
    lock_count = NumberAttribute(default=0)
    sealed_secret = UnicodeAttribute(null=True)
    last_challenge = UnicodeAttribute(null=True)
    public_key = UnicodeAttribute(null=True)
    push_endpoint = UnicodeAttribute(null=True)
    full_access_until = UTCDateTimeAttribute(null=True)
    shared_from = UnicodeAttribute(null=True)


class FailureCountItem(Item, discriminator="failures"):
    """pk ``USER#<username>``, sk ``FAILS#<YYYYMMDDHH>``: wrong second-factor answers in
    one UTC hour, for the per-user hourly guard. Expires two hours after its hour."""

    count = NumberAttribute(default=0)


class PushGuardItem(Item, discriminator="push_guard"):
    """pk ``USER#<username>``, sk ``PUSHES``: pushes sent and not yet answered since
    ``window_start`` (the push-bombing guard)."""

    window_start = UTCDateTimeAttribute()
    unanswered = NumberAttribute(default=0)


class AppInstanceItem(Item, discriminator="app_instance"):
    """pk ``APP#<app_instance_id>``, sk ``INSTANCE``: one install of the app. Its PIN is
    kept as an Argon2id hash; each user on it is a device item of its own."""

    app_instance_id = UnicodeAttribute()
    pin_hash = UnicodeAttribute()
    platform = UnicodeAttribute()
    push_endpoint = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class DeviceRequestItem(Item, discriminator="device_request"):
    """pk ``REQUEST#<request_id>``, sk ``REQUEST``: a DSC+ the user asked for, until the
    back office fulfils it. The PIN the user chose is kept sealed until then."""

    request_id = UnicodeAttribute()
    username = UnicodeAttribute()
    reason = UnicodeAttribute()
    fee_usd = NumberAttribute()
    status = UnicodeAttribute()
    sealed_pin = UnicodeAttribute()
    replaces_device_id = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()


class ShareItem(Item, discriminator="share"):
    """pk ``SHARE#<sha256(share_id)>``, sk ``SHARE``: a request to use another username's
    physical device. Shares waiting for Compliance are on GSI1 (``SHARES#pending_compliance``,
    by creation time), so the back office lists them with a Query."""

    share_id = UnicodeAttribute()  # kept: the back office acts on it
    requester = UnicodeAttribute()
    owner = UnicodeAttribute()
    device_id = UnicodeAttribute()
    status = UnicodeAttribute()
    same_entity = BooleanAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    attempts = NumberAttribute(default=0)
    check_data = MapAttribute(default=dict)
    deactivated = ListAttribute(of=UnicodeAttribute, default=list)
    reason = UnicodeAttribute(null=True)


class TicketItem(Item, discriminator="ticket"):
    """pk ``TICKET#<sha256(id)>``, sk ``TICKET``: a single-use permission to enrol an IB
    Key: an SMS activation token (``code_digest`` set, 5 attempts) or a QR session."""

    username = UnicodeAttribute()
    purpose = UnicodeAttribute()
    expires_at = UTCDateTimeAttribute()
    used = BooleanAttribute(default=False)
    attempts = NumberAttribute(default=0)
    code_digest = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    details = MapAttribute(default=dict)


class LedgerItem(Item, discriminator="ledger"):
    """pk ``USER#<username>``, sk ``LEDGER``: authorized withdrawals per UTC day (USD), the
    last few weeks. ``version`` makes check-and-record one conditional write."""

    days = MapAttribute(default=dict)
    version = VersionAttribute()


class ThrottleItem(Item, discriminator="throttle"):
    """pk ``USER#<username>``, sk ``THROTTLE#<purpose>``: when the last message of that
    purpose was sent. A conditional write reserves the next send."""

    last_sent_at = UTCDateTimeAttribute()


class AuditItem(Item, discriminator="audit"):
    """pk ``AUDIT#<username>``, sk ``<iso time>#<random>``: append-only (written with
    ``attribute_not_exists``), read newest first."""

    type = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    details = MapAttribute(default=dict)


class ChallengeAttribute(MapAttribute):
    device_id = UnicodeAttribute()
    method = UnicodeAttribute()
    issued_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    check_data = MapAttribute(default=dict)


class LoginItem(Item, discriminator="login"):
    """pk ``LOGIN#<sha256(login_id)>``, sk ``LOGIN``. ``version`` changes with every
    challenge, so an answer counts only against the challenge it was given for."""

    username = UnicodeAttribute()
    device_ids = ListAttribute(of=UnicodeAttribute, default=list)
    expires_at = UTCDateTimeAttribute()
    status = UnicodeAttribute(default="pending")
    scope = UnicodeAttribute(default="full")
    challenge = ChallengeAttribute(null=True)
    challenge_version = NumberAttribute(default=0)
    attempts = NumberAttribute(default=0)
    session_handed_out = BooleanAttribute(default=False)
    purpose = UnicodeAttribute(default="login")
    amount_usd = NumberAttribute(null=True)


class SessionItem(Item, discriminator="session"):
    """pk ``SESSION#<sha256(token)>``, sk ``SESSION``. Deleting it revokes the session."""

    username = UnicodeAttribute()
    scope = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    device_id = UnicodeAttribute(null=True)


class ConfigItem(Item, discriminator="config"):
    """pk ``CONFIG``, sk ``<name>``: service-wide values, such as the code-digest key
    encrypted under KMS."""

    value = UnicodeAttribute()
