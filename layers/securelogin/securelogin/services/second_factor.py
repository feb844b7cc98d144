"""What every flow confirmed by a device shares (a login, a withdrawal): the devices
offered, one challenge at a time, and an answer checked against the limits of rules.md:
5 wrong answers per transaction, 10 in a row lock the device, 100 per user per hour.
The flow knows no device type: the factor registry issues and checks challenges."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from securelogin.adapters.messaging import DeliveryFailed, MessageSender
from securelogin.adapters.stores import LoginStore, StaleWrite, ThrottleStore, UserStore
from securelogin.clock import Clock
from securelogin.crypto.codes import lookup_key
from securelogin.domain.factors import ChallengeContext, FactorRegistry, UnsupportedMethod
from securelogin.domain.models import Challenge, Device, DeviceStatus, LoginStatus, LoginTransaction
from securelogin.errors import Conflict, Gone, InvalidInput, Locked, NotFound, Throttled, Unauthenticated, Unavailable
from securelogin.policy import Policy
from securelogin.services.audit import AuditTrail
from securelogin.services.passwords import seconds_until

GONE_CODES = {"login": "login_expired", "withdrawal": "withdrawal_expired"}


@dataclass(frozen=True)
class ChallengeIssued:
    device: Device
    method: str
    public: dict


@dataclass(frozen=True)
class RightAnswer:
    """A transaction whose challenge was answered; the caller's write must still be
    conditional on ``version``, so that the answer counts once."""
    txn: LoginTransaction
    version: int
    device: Device
    challenge: Challenge
    now: datetime


class SecondFactorFlow:
    def __init__(self, users: UserStore, transactions: LoginStore, throttles: ThrottleStore,
                 factors: FactorRegistry, sender: MessageSender, audit: AuditTrail, clock: Clock,
                 policy: Policy) -> None:
        self._users = users
        self._transactions = transactions
        self._throttles = throttles
        self._factors = factors
        self._sender = sender
        self._audit = audit
        self._clock = clock
        self._policy = policy

    def gone(self, purpose: str) -> Gone:
        return Gone(GONE_CODES.get(purpose, "expired"), f"This {purpose} has expired or is no longer open.")

    def open(self, flow_id: str, purpose: str, owner: str | None = None) -> tuple[LoginTransaction, int]:
        """The pending transaction behind ``flow_id``; ``owner`` if only they may act on it."""
        found = self._transactions.get(lookup_key(flow_id))
        if found is None or found[0].purpose != purpose or (owner is not None and found[0].username != owner):
            raise self.gone(purpose)
        if found[0].status_at(self._clock.now()) != LoginStatus.PENDING:
            raise self.gone(purpose)
        return found

    def challenge(self, flow_id: str, purpose: str, device_id: str, method: str | None, owner: str | None = None,
                  allow: Callable[[Device], None] | None = None,
                  opened: tuple[LoginTransaction, int] | None = None) -> ChallengeIssued:
        """Issues a challenge on one of the offered devices; ``allow`` may refuse a device.
        ``opened`` is the transaction when the caller has just opened it."""
        now = self._clock.now()
        txn, version = opened or self.open(flow_id, purpose, owner)
        device = self.usable(self._users.get_device(txn.username, device_id) if device_id in txn.device_ids
                             else None, now)
        if allow is not None:
            allow(device)
        factor = self._factors.for_type(device.type)
        context = ChallengeContext(purpose, txn.key, now, flow_id)
        # Without a method asked for, the first one this device supports (an app without
        # push notifications falls back to challenge/response).
        for candidate in [method] if method else list(factor.methods):
            try:
                issued = factor.issue(device, candidate, context)
            except UnsupportedMethod:
                continue
            method = candidate
            break
        else:
            raise InvalidInput("unsupported_method", f"This device cannot be challenged by {method}.")
        push = issued.message is not None and issued.message.channel == "push"
        if issued.message is not None:
            if push:
                wait = self._throttles.count_push(txn.username, now, self._policy.push_window,
                                                  self._policy.pushes_per_window)
            else:
                wait = self._throttles.reserve(txn.username, purpose, now, self._policy.resend_interval)
            if wait is not None:
                raise Throttled("resend_too_soon", "Too many requests sent recently. Wait before asking again.",
                                math.ceil(wait.total_seconds()))
        challenge = Challenge(device_id=device.device_id, method=method, issued_at=now,
                              expires_at=min(issued.expires_at, txn.expires_at), check_data=issued.check_data)
        try:
            self._transactions.set_challenge(txn.key, version, challenge)
            if issued.remember is not None:
                self._users.remember_challenge(device, issued.remember)
            if issued.message is not None:
                self._sender.send(issued.message)
        except (StaleWrite, DeliveryFailed) as exc:
            if push:
                self._throttles.push_answered(txn.username)
            elif issued.message is not None:
                self._throttles.release(txn.username, purpose, now)
            if isinstance(exc, StaleWrite):
                raise Conflict("challenge_in_progress", "Another challenge was just issued.") from None
            raise Unavailable("delivery_failed", "The message could not be sent. Try again.") from None
        return ChallengeIssued(device, method, issued.public)

    def check(self, flow_id: str, purpose: str, response: str, owner: str | None = None) -> RightAnswer:
        """Checks an answer: returns when it is right, raises (and counts) when it is not."""
        now = self._clock.now()
        txn, version = self.open(flow_id, purpose, owner)
        if txn.attempts >= self._policy.attempts_per_transaction:
            raise Throttled("too_many_attempts", f"Too many wrong answers. Start a new {purpose}.",
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
        device = self.usable(device, now)
        if recent_failures >= self._policy.user_failures_per_hour:
            raise Throttled("too_many_attempts", "Too many wrong answers in the last hour. Try again later.",
                            int(self._policy.user_failure_window.total_seconds()) - now.minute * 60 - now.second)
        if self._factors.for_type(device.type).check(device, challenge, response,
                                                     ChallengeContext(purpose, txn.key, now)):
            return RightAnswer(txn, version, device, challenge, now)

        try:
            used = self._transactions.record_wrong_answer(txn.key, version, self._policy.attempts_per_transaction)
        except StaleWrite:
            raise self.gone(purpose) from None
        after = self._users.record_device_failure(device, now, self._policy.device_lock_after,
                                                  self._policy.device_lock_duration)
        self._users.record_answer_failure(txn.username, now)
        left = self._policy.attempts_per_transaction - used
        self._audit.record(txn.username, f"{purpose}.failed", device_id=device.device_id,
                           device_type=device.type.value, attempts_left=left)
        if after.locked_until and after.locked_until > now and after.lock_count > device.lock_count:
            self._audit.record(txn.username, "device.locked", device_id=device.device_id,
                               until=after.locked_until.isoformat())
            raise Locked("device_locked", "Too many wrong answers: this device is locked for a while.",
                         retry_after_seconds=seconds_until(after.locked_until, now))
        raise Unauthenticated("invalid_response", "That response is not right.", attempts_left=left)

    @staticmethod
    def usable(device: Device | None, now: datetime) -> Device:
        if device is None or not device.usable_at(now):
            raise NotFound("device_not_found", "That device is not one offered here.")
        if device.status_at(now) == DeviceStatus.LOCKED:
            assert device.locked_until is not None
            raise Locked("device_locked", "This device is locked for a while after too many wrong answers.",
                         retry_after_seconds=seconds_until(device.locked_until, now))
        return device
