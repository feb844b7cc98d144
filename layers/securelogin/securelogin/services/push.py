"""Answers from the IB Key app to a push: approve or deny, signed with the app's key.
A push confirms a login or a withdrawal; ``transaction_id`` is that flow's id."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from securelogin.clock import Clock, seconds_until
from securelogin.crypto.codes import digests_match, lookup_key
from securelogin.crypto.signatures import push_decision_message, signature_is_valid
from securelogin.domain.models import Device, DeviceStatus, Flow, FlowStatus, Method, Purpose, PushDecision
from securelogin.errors import Gone, Locked, NotFound, Unauthenticated
from securelogin.observability import Metric, count
from securelogin.ports import Completing, DeviceStore, FlowStore, StaleWrite, ThrottleStore
from securelogin.services.audit import AuditTrail

EXPIRED = "This request has expired or was already answered."
# The flows a push can confirm; a push answer names the flow by its id alone.
PUSHED = (Purpose.LOGIN, Purpose.WITHDRAWAL)


class PushService:
    def __init__(self, devices: DeviceStore, flows: FlowStore, throttles: ThrottleStore,
                 authorize_withdrawal: Callable[[Flow, Device, datetime, None, Completing], object],
                 audit: AuditTrail, clock: Clock) -> None:
        self._authorize_withdrawal = authorize_withdrawal
        self._devices = devices
        self._flows = flows
        self._throttles = throttles
        self._audit = audit
        self._clock = clock

    def answer(self, device_id: str, transaction_id: str, nonce: str, decision: PushDecision,
               signature: str) -> FlowStatus:
        now = self._clock.now()
        device = self._devices.by_id(device_id)
        if device is None or device.status != DeviceStatus.ACTIVE or not device.public_key:
            raise NotFound("device_not_found", "No such active IB Key.")
        if device.locked_until and device.locked_until > now:  # a locked device answers nothing
            raise Locked("device_locked", "This device is locked for a while after too many wrong answers.",
                         retry_after_seconds=seconds_until(device.locked_until, now))
        if not signature_is_valid(device.public_key, push_decision_message(transaction_id, nonce, decision.value),
                                  signature):
            self._audit.record(device.username, "push.invalid_signature", device_id=device_id)
            raise Unauthenticated("invalid_signature", "The signature does not verify with this device's key.")
        flow = self._flows.first_of(PUSHED, lookup_key(transaction_id))
        if flow is None:
            raise Gone("expired", EXPIRED)
        challenge = flow.challenge
        if (flow.status_at(now) != FlowStatus.PENDING or flow.username != device.username or challenge is None
                or challenge.method != Method.PUSH or challenge.device_id != device_id or now >= challenge.expires_at
                or not digests_match(challenge.check_data.get("nonce", ""), nonce)):
            raise Gone("expired", EXPIRED)
        approve = decision == PushDecision.APPROVE
        event = self._audit.recording(device.username,
                                      f"{flow.purpose.value}.push_{'approved' if approve else 'denied'}",
                                      device_id=device_id)
        try:
            if approve and flow.purpose == Purpose.WITHDRAWAL:
                self._authorize_withdrawal(flow, device, now, None, event)
            else:
                self._flows.decide_push(flow, decision, device, now, event)
        except StaleWrite:
            raise Gone("expired", EXPIRED) from None
        # Decided, in a conditional write: a retry after a 503 from here on finds it decided (410).
        count(Metric.PUSH_APPROVED if approve else Metric.PUSH_DENIED)
        self._throttles.push_answered(device.username)
        return FlowStatus.APPROVED if approve else FlowStatus.DENIED
