"""The flow engine: every flow that waits for proof (a login, a withdrawal, an IB Key
activation or recovery, a share, a shipped card's activation, a PIN change) starts, is
challenged and is answered here, and nowhere else.

- A flow's id is stored under its purpose (``Purpose``), so an id given to another
  flow's route is unknown there; routes with a session also name the flow's owner.
- The challenge is one typed record on the flow, issued by the factor registry (or, for
  an activation token, a code texted to a phone).
- ``answer`` is the one way to check an answer. It applies, in every flow, the flow's
  attempts, the device's lock, its consecutive failures and the user's cap on answers per
  window, and it counts an answer before checking it (``adapters.flows``).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, NoReturn

from securelogin.clock import Clock, seconds_until
from securelogin.crypto.codes import code_digest, digests_match, lookup_key, numeric_code, random_token
from securelogin.domain import statements
from securelogin.domain.factors import ChallengeContext, FactorRegistry, IssuedChallenge, UnsupportedMethod
from securelogin.domain.factors.base import Alarm, Answer, Verdict
from securelogin.domain.factors.ib_key import match_number_digest
from securelogin.domain.guards import PushesPaused, ResendTooSoon, TooManyChallenges, TooManyPushes
from securelogin.domain.models import (
    Challenge,
    Channel,
    Device,
    DeviceStatus,
    Flow,
    FlowStatus,
    Method,
    OutgoingMessage,
    Purpose,
    Push,
)
from securelogin.errors import (
    Conflict,
    DomainError,
    Gone,
    InvalidInput,
    Locked,
    NotFound,
    Throttled,
    Unauthenticated,
    Unavailable,
)
from securelogin.logs import logger
from securelogin.observability import Metric, count
from securelogin.policy import Policy
from securelogin.ports import (
    AttemptsUsed,
    CapReached,
    Completing,
    DeliveryFailed,
    DeviceStore,
    FlowClosed,
    FlowStore,
    MessageSender,
    Reservation,
    StaleWrite,
    ThrottleStore,
    together,
)
from securelogin.services.audit import AuditTrail
from securelogin.services.notify import Notifier

GONE_CODES = {
    Purpose.LOGIN: "login_expired",
    Purpose.WITHDRAWAL: "withdrawal_expired",
    Purpose.ACTIVATION: "activation_expired",
    Purpose.QR_SESSION: "qr_expired_or_used",
    Purpose.RECOVERY: "recovery_expired",
    Purpose.SHARE: "share_expired",
    Purpose.DEVICE_ACTIVATION: "challenge_expired",
    Purpose.PIN_CHANGE: "challenge_expired",
    Purpose.STEP_UP: "step_up_expired",
    Purpose.PASSKEY_REGISTRATION: "registration_expired",
}
# Flows whose routes answer 429 when their answers are used up; the others' flow is spent (410).
EXHAUSTED_IS_THROTTLED = frozenset({Purpose.LOGIN, Purpose.WITHDRAWAL, Purpose.STEP_UP})
# A device waits for its first answer in this flow alone; every other flow wants it active.
ANSWERING_STATUS = {Purpose.DEVICE_ACTIVATION: DeviceStatus.PENDING}
# What a wrong answer counts as, in the flows that have a metric for it.
WRONG_ANSWER_METRICS = {Purpose.LOGIN: Metric.LOGIN_FAILED, Purpose.WITHDRAWAL: Metric.WITHDRAWAL_REFUSED}
RESERVE_TRIES = 8
# Tries at issuing a challenge while the send guard or a card's open pair changes under it.
ISSUE_TRIES = 16


@dataclass(frozen=True)
class ChallengeIssued:
    device: Device
    method: Method
    public: dict[str, Any]


@dataclass(frozen=True)
class RightAnswer:
    """A right answer to ``flow``'s challenge. What it took (``reservation``) is given
    back by the write that completes the flow, which is conditional on the flow's version."""
    flow: Flow
    device: Device | None
    reservation: Reservation
    now: datetime


def _code_purpose(flow: Flow, issued: IssuedChallenge) -> str | None:
    """The purpose whose resend wait a challenge's code by SMS or voice takes, if it has one."""
    message = issued.message
    return flow.purpose.value if message is not None and message.channel != Channel.PUSH else None


class FlowEngine:
    def __init__(self, devices: DeviceStore, flows: FlowStore, throttles: ThrottleStore, factors: FactorRegistry,
                 sender: MessageSender, code_key: Callable[[], bytes], audit: AuditTrail, notifier: Notifier,
                 clock: Clock, policy: Policy) -> None:
        self._devices = devices
        self._flows = flows
        self._throttles = throttles
        self._factors = factors
        self._sender = sender
        self._code_key = code_key
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._policy = policy

    @staticmethod
    def gone(purpose: Purpose) -> Gone:
        return Gone(GONE_CODES[purpose], "This has expired, was used, or is unknown. Start again.")

    # ------------------------------------------------------------------ starting and finding flows

    def start(self, purpose: Purpose, username: str, ttl: timedelta, statement: str,
              device_ids: list[str] | None = None, flow_id: str | None = None, **fields: Any) -> tuple[str, Flow]:
        """A new flow, to be challenged later on one of ``device_ids`` (a login, a
        withdrawal, a step-up), or never (a QR session), confirming ``statement``. Its id is
        random (at least 128 bits) unless the flow is named otherwise (``flow_id``: a QR
        session ID). Returns the id, which is never stored, and the flow."""
        new_id = flow_id or random_token(16)
        flow = Flow(purpose=purpose, key=lookup_key(new_id), username=username,
                    expires_at=self._clock.now() + ttl, device_ids=list(device_ids or []), statement=statement,
                    **fields)
        self._flows.create(flow)
        return new_id, flow

    def start_challenged(self, purpose: Purpose, username: str, ttl: timedelta, device: Device | None,
                         statement: str, method: Method | None = None, flow_id: str | None = None,
                         **fields: Any) -> tuple[str, Flow, ChallengeIssued]:
        """A new flow challenged at once on ``device`` (already read by the caller), in
        one transaction: a recovery, a share, a shipped card's activation, a PIN change. A
        ``flow_id`` names a flow that replaces any earlier one of that name (one per device)."""
        new_id = flow_id or random_token(16)
        key = lookup_key(new_id)
        for _ in range(ISSUE_TRIES):
            now = self._clock.now()
            device = self.usable(device, now, purpose)
            flow = Flow(purpose=purpose, key=key, username=username, expires_at=now + ttl,
                        device_ids=[device.device_id], statement=statement, **fields)
            method_used, issued = self._issue(device, method, ChallengeContext(purpose, key, now, statement))
            writes = self._issuing(flow, device, issued, now)
            flow.challenge = Challenge(device_id=device.device_id, method=method_used, issued_at=now,
                                       expires_at=min(issued.expires_at, flow.expires_at),
                                       check_data=issued.check_data, device=device)
            try:
                flow = self._flows.restart(flow, writes) if flow_id else self._flows.create(flow, writes)
            except StaleWrite:  # the send guard or the card's pair changed: read them again
                device = self._devices.get(device.username, device.device_id)
                continue
            self._deliver(flow, issued, now)
            return new_id, flow, ChallengeIssued(device, method_used, self._shown(issued, statement))
        raise Unavailable("busy", "Too many challenges at once. Try again.", retry_after_seconds=1)

    def start_with_code(self, purpose: Purpose, username: str, ttl: timedelta, phone: str, digits: int,
                        statement: str, also: Completing | None = None, **fields: Any) -> tuple[str, Flow]:
        """A new flow whose challenge is a code texted to ``phone`` (IB Key activation and
        recovery by SMS), in one transaction with ``also`` (its audit event); the text says
        what the code is for."""
        new_id = random_token(16)
        for _ in range(ISSUE_TRIES):
            now = self._clock.now()
            flow = Flow(purpose=purpose, key=lookup_key(new_id), username=username, expires_at=now + ttl,
                        statement=statement, **fields)
            code = numeric_code(digits)
            flow.challenge = Challenge(device_id=None, method=Method.ACTIVATION_CODE, issued_at=now,
                                       expires_at=flow.expires_at,
                                       check_data={"digest": code_digest(self._code_key(), self._binding(flow), code)})
            text = statements.sms_text(purpose, statement, code, int(ttl.total_seconds() // 60))
            message = OutgoingMessage(Channel.SMS, phone, text)
            issued = IssuedChallenge(public={}, check_data={}, expires_at=flow.expires_at, message=message)
            writes = together(self._issuing(flow, None, issued, now), also)
            try:
                self._flows.create(flow, writes)
            except StaleWrite:
                continue
            self._deliver(flow, issued, now)
            return new_id, flow
        raise Unavailable("busy", "Too many challenges at once. Try again.", retry_after_seconds=1)

    def open(self, purpose: Purpose, flow_id: str, owner: str | None = None) -> Flow:
        """The pending flow behind ``flow_id`` for this purpose (and ``owner``, on routes
        with a session); anything else answers as an unknown id."""
        flow = self._flows.get(purpose, lookup_key(flow_id))
        if flow is None or (owner is not None and flow.username != owner):
            raise self.gone(purpose)
        if flow.status_at(self._clock.now()) != FlowStatus.PENDING:
            raise self.gone(purpose)
        return flow

    def unchanged(self, flow: Flow) -> bool:
        """Whether the flow is still pending at the version it was read at."""
        current = self._flows.get(flow.purpose, flow.key)
        return current is not None and current.status == FlowStatus.PENDING and current.version == flow.version

    def find(self, purpose: Purpose, flow_id: str, owner: str | None = None) -> Flow | None:
        """The flow in whatever state, for status reads; None when unknown here."""
        flow = self._flows.get(purpose, lookup_key(flow_id))
        if flow is None or (owner is not None and flow.username != owner):
            return None
        return flow

    # ------------------------------------------------------------------ challenges

    def challenge(self, flow: Flow, device_id: str, method: Method | None,
                  allow: Callable[[Device], None] | None = None) -> ChallengeIssued:
        """A challenge on one of the flow's devices (``allow`` may refuse one), stored on
        the flow with what issuing it takes (see ``_issuing``), then delivered. Without a
        method asked for, the device's first that works (an app without push notifications
        is challenged by code)."""
        device = self._devices.get(self.device_user(flow), device_id) if device_id in flow.device_ids else None
        for _ in range(ISSUE_TRIES):
            now = self._clock.now()
            device = self.usable(device, now, flow.purpose)
            if allow is not None:
                allow(device)
            method_used, issued = self._issue(device, method,
                                              ChallengeContext(flow.purpose, flow.key, now, flow.statement))
            writes = self._issuing(flow, device, issued, now)
            challenge = Challenge(device_id=device.device_id, method=method_used, issued_at=now,
                                  expires_at=min(issued.expires_at, flow.expires_at), check_data=issued.check_data,
                                  device=device)
            try:
                self._flows.set_challenge(flow, challenge, writes)
            except StaleWrite:
                current = self._flows.get(flow.purpose, flow.key)
                if current is None or current.status != FlowStatus.PENDING or current.version != flow.version:
                    raise Conflict("challenge_in_progress", "Another challenge was just issued.") from None
                # The send guard or the card's open pair changed meanwhile: read them again.
                device = self._devices.get(self.device_user(flow), device_id)
                continue
            self._deliver(flow, issued, now)
            return ChallengeIssued(device, method_used, self._shown(issued, flow.statement))
        raise Unavailable("busy", "Too many challenges at once. Try again.", retry_after_seconds=1)

    def _issue(self, device: Device, method: Method | None,
               context: ChallengeContext) -> tuple[Method, IssuedChallenge]:
        factor = self._factors.for_type(device.type)
        for candidate in [method] if method else list(factor.methods):
            try:
                return candidate, factor.issue(device, candidate, context)
            except UnsupportedMethod:
                continue
        raise InvalidInput("unsupported_method", f"This device cannot be challenged by {method}.")

    def _issuing(self, flow: Flow, device: Device | None, issued: IssuedChallenge, now: datetime) -> Completing:
        """What issuing a challenge writes with it, in one transaction: a place in the user's
        send guard (every challenge counts; a push also takes a place among the pushes), the
        push the app will answer, a code card's new open pair, and the withdrawal of the push
        the flow asked before, if it is still open. Raises 429 when the guard refuses."""
        guard = self._throttles.guard(flow.username)
        try:
            changed = guard.take(now, self._policy, issued.push.push_key if issued.push else None,
                                 _code_purpose(flow, issued))
        except TooManyChallenges as full:
            raise Throttled("too_many_challenges", "Too many challenges were asked for lately. Wait a while.",
                            seconds_until(full.free_at, now)) from None
        except PushesPaused as paused:
            raise Throttled("push_paused", "Notifications are paused after several were denied. Use another "
                            "method, or wait.", seconds_until(paused.until, now)) from None
        except TooManyPushes as full:
            raise Throttled("resend_too_soon", "Too many notifications were sent lately. Wait before asking again.",
                            seconds_until(full.free_at, now)) from None
        except ResendTooSoon as wait:
            raise Throttled("resend_too_soon", "A code was sent a moment ago. Wait before asking again.",
                            math.ceil((wait.free_at - now).total_seconds())) from None
        writes = [self._throttles.guard_writes(flow.username, guard, now, changed)]
        if issued.push is not None and device is not None:
            sent = issued.push
            writes.append(self._flows.pushing(Push(
                key=sent.push_key, username=flow.username, holder=device.holder, device_id=device.device_id,
                purpose=flow.purpose, flow_key=flow.key, nonce=sent.nonce, statement=sent.statement,
                number_digest=sent.number_digest, expires_at=min(sent.expires_at, flow.expires_at))))
        if issued.open_pair is not None and device is not None:
            writes.append(self._devices.opening_pair(device, issued.open_pair))
        before = flow.challenge
        if before is not None and before.push_key is not None and now < before.expires_at:
            writes.append(self._flows.withdrawing(before.push_key, now))
        return together(*writes)

    @staticmethod
    def _shown(issued: IssuedChallenge, statement: str) -> dict[str, Any]:
        """What the asking client is shown of a challenge: beside it, what it confirms."""
        return {**issued.public, "statement": statement}

    def _deliver(self, flow: Flow, issued: IssuedChallenge, now: datetime) -> None:
        """Sends a challenge's message once it is recorded. One that cannot be sent gives back
        what issuing it took (its place in the send guard, its push, its resend wait): the
        503 leaves nothing behind, and the same request can be sent again at once."""
        if issued.message is None:
            return
        try:
            self._sender.send(issued.message)
        except DeliveryFailed:
            self._give_back(flow, issued, now)
            raise Unavailable("delivery_failed", "The message could not be sent. Try again.") from None

    def _give_back(self, flow: Flow, issued: IssuedChallenge, now: datetime) -> None:
        push_key = issued.push.push_key if issued.push else None
        code_for = _code_purpose(flow, issued)
        for _ in range(ISSUE_TRIES):
            guard = self._throttles.guard(flow.username)
            writes = [self._throttles.guard_writes(flow.username, guard, now,
                                                   guard.give_back(now, push_key, code_for))]
            if push_key is not None:
                writes.append(self._flows.withdrawing(push_key, now))
            try:
                self._flows.run(flow.key, *writes)
                return
            except StaleWrite:  # the guard moved meanwhile: read it again
                continue
            except Exception:
                logger.warning("send guard not given back", extra={"purpose": flow.purpose.value})
                return

    # ------------------------------------------------------------------ answers

    def answer(self, flow: Flow, response: str | Answer) -> RightAnswer:
        """Checks an answer (typed, or a passkey's assertion) to the flow's challenge.
        Returns when it is right, with what the factor's verdict writes on the device (a
        passkey's new counter) for the completing transaction; raises when it is not, after
        counting it toward every limit."""
        answer = Answer.of(response)
        now = self._clock.now()
        challenge = flow.challenge
        if challenge is None:
            raise Conflict("no_challenge", "Ask for a challenge before answering.")
        if now >= challenge.expires_at:
            raise Gone("challenge_expired", "The challenge expired. Ask for a new one.")
        if challenge.method == Method.PUSH:
            raise Conflict("answer_on_device", "Approve or deny on your phone, or ask for a challenge code.")

        device, reservation, again = self._take(flow, challenge, now, answer.key())
        if device is not None:
            verdict = self._factors.for_type(device.type).check(
                device, challenge, answer, ChallengeContext(flow.purpose, flow.key, now, flow.statement))
        else:
            candidate = "".join(answer.text.split())
            verdict = Verdict.of(digests_match(challenge.check_data.get("digest", ""),
                                               code_digest(self._code_key(), self._binding(flow), candidate)))
        if verdict.right:
            if device is not None and verdict.sign_count is not None:
                device = replace(device, sign_count=verdict.sign_count)
            return RightAnswer(flow, device, reservation, now)
        if again:  # the same wrong answer sent again is wrong again: it counts anew
            device, reservation = self._count(flow, challenge, now)
        if device is not None and verdict.alarm is not None:
            self._alarm(flow, device, reservation, now, verdict.alarm)
        if device is not None:
            self._refuse(flow, device, reservation, now, "invalid_response", "That response is not right.")
        self._refuse(flow, None, reservation, now, "invalid_activation_code", "That activation code is not right.")

    def answer_push(self, flow: Flow, push: Push, number: str | None) -> RightAnswer:
        """An approval of the flow's current push (its signature already checked), counted
        like every answer: its number must be the one the asking client showed. A wrong one
        (or none) is a wrong answer that ends this push; the flow goes on."""
        now = self._clock.now()
        challenge = flow.challenge
        if challenge is None or challenge.push_key != push.key:
            raise Gone("expired", "This request has expired or was already answered.")
        device, reservation, again = self._take(flow, challenge, now, f"PUSH:{number or ''}")
        right = push.number_digest is None or (number is not None and digests_match(
            push.number_digest, match_number_digest(self._code_key(), push.key, number)))
        if right:
            return RightAnswer(flow, device, reservation, now)
        if again:
            device, reservation = self._count(flow, challenge, now)
        with suppress(StaleWrite):  # answered meanwhile: this answer is still a wrong one
            self._flows.run(push.key, self._flows.answering(push, now))
        self._refuse(flow, device, reservation, now, "number_mismatch",
                     "That is not the number shown where you asked to sign in or confirm.")

    def _refuse(self, flow: Flow, device: Device | None, reservation: Reservation, now: datetime, code: str,
                message: str) -> NoReturn:
        """A wrong answer, already counted toward the flow's attempts and the user's cap
        (``_count``): it is recorded, and counts toward the device's lock."""
        if flow.purpose in WRONG_ANSWER_METRICS:
            count(WRONG_ANSWER_METRICS[flow.purpose])
        left = self._policy.attempts_per_transaction - reservation.attempts
        self._audit.record(flow.username, f"{flow.purpose.value}.answer_failed",
                           device_id=device.device_id if device else None, attempts_left=left)
        if device is not None:
            until = self._flows.count_failure(device, now, self._policy.device_lock_after,
                                              self._policy.device_lock_duration)
            if until is not None:
                count(Metric.DEVICE_LOCKED)  # the lock is written; only the answer that wrote it gets here
                self._audit.record(device.holder, "device.locked", device_id=device.device_id, until=until.isoformat())
                raise Locked("device_locked", "Too many wrong answers: this device is locked for a while.",
                             retry_after_seconds=seconds_until(until, now))
        raise Unauthenticated(code, message, attempts_left=left)

    def _alarm(self, flow: Flow, device: Device, reservation: Reservation, now: datetime, alarm: Alarm) -> NoReturn:
        """A wrong answer that shows the device cannot be trusted (a passkey's counter went
        backwards): counted like any wrong one, and the device is locked until Client Services
        looks at it, with the alarm's audit event and the user's notice in that transaction."""
        if flow.purpose in WRONG_ANSWER_METRICS:
            count(WRONG_ANSWER_METRICS[flow.purpose])
        left = self._policy.attempts_per_transaction - reservation.attempts
        self._audit.record(flow.username, f"{flow.purpose.value}.answer_failed", device_id=device.device_id,
                           attempts_left=left)
        told = together(self._audit.recording(device.holder, alarm.event, device_id=device.device_id,
                                              device_type=device.type.value),
                        self._notifier.notice_to(device.holder, alarm.notice))
        with suppress(StaleWrite):  # locked or changed meanwhile: this answer is refused all the same
            self._devices.set_status(device, DeviceStatus.LOCKED, (DeviceStatus.ACTIVE,), also=told)
            count(Metric.DEVICE_LOCKED)
        raise Locked("device_locked", "This device is locked. Call Client Services.")

    def _used_up(self, flow: Flow, now: datetime) -> Exception:
        if flow.purpose in EXHAUSTED_IS_THROTTLED:
            return Throttled("too_many_attempts", "Too many wrong answers. Start again.",
                             seconds_until(flow.expires_at, now))
        return self.gone(flow.purpose)

    def _take(self, flow: Flow, challenge: Challenge, now: datetime,
              answer: str) -> tuple[Device | None, Reservation, bool]:
        """Counts an answer before it is checked (``_count``); and whether this very answer
        was counted before (then it reuses what it took: see ``_answer_key``)."""
        answer_key = self._answer_key(flow, answer)
        again = flow.counted(answer_key) is not None
        if flow.attempts >= self._policy.attempts_per_transaction and not again:
            raise self._used_up(flow, now)
        device, reservation = self._count(flow, challenge, now, answer_key)
        return device, reservation, again

    def _answer_key(self, flow: Flow, answer: str) -> str:
        """What names an answer (``Answer.key``) among those counted against the flow's current challenge (a
        digest under the code key: no answer is kept in the table). A right answer whose
        completion AWS failed, sent again, reuses what it took (``FlowStore.reserve_answer``)
        instead of spending another attempt; a wrong one sent again counts anew."""
        return code_digest(self._code_key(), f"answer:{self._binding(flow)}:{flow.version}",
                           answer)[:32]

    def _count(self, flow: Flow, challenge: Challenge, now: datetime,
               answer_key: str | None = None) -> tuple[Device | None, Reservation]:
        """Takes an attempt and a slot of the cap, while the device is not locked and is
        as it was challenged, before the answer is checked. The first try reads nothing:
        it takes the device from the challenge and a slot at random. When that fails for
        something other than the flow (the device changed or is locked, the slot is in
        use), it reads the device and the slots and tries again."""
        who = self.device_user(flow)
        policy = self._policy
        device: Device | None = challenge.device
        slots: dict[str, int] | None = None
        for attempt in range(RESERVE_TRIES):
            if attempt > 0 or (device is None and challenge.device_id is not None):
                if challenge.device_id is not None:
                    device, slots = self._flows.device_for_answer(who, challenge.device_id)
                else:
                    slots = self._flows.slots(who)
            if device is not None:
                device = self.usable(device, now, flow.purpose)
            try:
                return device, self._flows.reserve_answer(
                    flow, device, who, slots, now, policy.attempts_per_transaction, policy.user_failures_per_hour,
                    policy.user_failure_window, answer_key)
            except CapReached as full:
                raise Throttled("too_many_attempts", "Too many answers in the last hour. Try again later.",
                                seconds_until(full.free_at, now)) from None
            except AttemptsUsed:
                raise self._used_up(flow, now) from None
            except FlowClosed:
                raise self.gone(flow.purpose) from None
            except StaleWrite:  # the slot taken at once, the device locked meanwhile, a conflict: read again
                continue
        raise Unavailable("busy", "Too many answers at once. Try again.", retry_after_seconds=1)

    def completing(self, right: RightAnswer, with_device: bool = True) -> Completing:
        """The writes that complete the flow of a right answer, for the transaction of the
        store that acts on it. ``with_device=False`` when that transaction writes the
        device itself (it must then reset the device's failures)."""
        return self._flows.completing(right.flow, right.reservation, right.now,
                                      right.device if with_device else None)

    @contextmanager
    def settling(self, right: RightAnswer) -> Iterator[None]:
        """Around what completes a right answer: when AWS fails before that commits (an
        error that is neither the service's answer nor a lost race), the answer gives back
        what it took (an attempt, a slot of the cap), so the 503 leaves nothing behind and the
        same request succeeds when sent again."""
        try:
            yield
        except (DomainError, StaleWrite):
            raise
        except Exception:
            with suppress(Exception):  # AWS failing still: what was taken ages out of its window
                self._flows.unreserve(right.flow, right.reservation)
            raise

    def closing(self, flow: Flow, now: datetime) -> Completing:
        """The writes that complete a flow no device answers (a passkey's registration), once."""
        return self._flows.completing(flow, None, now)

    def run_together(self, flow: Flow, *writes: Completing) -> None:
        """Writes in one transaction, keyed by ``flow``: StaleWrite when one's condition failed."""
        self._flows.run(flow.key, *writes)

    def forgive(self, right: RightAnswer) -> None:
        """A right answer whose flow was refused for another reason (a limit) does not
        count as a failure."""
        self._flows.forgive(right.device, right.reservation, right.now)

    # ------------------------------------------------------------------ helpers

    def device_of(self, flow: Flow) -> Device | None:
        """The device that completed the flow (a push approval has no answer to carry it)."""
        return self._devices.get(self.device_user(flow), flow.confirmed_by) if flow.confirmed_by else None

    @staticmethod
    def device_user(flow: Flow) -> str:
        """Whose device answers: the flow's user, or for a share the owner of the device."""
        return flow.details.get("device_user") or flow.username

    @staticmethod
    def _binding(flow: Flow) -> str:
        return f"{flow.purpose.value}:{flow.key}"

    @staticmethod
    def usable(device: Device | None, now: datetime, purpose: Purpose = Purpose.LOGIN) -> Device:
        """The device, if it can answer in a flow of ``purpose``: 404 otherwise, 423 while locked."""
        wanted = ANSWERING_STATUS.get(purpose, DeviceStatus.ACTIVE)
        if device is not None and device.status == DeviceStatus.LOCKED:
            raise Locked("device_locked", "This device is locked. Call Client Services.")
        if device is None or device.status != wanted or (device.valid_until and now >= device.valid_until):
            raise NotFound("device_not_found", "That device is not one offered here.")
        if device.locked_until and device.locked_until > now:
            raise Locked("device_locked", "This device is locked for a while after too many wrong answers.",
                         retry_after_seconds=seconds_until(device.locked_until, now))
        return device
