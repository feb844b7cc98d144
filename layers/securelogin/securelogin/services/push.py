"""Answers from the IB Key app to a push, and what the app asks of one.

A push is found by its own ``push_id`` (never the flow's id, which stays with the client
that started the flow). The app signs what it showed: the push, its nonce, the decision,
the number the person typed and the statement; the signature is checked over the
service's own copy of the statement, so an approval of anything else fails. An approval
is an answer like any other (``FlowEngine.answer_push``: counted, its number matched); a
denial ends the flow, keeps the push's place in the user's send guard, and a few of them
pause pushes for a while."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from securelogin.clock import Clock, seconds_until
from securelogin.crypto.codes import digests_match, lookup_key
from securelogin.crypto.signatures import push_decision_message, signature_is_valid
from securelogin.domain.models import Device, DeviceStatus, Flow, FlowStatus, Purpose, Push, PushDecision, PushStatus
from securelogin.errors import Gone, Locked, NotFound, Throttled, Unauthenticated
from securelogin.observability import Metric, count
from securelogin.policy import Policy
from securelogin.ports import Completing, FlowStore, StaleWrite, ThrottleStore, together
from securelogin.services.audit import AuditTrail
from securelogin.services.flows import FlowEngine, RightAnswer
from securelogin.services.notify import Notifier

EXPIRED = "This request has expired or was already answered."
PAUSED_NOTICE = ("IB Key notifications are paused for 15 minutes because several requests were denied. "
                 "If you did not try to sign in, change your password.")
DENY_TRIES = 8

# How an approved push completes its flow, by the flow's purpose: with the right answer and
# the writes of the approval itself (the push answered, its place given back, its event).
Completer = Callable[[RightAnswer, Completing], object]


class PushService:
    def __init__(self, engine: FlowEngine, flows: FlowStore, throttles: ThrottleStore,
                 completers: dict[Purpose, Completer], notifier: Notifier, audit: AuditTrail, clock: Clock,
                 policy: Policy) -> None:
        self._engine = engine
        self._flows = flows
        self._throttles = throttles
        self._completers = completers
        self._notifier = notifier
        self._audit = audit
        self._clock = clock
        self._policy = policy

    def status(self, push_id: str) -> PushStatus:
        """What the app should do with a push: show it while pending, drop it otherwise."""
        push = self._flows.push(lookup_key(push_id))
        if push is None:
            raise NotFound("push_not_found", "No such push.")
        return push.status_at(self._clock.now())

    def answer(self, device_id: str, push_id: str, nonce: str, decision: PushDecision, number: str | None,
               signature: str) -> FlowStatus:
        now = self._clock.now()
        push = self._flows.push(lookup_key(push_id))
        if push is None or push.device_id != device_id:
            raise Gone("expired", EXPIRED)
        flow, device = self._flows.pushed_flow(push)
        if device is None or device.status != DeviceStatus.ACTIVE or not device.public_key:
            raise NotFound("device_not_found", "No such active IB Key.")
        if device.locked_until and device.locked_until > now:  # a locked device answers nothing
            raise Locked("device_locked", "This device is locked for a while after too many wrong answers.",
                         retry_after_seconds=seconds_until(device.locked_until, now))
        signed = push_decision_message(push_id, nonce, decision.value, number or "", push.statement)
        if not signature_is_valid(device.public_key, signed, signature):
            self._audit.record(device.username, "push.invalid_signature", device_id=device_id)
            raise Unauthenticated("invalid_signature", "The signature does not verify with this device's key.")
        if flow is None or not self._still_asked(push, flow, now) or not digests_match(push.nonce, nonce) \
                or flow.purpose not in self._completers:
            raise Gone("expired", EXPIRED)
        if decision == PushDecision.DENY:
            return self._deny(push, flow, device)

        try:
            right = self._engine.answer_push(flow, push, number)
            approval = together(self._flows.answering(push, now),
                                self._throttles.push_approved_writes(push.username, push.key),
                                self._audit.recording(push.username, "push.approved", device_id=device_id,
                                                      purpose=push.purpose.value))
            self._completers[flow.purpose](right, approval)
        except (StaleWrite, Gone):  # answered meanwhile, or its flow ended: to the app, the push is gone
            raise Gone("expired", EXPIRED) from None
        except Throttled:  # the flow's attempts are used: by this race's winner, or by wrong numbers
            current = self._flows.push(push.key)
            if current is not None and current.status_at(self._clock.now()) != PushStatus.PENDING:
                raise Gone("expired", EXPIRED) from None
            raise
        count(Metric.PUSH_APPROVED)
        return FlowStatus.APPROVED

    @staticmethod
    def _still_asked(push: Push, flow: Flow, now: datetime) -> bool:
        """Whether the push is pending and still the challenge of its pending flow."""
        return (push.status_at(now) == PushStatus.PENDING and flow.status_at(now) == FlowStatus.PENDING
                and flow.challenge is not None and flow.challenge.push_key == push.key)

    def _deny(self, push: Push, flow: Flow | None, device: Device | None) -> FlowStatus:
        """The flow ends denied and the push answered, with the denial in the user's send
        guard, in one transaction; the denial that pauses pushes tells the user."""
        for attempt in range(DENY_TRIES):
            now = self._clock.now()
            if attempt > 0:
                flow, device = self._flows.pushed_flow(push)
            if flow is None or device is None or not self._still_asked(push, flow, now):
                raise Gone("expired", EXPIRED)
            guard = self._throttles.guard(push.username)
            changed, pausing = guard.deny(now, self._policy)
            writes = [self._flows.completing(flow, None, now, device, status=FlowStatus.DENIED),
                      self._flows.answering(push, now),
                      self._throttles.guard_writes(push.username, guard, now, changed),
                      self._audit.recording(push.username, "push.denied", device_id=push.device_id,
                                            purpose=push.purpose.value)]
            if pausing:
                writes.append(self._audit.recording(push.username, "push.paused", device_id=push.device_id,
                                                    until=changed.paused_until.isoformat()
                                                    if changed.paused_until else None))
                writes.append(self._notifier.notice_to(push.username, PAUSED_NOTICE))
            try:
                self._flows.run(flow.key, *writes)
            except StaleWrite:  # the flow or the push was answered meanwhile, or the guard moved: read again
                push = self._flows.push(push.key) or push
                continue
            count(Metric.PUSH_DENIED)
            return FlowStatus.DENIED
        raise Gone("expired", EXPIRED)
