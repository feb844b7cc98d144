"""The service's single DynamoDB table, as PynamoDB models.

Key design (``pk`` / ``sk``; every access is by key, by a partition Query, or by GSI1):

| item | pk | sk | gsi1pk / gsi1sk | TTL |
|---|---|---|---|---|
| user profile | ``USER#<username>`` | ``PROFILE`` | ``ACCOUNT#<account_id>`` / ``USER#<username>`` | |
| password lockout | ``USER#<username>`` | ``LOCKOUT`` | | when the lock ends |
| device | ``USER#<username>`` | ``DEVICE#<device_id>`` | ``DEVICE#<device_id>`` / ``DEVICE`` | |
| withdrawn per UTC day | ``USER#<username>`` | ``SPENT#<YYYY-MM-DD>`` | | three weeks later |
| answers in the last hour | ``USER#<username>`` | ``ANSWERS`` | | |
| what was sent lately (challenges, pushes, denials, codes) | ``USER#<username>`` | ``GUARD`` | | a day later |
| IB Key app instance | ``APP#<app_instance_id>`` | ``INSTANCE`` | | |
| device share | ``SHARE#<sha256(share_id)>`` | ``SHARE`` | ``SHARES#<status>`` / created at (pending only) | |
| DSC+ request | ``REQUEST#<request_id>`` | ``REQUEST`` | | |
| audit event | ``AUDIT#<username>`` | ``<iso time>#<random>`` | | retention |
| flow in progress | ``FLOW#<purpose>#<sha256(flow id)>`` | ``FLOW`` | | expiry + 1 day |
| push sent to an IB Key | ``PUSH#<sha256(push id)>`` | ``PUSH`` | | expiry + 1 day |
| session | ``SESSION#<sha256(token)>`` | ``SESSION`` | | expiry |
| service config | ``CONFIG`` | ``<name>`` | | |
| kept answer (``Idempotency-Key``) | ``IDEMPOTENCY#<sha256(caller, key)>`` | ``KEPT`` | | a day after the answer |
| message to send after a change (outbox) | ``OUTBOX#<random id>`` | ``MESSAGE`` | | a week later |

Everything about one user that a login or ``/v1/me`` needs sits in one partition, so one
Query reads it; the audit trail has its own partition because it only grows. A flow's
key starts with its purpose: a login route looks an id up under ``FLOW#login#...`` only,
so a withdrawal's or a recovery's id is unknown there, whatever its value. A device shared
with another username is a link in that user's partition; its state stays in the owner's.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Self

from pynamodb.attributes import (
    BooleanAttribute,
    DiscriminatorAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
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

    @staticmethod
    def key(*parts: Any) -> tuple[str, str]:
        """The item's ``(pk, sk)`` from what names it; each item type says how."""
        raise NotImplementedError

    @classmethod
    def keyed(cls, *parts: Any, **attributes: Any) -> Self:
        """The item under its key, with nothing read: to write whole (with ``attributes``),
        update or delete."""
        pk, sk = cls.key(*parts)
        return cls(pk=pk, sk=sk, **attributes)

    @classmethod
    def find(cls, *parts: Any, consistent_read: bool = True) -> Self | None:
        """The stored item under its key, or None."""
        try:
            return cls.get(*cls.key(*parts), consistent_read=consistent_read)
        except cls.DoesNotExist:
            return None


def bind_table(table_name: str, region: str) -> None:
    """Point every model at the deployed table through one connection, and so one botocore
    client, for the life of the container. Called once per container (and again by tests
    that switch AWS endpoints). No AWS call happens here: the client is made on first use."""
    from securelogin.adapters.aws import CONNECT_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS, RETRIES

    Item.Meta.table_name = table_name
    Item.Meta.region = region
    Item.Meta.connect_timeout_seconds = CONNECT_TIMEOUT_SECONDS
    Item.Meta.read_timeout_seconds = READ_TIMEOUT_SECONDS
    Item.Meta.max_retry_attempts = RETRIES
    Item._connection = None
    shared = Item._get_connection()  # every model has Item's keys and index, so one schema serves all
    pending: list[type[Model]] = list(Item.__subclasses__())
    while pending:
        model = pending.pop()
        model._connection = shared
        pending.extend(model.__subclasses__())


def connection() -> Connection:
    """The container's connection, for transactions."""
    return Item._get_connection().connection


def user_pk(username: str) -> str:
    """The partition of everything about one username (a login reads it with one Query)."""
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
    open_request_id = UnicodeAttribute(null=True)
    devices_version = NumberAttribute(default=0)
    sealed_identity = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    @staticmethod
    def key(username: str) -> tuple[str, str]:
        return user_pk(username), "PROFILE"

    @staticmethod
    def account(account_id: str) -> str:
        """The GSI1 partition of an account's users."""
        return f"ACCOUNT#{account_id}"


class LockoutItem(Item, discriminator="lockout"):
    """pk ``USER#<username>``, sk ``LOCKOUT``; exists for unknown usernames too, so that
    they lock exactly like known ones. Expires with the lock."""

    failures = NumberAttribute(default=0)
    locked_until = UTCDateTimeAttribute(null=True)

    @staticmethod
    def key(username: str) -> tuple[str, str]:
        return user_pk(username), "LOCKOUT"


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
    open_pair = UnicodeAttribute(null=True)
    public_key = UnicodeAttribute(null=True)
    push_endpoint = UnicodeAttribute(null=True)
    full_access_until = UTCDateTimeAttribute(null=True)
    shared_from = UnicodeAttribute(null=True)
    credential_id = UnicodeAttribute(null=True)
    sign_count = NumberAttribute(null=True)

    INDEXED = "DEVICE"  # gsi1sk of a device found by its id

    @staticmethod
    def key(username: str, device_id: str) -> tuple[str, str]:
        return user_pk(username), f"DEVICE#{device_id}"

    @staticmethod
    def by_id(device_id: str) -> str:
        """The GSI1 partition of a device (its owner's item only)."""
        return f"DEVICE#{device_id}"


class AnswerSlotsItem(Item, discriminator="answer_slots"):
    """pk ``USER#<username>``, sk ``ANSWERS``: the per-user cap on answers to challenges,
    exact over any window. ``slots`` maps a slot number (``0`` .. cap-1) to the epoch
    milliseconds of the answer that holds it. An answer takes a slot that is free or whose
    answer is older than the window, by a write conditional on that; a right answer gives
    its slot back. A slot is reused only a window after its last use, so no window ever
    holds more answers than there are slots. Created with the user."""

    slots = MapAttribute(default=dict)

    @staticmethod
    def key(username: str) -> tuple[str, str]:
        return user_pk(username), "ANSWERS"


class SendGuardItem(Item, discriminator="send_guard"):
    """pk ``USER#<username>``, sk ``GUARD``: the challenges issued to the user lately (epoch
    ms), the pushes that hold a place (push key -> epoch ms), the denials lately, and a
    pause of pushes (domain/guards.py). Written whole, on the condition that ``version`` is
    what was read; an approval removes its push and moves ``version`` on."""

    issued = ListAttribute(of=NumberAttribute, default=list)
    pushes = MapAttribute(default=dict)
    denials = ListAttribute(of=NumberAttribute, default=list)
    paused_until = UTCDateTimeAttribute(null=True)
    sent = MapAttribute(default=dict)  # purpose -> epoch ms of the last code by SMS or voice
    version = NumberAttribute(default=0)

    @staticmethod
    def key(username: str) -> tuple[str, str]:
        return user_pk(username), "GUARD"


class PushItem(Item, discriminator="push"):
    """pk ``PUSH#<sha256(push id)>``, sk ``PUSH``: a push sent to an IB Key, found by the id
    the app holds (never the flow's id), with what the app must sign over and the flow it
    answers (its purpose and key; the flow's challenge names the push while it is current). ``answered_at`` is
    set once, by the answer; ``withdrawn_at`` when the flow moved on before it expired."""

    username = UnicodeAttribute()
    holder = UnicodeAttribute()  # whose partition holds the device
    device_id = UnicodeAttribute()
    purpose = UnicodeAttribute()
    flow_key = UnicodeAttribute()
    nonce = UnicodeAttribute()
    statement = UnicodeAttribute()
    number_digest = UnicodeAttribute(null=True)
    expires_at = UTCDateTimeAttribute()
    answered_at = UTCDateTimeAttribute(null=True)
    withdrawn_at = UTCDateTimeAttribute(null=True)

    @staticmethod
    def key(push_key: str) -> tuple[str, str]:
        return f"PUSH#{push_key}", "PUSH"


class AppInstanceItem(Item, discriminator="app_instance"):
    """pk ``APP#<app_instance_id>``, sk ``INSTANCE``: one install of the app. Its PIN is
    kept as an Argon2id hash; each user on it is a device item of its own. A PIN guess
    takes one of ``pin_failures`` before it is checked; the last one locks the PIN."""

    app_instance_id = UnicodeAttribute()
    pin_hash = UnicodeAttribute()
    platform = UnicodeAttribute()
    push_endpoint = UnicodeAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    pin_failures = NumberAttribute(default=0)
    pin_locked_until = UTCDateTimeAttribute(null=True)
    pin_lock_count = NumberAttribute(default=0)

    @staticmethod
    def key(app_instance_id: str) -> tuple[str, str]:
        return f"APP#{app_instance_id}", "INSTANCE"


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

    @staticmethod
    def key(request_id: str) -> tuple[str, str]:
        return f"REQUEST#{request_id}", "REQUEST"


class ShareItem(Item, discriminator="share"):
    """pk ``SHARE#<sha256(share_id)>``, sk ``SHARE``: a request to use another username's
    physical device, from its challenge (a ``share`` flow under the same id) to its end.
    Shares waiting for Compliance are on GSI1 (``SHARES#pending_compliance``, by creation
    time), so the back office lists them with a Query."""

    share_id = UnicodeAttribute()  # kept: the back office acts on it
    requester = UnicodeAttribute()
    owner = UnicodeAttribute()
    device_id = UnicodeAttribute()
    status = UnicodeAttribute()
    same_entity = BooleanAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    deactivated = ListAttribute(of=UnicodeAttribute, default=list)
    reason = UnicodeAttribute(null=True)

    PENDING = "SHARES#pending_compliance"  # GSI1 partition of the shares Compliance must decide

    @staticmethod
    def key(share_key: str) -> tuple[str, str]:
        return f"SHARE#{share_key}", "SHARE"

    @property
    def share_key(self) -> str:
        return self.pk.removeprefix("SHARE#")


class SpentItem(Item, discriminator="spent"):
    """pk ``USER#<username>``, sk ``SPENT#<YYYY-MM-DD>``: USD authorized for withdrawal on
    one UTC day. Authorizing adds to it atomically, on the condition that the total stays
    inside the limits, so concurrent withdrawals that fit all pass."""

    total = NumberAttribute(default=0)

    @staticmethod
    def key(username: str, day: date) -> tuple[str, str]:
        return user_pk(username), f"SPENT#{day.isoformat()}"

    @property
    def day(self) -> date:
        return date.fromisoformat(self.sk.removeprefix("SPENT#"))


class AuditItem(Item, discriminator="audit"):
    """pk ``AUDIT#<username>``, sk ``<iso time>#<random>``: append-only (written with
    ``attribute_not_exists``), read newest first."""

    type = UnicodeAttribute()
    at = UTCDateTimeAttribute()
    details = MapAttribute(default=dict)

    @staticmethod
    def trail(username: str) -> str:
        """The partition of one username's audit trail."""
        return f"AUDIT#{username}"

    @staticmethod
    def key(username: str, at: datetime, nonce: str) -> tuple[str, str]:
        return AuditItem.trail(username), f"{at.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{nonce}"


class ChallengeAttribute(MapAttribute):
    device_id = UnicodeAttribute(null=True)
    method = UnicodeAttribute()
    issued_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    check_data = MapAttribute(default=dict)
    device = UnicodeAttribute(null=True)  # the device as challenged (its item, as JSON; secrets stay sealed)


class FlowItem(Item, discriminator="flow"):
    """pk ``FLOW#<purpose>#<sha256(flow id)>``, sk ``FLOW``: one flow in progress.
    ``challenge_version`` changes with every challenge, so an answer counts only against
    the challenge it was given for; ``attempts`` is taken before an answer is checked."""

    purpose = UnicodeAttribute()
    username = UnicodeAttribute()
    device_ids = ListAttribute(of=UnicodeAttribute, default=list)
    expires_at = UTCDateTimeAttribute()
    status = UnicodeAttribute(default="pending")
    scope = UnicodeAttribute(default="full")
    challenge = ChallengeAttribute(null=True)
    challenge_version = NumberAttribute(default=0)
    attempts = NumberAttribute(default=0)
    session_handed_out = BooleanAttribute(default=False)
    amount_usd = NumberAttribute(null=True)
    confirmed_by = UnicodeAttribute(null=True)
    details = MapAttribute(default=dict)
    statement = UnicodeAttribute(null=True)
    answered = UnicodeSetAttribute(null=True)  # counted answers of the current challenge (digest|slot|stamp)
    completed_by_request = UnicodeAttribute(null=True)  # retries.py: the keyed request that completed it

    @staticmethod
    def key(purpose: str, flow_key: str) -> tuple[str, str]:
        return f"FLOW#{purpose}#{flow_key}", "FLOW"

    @property
    def flow_key(self) -> str:
        return self.pk.rsplit("#", 1)[1]


class SessionItem(Item, discriminator="session"):
    """pk ``SESSION#<sha256(token)>``, sk ``SESSION``. Deleting it revokes the session."""

    username = UnicodeAttribute()
    scope = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    device_id = UnicodeAttribute(null=True)
    platform = UnicodeAttribute(null=True)
    proved_at = UTCDateTimeAttribute(null=True)
    proved_with = UnicodeAttribute(null=True)
    proved_by = UnicodeAttribute(null=True)

    @staticmethod
    def key(session_key: str) -> tuple[str, str]:
        return f"SESSION#{session_key}", "SESSION"

    @property
    def session_key(self) -> str:
        return self.pk.removeprefix("SESSION#")


class ConfigItem(Item, discriminator="config"):
    """pk ``CONFIG``, sk ``<name>``: service-wide values, such as the code-digest key
    encrypted under KMS."""

    value = UnicodeAttribute()

    @staticmethod
    def key(name: str) -> tuple[str, str]:
        return "CONFIG", name


class IdempotencyItem(Item, discriminator="idempotency"):
    """pk ``IDEMPOTENCY#<sha256(caller, key)>``, sk ``KEPT``: the first answer to a caller's
    ``Idempotency-Key`` (adapters/idempotency.py, api/idempotency.py). ``status`` is Powertools'
    (``INPROGRESS`` while the first request runs, until ``running_until_ms`` at the latest, then
    ``COMPLETED``); ``fingerprint`` hashes the request's method, path and body; ``answer`` is the
    kept answer as JSON, sealed under KMS when it carries a secret; ``token`` names the request
    that holds the item, so that a write retried after its answer was lost knows itself. The
    table's TTL deletes it 24 hours after the first answer."""

    status = UnicodeAttribute()
    fingerprint = UnicodeAttribute(null=True)
    running_until_ms = NumberAttribute(null=True)
    answer = UnicodeAttribute(null=True)
    token = UnicodeAttribute(null=True)

    SK = "KEPT"

    @staticmethod
    def key(idempotency_key: str) -> tuple[str, str]:
        """``idempotency_key``: ``IDEMPOTENCY#<hash>``, as the persistence layer names it."""
        return idempotency_key, IdempotencyItem.SK


class OutboxItem(Item, discriminator="outbox"):
    """pk ``OUTBOX#<random id>``, sk ``MESSAGE``: a message (a security notice, a push
    withdrawal) written in the transaction of the change it follows and sent after it
    commits by the consumer of the table's stream (functions/outbox). ``claimed_until``
    holds it for one delivery at a time; ``sent_at`` says it went out, so a stream record
    delivered twice sends it once. Each message has a partition of its own: nothing that a
    request reads grows with them."""

    channel = UnicodeAttribute()
    to = UnicodeAttribute()
    body = UnicodeAttribute()
    data = MapAttribute(null=True)
    username = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    claimed_until = UTCDateTimeAttribute(null=True)
    sent_at = UTCDateTimeAttribute(null=True)
    failures = NumberAttribute(default=0)

    PREFIX = "OUTBOX#"
    SK = "MESSAGE"

    @staticmethod
    def key(outbox_id: str) -> tuple[str, str]:
        return f"{OutboxItem.PREFIX}{outbox_id}", OutboxItem.SK
