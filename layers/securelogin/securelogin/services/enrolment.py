"""Enrolling the IBKR Mobile app as a user's IB Key, the part activation and recovery
share: the SMS token that proves the phone, the checks that need no token (the app's key,
its instance and PIN), and the enrolment itself, which completes the flow, binds the app
and revokes what it replaces in one transaction."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from securelogin.clock import Clock, seconds_until
from securelogin.crypto.passwords import hash_password, verify_password
from securelogin.crypto.signatures import InvalidPublicKey, load_p256_public_key
from securelogin.domain import statements
from securelogin.domain.factors.ib_key import IB_KEY_SUITE
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import AppInstance, Device, DeviceStatus, DeviceType, Flow, Purpose, User
from securelogin.domain.phones import mask
from securelogin.domain.pins import IB_KEY_PIN, PersonalData, pin_problem
from securelogin.errors import Conflict, InvalidInput, Locked, Unauthenticated
from securelogin.policy import Policy
from securelogin.ports import Completing, EnrolmentStore, PinLocked, PushEndpoints, Reservation, StaleWrite, together
from securelogin.retries import is_current
from securelogin.services.audit import AuditTrail
from securelogin.services.device_common import active_temporary
from securelogin.services.device_secrets import DeviceSecrets
from securelogin.services.flows import FlowEngine
from securelogin.services.notify import Notifier
from securelogin.services.users import UserService, new_device_id


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
class TokenSent:
    """A flow whose challenge is a token texted to a phone."""
    flow_id: str
    sent_to: str  # masked
    expires_at: datetime


@dataclass(frozen=True)
class EnrolmentPlan:
    """What ``IbKeyEnrolment.plan`` found, for ``enrol`` once the token or response is right."""
    user: User
    instance: AppInstance
    new_instance: bool
    revoke: list[Device]
    temporary: list[Device]  # a permanent device ends the temporary-code period


class IbKeyEnrolment:
    def __init__(self, users: UserService, store: EnrolmentStore, flows: FlowEngine, push: PushEndpoints,
                 device_secrets: DeviceSecrets, audit: AuditTrail, notifier: Notifier, clock: Clock,
                 policy: Policy) -> None:
        self._users = users
        self._store = store
        self._flows = flows
        self._push = push
        self._secrets = device_secrets
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._policy = policy

    def send_token(self, username: str, phone: str, purpose: Purpose, details: dict[str, str]) -> TokenSent:
        """A flow whose challenge is a token texted to ``phone`` (the caller checked the password)."""
        flow_id, flow = self._flows.start_with_code(
            purpose, username, self._policy.activation_ttl, phone, self._policy.activation_code_digits,
            statements.operation(purpose, username),
            also=self._audit.recording(username, f"{purpose.value}.code_sent", phone=mask(phone)), details=details)
        return TokenSent(flow_id, mask(phone), flow.expires_at)

    def plan(self, username: str, app: AppEnrolment, replacing: bool) -> EnrolmentPlan:
        """Every check that needs no token: the key, the app instance and its PIN.
        ``replacing`` (recovery) lets a user re-enrol on an app they are already on."""
        try:
            load_p256_public_key(app.public_key)
        except InvalidPublicKey:
            raise InvalidInput("invalid_public_key", "public_key: base64 of a P-256 DER public key") from None
        now = self._clock.now()
        seen = self._users.view(username)
        instance = self._store.app_instance(app.app_instance_id) if app.app_instance_id else None
        keys = [d for d in seen.devices if d.type == DeviceType.IB_KEY and d.status == DeviceStatus.ACTIVE]
        temporary = active_temporary(seen.devices)
        if instance is not None:
            if not replacing and any(d.app_instance_id == instance.app_instance_id for d in keys):
                raise Conflict("already_enrolled", "This user is already on this app.")
            self.check_app_pin(instance, app.pin, now, username)
            return EnrolmentPlan(seen.user, instance, False, keys, temporary)
        problem = pin_problem(app.pin, IB_KEY_PIN, PersonalData.of(seen.identity, seen.user.phones))
        if problem:
            raise InvalidInput("weak_pin", f"The PIN {problem}. Choose 4 to 6 characters that are hard to guess.")
        instance = AppInstance(app_instance_id=app.app_instance_id or "app_" + secrets.token_hex(12),
                               pin_hash=hash_password(app.pin), platform=app.platform, created_at=now)
        return EnrolmentPlan(seen.user, instance, True, keys, temporary)

    def check_app_pin(self, instance: AppInstance, pin: str, now: datetime, username: str) -> None:
        """An app instance's PIN, guessed at most ``app_pin_attempts`` times in a row
        before it locks (doubling), whatever flow asks: each guess is counted first."""
        policy = self._policy
        try:
            self._store.take_pin_attempt(instance, now, policy.app_pin_attempts)
        except PinLocked as locked:
            raise Locked("pin_locked", "Too many wrong PINs for this app: try again later.",
                         retry_after_seconds=max(1, seconds_until(locked.until, now))) from None
        if verify_password(instance.pin_hash, pin):
            self._store.pin_was_right(instance)
            return
        until = self._store.lock_pin_if_due(instance, now, policy.app_pin_attempts, policy.app_pin_lock_duration)
        self._audit.record(username, "app.pin_failed", app_instance_id=instance.app_instance_id,
                           locked=until is not None)
        raise Unauthenticated("invalid_pin", "That is not this app's PIN.")

    def made_by_this_request(self, purpose: Purpose, flow: Flow | None) -> Enrolled:
        """The answer to the enrolment that completed ``flow``, when the request now running
        (its ``Idempotency-Key``, caller and body) is the one that completed it: its write
        committed, but its answer was lost. Anything else is gone, as a used flow is."""
        if flow is None or flow.confirmed_by is None or not is_current(flow.completed_by_request):
            raise self._flows.gone(purpose)
        _, devices = self._users.profile(flow.username)
        device = next((d for d in devices if d.device_id == flow.confirmed_by), None)
        if device is None or device.app_instance_id is None or device.status != DeviceStatus.ACTIVE:
            raise self._flows.gone(purpose)
        secret = self._secrets.open(device)
        assert secret.seed_hex is not None
        return Enrolled(device.device_id, device.app_instance_id, device.ocra_suite or IB_KEY_SUITE, secret.seed_hex)

    def enrol(self, flow: Flow, app: AppEnrolment, plan: EnrolmentPlan, reservation: Reservation | None,
              also: Completing | None = None) -> Enrolled:
        """Completes the flow and enrols the app (the proof of possession was checked), with
        its audit events and ``also`` (the caller's) in the same transaction."""
        now = self._clock.now()
        instance = plan.instance
        if app.push_token:
            endpoint = self._push.register(app.platform, app.push_token, instance.app_instance_id)
            instance = AppInstance(instance.app_instance_id, instance.pin_hash, instance.platform,
                                   instance.created_at, endpoint or instance.push_endpoint)
        secret_hex = secrets.token_hex(32)
        device_id = new_device_id()
        device = Device(device_id=device_id, username=flow.username, type=DeviceType.IB_KEY,
                        label=f"IB Key ({app.platform})", status=DeviceStatus.ACTIVE, created_at=now,
                        ocra_suite=IB_KEY_SUITE, app_instance_id=instance.app_instance_id, platform=app.platform,
                        public_key=app.public_key, push_endpoint=instance.push_endpoint,
                        sealed_secret=self._secrets.seal(device_id, DeviceSecret(seed_hex=secret_hex)))
        events = [self._audit.recording(flow.username, "device.added", device_id=device_id, device_type="ib_key",
                                        app_instance_id=instance.app_instance_id, via=flow.purpose.value,
                                        temporary_devices_revoked=len(plan.temporary))]
        events += [self._audit.recording(flow.username, "device.revoked", device_id=old.device_id,
                                         replaced_by=device_id) for old in plan.revoke]
        notice = self._notifier.notice(plan.user, "IB Key was activated on a phone for your account. "
                                                  "If this was not you, call Client Services.")
        try:
            self._store.enrol(flow, reservation, now, device, instance, plan.new_instance, plan.revoke,
                              plan.temporary, plan.user.devices_version, together(*events, notice, also))
        except StaleWrite:
            if self._flows.unchanged(flow):  # another device of the user's was enrolled at that moment
                raise Conflict("devices_changed", "Your devices changed meanwhile. Try again.") from None
            raise self._flows.gone(flow.purpose) from None
        return Enrolled(device_id, instance.app_instance_id, IB_KEY_SUITE, secret_hex)
