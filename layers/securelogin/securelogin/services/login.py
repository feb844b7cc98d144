"""Login: the password step, then one device's challenge and its answer (M2FS).

This flow knows no device type: the factor registry issues and checks challenges.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from securelogin.adapters.messaging import DeliveryFailed, MessageSender
from securelogin.adapters.stores import LoginStore, PushDecisionStore, StaleWrite, ThrottleStore, UserStore
from securelogin.clock import Clock
from securelogin.crypto.codes import lookup_key, random_token
from securelogin.domain.factors import ChallengeContext, FactorRegistry, UnsupportedMethod
from securelogin.domain.models import Challenge, Device, DeviceStatus, LoginStatus, LoginTransaction, Scope
from securelogin.errors import Conflict, Gone, InvalidInput, Locked, NotFound, Throttled, Unauthenticated, Unavailable
from securelogin.policy import Policy
from securelogin.services.audit import AuditTrail
from securelogin.services.passwords import PasswordGate, seconds_until
from securelogin.services.sessions import GrantedSession, SessionService

PURPOSE = "login"


@dataclass(frozen=True)
class ClientInfo:
    platform: str  # portal, tws, mobile
    version: int | None = None


@dataclass(frozen=True)
class LoginStarted:
    login_id: str
    expires_at: datetime
    devices: list[Device]
    default_device_id: str | None


@dataclass(frozen=True)
class ChallengeIssued:
    device: Device
    method: str
    public: dict


def default_device(devices: list[Device], preferred_id: str | None) -> Device | None:
    """The user's preferred device, else the most secure, ties to the most recently used."""
    for device in devices:
        if device.device_id == preferred_id:
            return device
    if not devices:
        return None
    return max(devices, key=lambda d: (d.security_level, d.last_used_at or d.created_at))


class LoginService:
    def __init__(self, passwords: PasswordGate, users: UserStore, logins: LoginStore, decisions: PushDecisionStore,
                 throttles: ThrottleStore, sessions: SessionService, factors: FactorRegistry, sender: MessageSender,
                 audit: AuditTrail, clock: Clock, policy: Policy) -> None:
        self._passwords = passwords
        self._decisions = decisions
        self._users = users
        self._logins = logins
        self._throttles = throttles
        self._sessions = sessions
        self._factors = factors
        self._sender = sender
        self._audit = audit
        self._clock = clock
        self._policy = policy

    # ------------------------------------------------------------------ password step

    def start(self, username: str, password: str, client: ClientInfo) -> LoginStarted:
        found = self._passwords.check(username, password, PURPOSE)
        assert found.user is not None
        now = self._clock.now()

        usable = [d for d in found.devices if d.usable_at(now) and d.type in self._factors.types()]
        default = default_device(usable, found.user.preferred_device_id)
        offered = usable
        if (client.platform == "tws" and client.version is not None
                and client.version < self._policy.tws_min_version_with_choice):
            offered = [default] if default else []

        login_id = random_token(16)
        txn = LoginTransaction(key=lookup_key(login_id), username=username,
                               device_ids=[d.device_id for d in offered], expires_at=now + self._policy.login_ttl)
        self._logins.create(txn)
        return LoginStarted(login_id, txn.expires_at, offered, default.device_id if default else None)

    # ------------------------------------------------------------------ second factor

    def challenge(self, login_id: str, device_id: str, method: str | None) -> ChallengeIssued:
        now = self._clock.now()
        txn, version = self._open(login_id, now)
        device = self._device_of(txn, device_id, now)
        factor = self._factors.for_type(device.type)
        method = method or factor.methods[0]
        try:
            issued = factor.issue(device, method, ChallengeContext(PURPOSE, txn.key, now, login_id))
        except UnsupportedMethod:
            raise InvalidInput("unsupported_method", f"This device cannot be challenged by {method}.") from None
        push = issued.message is not None and issued.message.channel == "push"
        if issued.message is not None:
            if push:
                wait = self._throttles.count_push(txn.username, now, self._policy.push_window,
                                                  self._policy.pushes_per_window)
            else:
                wait = self._throttles.reserve(txn.username, PURPOSE, now, self._policy.resend_interval)
            if wait is not None:
                raise Throttled("resend_too_soon", "Too many requests sent recently. Wait before asking again.",
                                math.ceil(wait.total_seconds()))
        challenge = Challenge(device_id=device.device_id, method=method, issued_at=now,
                              expires_at=min(issued.expires_at, txn.expires_at), check_data=issued.check_data)
        try:
            self._logins.set_challenge(txn.key, version, challenge)
            if issued.remember is not None:
                self._users.remember_challenge(device, issued.remember)
            if issued.message is not None:
                self._sender.send(issued.message)
        except (StaleWrite, DeliveryFailed) as exc:
            if push:
                self._throttles.push_answered(txn.username)
            elif issued.message is not None:
                self._throttles.release(txn.username, PURPOSE, now)
            if isinstance(exc, StaleWrite):
                raise Conflict("challenge_in_progress", "Another challenge was just issued for this login.") from None
            raise Unavailable("delivery_failed", "The message could not be sent. Try again.") from None
        return ChallengeIssued(device, method, issued.public)

    def verify(self, login_id: str, response: str) -> GrantedSession:
        now = self._clock.now()
        txn, version = self._open(login_id, now)
        if txn.attempts >= self._policy.attempts_per_transaction:
            raise Throttled("too_many_attempts", "Too many wrong answers. Start a new login.",
                            seconds_until(txn.expires_at, now))
        challenge = txn.challenge
        if challenge is None:
            raise Conflict("no_challenge", "Ask for a challenge before answering.")
        if now >= challenge.expires_at:
            raise Gone("challenge_expired", "The challenge expired. Ask for a new one.")
        if challenge.method == "push":
            raise Conflict("answer_on_device", "Approve or deny on your phone, or ask for a challenge code.")
        device, recent_failures = self._users.device_and_failures(txn.username, challenge.device_id, now,
                                                                  self._policy.user_failure_window)
        device = self._usable(device, now)
        if recent_failures >= self._policy.user_failures_per_hour:
            raise Throttled("too_many_attempts", "Too many wrong answers in the last hour. Try again later.",
                            int(self._policy.user_failure_window.total_seconds()) - now.minute * 60 - now.second)
        factor = self._factors.for_type(device.type)
        context = ChallengeContext(PURPOSE, txn.key, now)

        if factor.check(device, challenge, response, context):
            scope = Scope.PORTAL_ONLY if device.scope_cap(now) == Scope.PORTAL_ONLY else txn.scope
            granted = self._sessions.new(txn.username, scope, device.device_id)
            try:
                self._logins.approve(txn.key, version, self._policy.attempts_per_transaction, granted.session,
                                     device, now)
            except StaleWrite:
                raise Gone("login_expired", "This login is no longer open.") from None
            self._audit.record(txn.username, "login.succeeded", device_id=device.device_id,
                               device_type=device.type.value, method=challenge.method, scope=scope.value)
            return granted

        try:
            used = self._logins.record_wrong_answer(txn.key, version, self._policy.attempts_per_transaction)
        except StaleWrite:
            raise Gone("login_expired", "This login is no longer open.") from None
        after = self._users.record_device_failure(device, now, self._policy.device_lock_after,
                                                  self._policy.device_lock_duration)
        self._users.record_answer_failure(txn.username, now)
        left = self._policy.attempts_per_transaction - used
        self._audit.record(txn.username, "login.failed", device_id=device.device_id, device_type=device.type.value,
                           attempts_left=left)
        if after.locked_until and after.locked_until > now and after.lock_count > device.lock_count:
            self._audit.record(txn.username, "device.locked", device_id=device.device_id,
                               until=after.locked_until.isoformat())
            raise Locked("device_locked", "Too many wrong answers: this device is locked for a while.",
                         retry_after_seconds=seconds_until(after.locked_until, now))
        raise Unauthenticated("invalid_response", "That response is not right.", attempts_left=left)

    def status(self, login_id: str) -> tuple[LoginStatus, GrantedSession | None]:
        """The login's status; the first read after a push approval also gets the session."""
        found = self._logins.get(lookup_key(login_id))
        if found is None:
            return LoginStatus.EXPIRED, None
        txn = found[0]
        status = txn.status_at(self._clock.now())
        if status != LoginStatus.APPROVED or txn.session_handed_out:
            return status, None
        device_id = txn.challenge.device_id if txn.challenge else None
        granted = self._sessions.new(txn.username, txn.scope, device_id)
        try:
            self._decisions.hand_out(txn.key, granted.session)
        except StaleWrite:  # another read got it first
            return status, None
        self._audit.record(txn.username, "login.succeeded", method="push", scope=txn.scope.value)
        return status, granted

    # ------------------------------------------------------------------ helpers

    def _open(self, login_id: str, now: datetime) -> tuple[LoginTransaction, int]:
        found = self._logins.get(lookup_key(login_id))
        if found is None or found[0].status_at(now) != LoginStatus.PENDING:
            raise Gone("login_expired", "This login has expired or is no longer open. Start again.")
        return found

    def _device_of(self, txn: LoginTransaction, device_id: str, now: datetime) -> Device:
        device = self._users.get_device(txn.username, device_id) if device_id in txn.device_ids else None
        return self._usable(device, now)

    @staticmethod
    def _usable(device: Device | None, now: datetime) -> Device:
        if device is None or not device.usable_at(now):
            raise NotFound("device_not_found", "That device is not one offered for this login.")
        if device.status_at(now) == DeviceStatus.LOCKED:
            assert device.locked_until is not None
            raise Locked("device_locked", "This device is locked for a while after too many wrong answers.",
                         retry_after_seconds=seconds_until(device.locked_until, now))
        return device
