"""IB Key activation: by an SMS token after the password, or by a QR code / session ID
shown to a logged-in portal user; and "Add user" to an app that already has users."""
from __future__ import annotations

import math
import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from securelogin.adapters.enrolment import EnrolmentStore
from securelogin.adapters.messaging import DeliveryFailed, MessageSender, PushEndpoints
from securelogin.adapters.stores import StaleWrite, ThrottleStore
from securelogin.clock import Clock
from securelogin.crypto.codes import code_digest, digests_match, lookup_key, numeric_code, random_token
from securelogin.crypto.passwords import hash_password, verify_password
from securelogin.crypto.signatures import InvalidPublicKey, load_p256_public_key
from securelogin.domain.factors.ib_key import IB_KEY_SUITE
from securelogin.domain.models import AppInstance, Device, DeviceStatus, DeviceType, OutgoingMessage, Ticket, User
from securelogin.domain.phones import mask
from securelogin.domain.pins import IB_KEY_PIN, PersonalData, pin_problem
from securelogin.errors import Conflict, Gone, InvalidInput, Throttled, Unauthenticated, Unavailable
from securelogin.policy import Policy
from securelogin.services.audit import AuditTrail
from securelogin.services.devices import DeviceService
from securelogin.services.notify import Notifier
from securelogin.services.passwords import PasswordGate
from securelogin.services.users import UserService, new_device_id

PURPOSE = "activation"
QR_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class AppEnrolment:
    """What the app sends to enrol: its PIN, P-256 public key, platform and push token."""
    pin: str
    public_key: str
    platform: str
    app_instance_id: str | None = None
    push_token: str | None = None


@dataclass(frozen=True)
class Enrolled:
    device_id: str
    app_instance_id: str
    ocra_suite: str
    ocra_secret_hex: str  # handed to the app once


@dataclass(frozen=True)
class ActivationStarted:
    activation_id: str
    sent_to: str
    expires_at: datetime


@dataclass(frozen=True)
class QrSession:
    session_id: str
    expires_at: datetime


@dataclass(frozen=True)
class _Plan:
    user: User
    instance: AppInstance
    new_instance: bool
    revoke: list[Device]


class ActivationService:
    def __init__(self, passwords: PasswordGate, users: UserService, store: EnrolmentStore,
                 throttles: ThrottleStore, sender: MessageSender, push: PushEndpoints, devices: DeviceService,
                 code_key, audit: AuditTrail, notifier: Notifier, clock: Clock, policy: Policy) -> None:
        self._passwords = passwords
        self._users = users
        self._store = store
        self._throttles = throttles
        self._sender = sender
        self._push = push
        self._devices = devices
        self._code_key = code_key
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._policy = policy

    # ------------------------------------------------------------------ by SMS token

    def start_by_sms(self, username: str, password: str, phone: str) -> ActivationStarted:
        self._passwords.check(username, password, PURPOSE)
        return self.send_token(username, phone, PURPOSE, {})

    def send_token(self, username: str, phone: str, purpose: str, details: dict[str, str]) -> ActivationStarted:
        """Texts an activation token to ``phone`` (the password was checked by the caller)."""
        now = self._clock.now()
        wait = self._throttles.reserve(username, purpose, now, self._policy.resend_interval)
        if wait is not None:
            raise Throttled("resend_too_soon", "A code was sent recently. Wait before asking again.",
                            math.ceil(wait.total_seconds()))
        activation_id = random_token(16)
        key = lookup_key(activation_id)
        code = numeric_code(self._policy.activation_code_digits)
        expires_at = now + self._policy.activation_ttl
        minutes = int(self._policy.activation_ttl.total_seconds() // 60)
        try:
            self._store.create_ticket(Ticket(key=key, username=username, purpose=purpose, expires_at=expires_at,
                                             code_digest=code_digest(self._code_key(), f"{purpose}:{key}", code),
                                             phone=phone, details=details))
            self._sender.send(OutgoingMessage("sms", phone, f"Your IB Key activation code is {code}. "
                                                            f"It expires in {minutes} minutes. Never share it."))
        except DeliveryFailed:
            self._throttles.release(username, purpose, now)
            raise Unavailable("delivery_failed", "The message could not be sent. Try again.") from None
        self._audit.record(username, f"{purpose}.code_sent", phone=mask(phone))
        return ActivationStarted(activation_id, mask(phone), expires_at)

    def complete_by_sms(self, activation_id: str, code: str, app: AppEnrolment) -> Enrolled:
        ticket = self.open_ticket(lookup_key(activation_id), PURPOSE, "activation_expired")
        if ticket.code_digest is None:
            raise Gone("activation_expired", "This activation has expired or was used. Start again.")
        return self.complete_with_code(ticket, code, app, replacing=False, gone_code="activation_expired")

    def open_ticket(self, key: str, purpose: str, gone_code: str) -> Ticket:
        """The ticket behind a flow id, while it can still be used."""
        ticket = self._store.ticket(key)
        if (ticket is None or ticket.used or self._clock.now() >= ticket.expires_at or ticket.purpose != purpose
                or ticket.attempts >= self._policy.activation_attempts):
            raise Gone(gone_code, "This has expired or was used. Start again.")
        return ticket

    def complete_with_code(self, ticket: Ticket, code: str, app: AppEnrolment, replacing: bool,
                           gone_code: str) -> Enrolled:
        now = self._clock.now()
        plan = self.plan(ticket.username, app, now, replacing)  # a refused PIN or key spends no attempt
        expected = ticket.code_digest or ""
        if not digests_match(expected, code_digest(self._code_key(), f"{ticket.purpose}:{ticket.key}", code.strip())):
            left = self.count_wrong_answer(ticket, gone_code)
            raise Unauthenticated("invalid_activation_code", "That activation code is not right.", attempts_left=left)
        return self.enrol(ticket, app, plan, gone_code)

    def count_wrong_answer(self, ticket: Ticket, gone_code: str) -> int:
        """Counts a wrong token or response against a ticket; returns the attempts left."""
        try:
            used = self._store.record_wrong_code(ticket.key, self._policy.activation_attempts)
        except StaleWrite:
            raise Gone(gone_code, "This has expired or was used. Start again.") from None
        return self._policy.activation_attempts - used

    # ------------------------------------------------------------------ by QR code / session ID

    def start_by_qr(self, username: str) -> QrSession:
        now = self._clock.now()
        session_id = "".join(secrets.choice(QR_ALPHABET) for _ in range(self._policy.qr_session_length))
        expires_at = now + self._policy.qr_ttl
        self._store.create_ticket(Ticket(key=lookup_key(session_id), username=username, purpose=PURPOSE,
                                         expires_at=expires_at))
        self._audit.record(username, "activation.qr_issued")
        return QrSession(session_id, expires_at)

    def complete_by_qr(self, session_id: str, app: AppEnrolment) -> Enrolled:
        now = self._clock.now()
        ticket = self._store.ticket(lookup_key(session_id))
        if ticket is None or ticket.used or now >= ticket.expires_at or ticket.code_digest is not None:
            raise Gone("qr_expired_or_used", "This QR code has expired or was used. Ask for a new one.")
        return self.enrol(ticket, app, self.plan(ticket.username, app, now, replacing=False), "qr_expired_or_used")

    # ------------------------------------------------------------------ enrolment

    def plan(self, username: str, app: AppEnrolment, now: datetime, replacing: bool) -> _Plan:
        """Every check that needs no token: the key, the app instance and its PIN.
        ``replacing`` (recovery) lets a user re-enrol on an app they are already on."""
        try:
            load_p256_public_key(app.public_key)
        except InvalidPublicKey:
            raise InvalidInput("invalid_public_key", "public_key: base64 of a P-256 DER public key") from None
        seen = self._users.view(username)
        instance = self._store.app_instance(app.app_instance_id) if app.app_instance_id else None
        keys = [d for d in seen.devices if d.type == DeviceType.IB_KEY and d.status == DeviceStatus.ACTIVE]
        if instance is not None:
            if not replacing and any(d.app_instance_id == instance.app_instance_id for d in keys):
                raise Conflict("already_enrolled", "This user is already on this app.")
            if not verify_password(instance.pin_hash, app.pin):
                raise Unauthenticated("invalid_pin", "That is not this app's PIN.")
            return _Plan(seen.user, instance, False, keys)
        problem = pin_problem(app.pin, IB_KEY_PIN, PersonalData.of(seen.identity, seen.user.phones))
        if problem:
            raise InvalidInput("weak_pin", f"The PIN {problem}. Choose 4 to 6 characters that are hard to guess.")
        instance = AppInstance(app_instance_id=app.app_instance_id or "app_" + secrets.token_hex(12),
                               pin_hash=hash_password(app.pin), platform=app.platform, created_at=now)
        return _Plan(seen.user, instance, True, keys)

    def enrol(self, ticket: Ticket, app: AppEnrolment, plan: _Plan, gone_code: str) -> Enrolled:
        """Spends the ticket and enrols the app (the proof of possession was checked)."""
        now = self._clock.now()
        instance = plan.instance
        if app.push_token:
            endpoint = self._push.register(app.platform, app.push_token, instance.app_instance_id)
            instance = AppInstance(instance.app_instance_id, instance.pin_hash, instance.platform,
                                   instance.created_at, endpoint or instance.push_endpoint)
        secret_hex = secrets.token_hex(32)
        device_id = new_device_id()
        device = Device(device_id=device_id, username=ticket.username, type=DeviceType.IB_KEY,
                        label=f"IB Key ({app.platform})", status=DeviceStatus.ACTIVE, created_at=now,
                        ocra_suite=IB_KEY_SUITE, app_instance_id=instance.app_instance_id, platform=app.platform,
                        public_key=app.public_key, push_endpoint=instance.push_endpoint,
                        sealed_secret=self._devices.seal_secret(device_id, {"seed_hex": secret_hex}))
        try:
            self._store.enrol(ticket, now, self._policy.activation_attempts, device, instance, plan.new_instance,
                              plan.revoke)
        except StaleWrite:
            raise Gone(gone_code, "This activation has expired or was used. Start again.") from None
        self._audit.record(ticket.username, "device.added", device_id=device_id, device_type="ib_key",
                           app_instance_id=instance.app_instance_id, via=ticket.purpose)
        for old in plan.revoke:
            self._audit.record(ticket.username, "device.revoked", device_id=old.device_id, replaced_by=device_id)
        self._notifier.tell(plan.user, "IB Key was activated on a phone for your account. "
                                  "If this was not you, call Client Services.")
        return Enrolled(device_id, instance.app_instance_id, IB_KEY_SUITE, secret_hex)
