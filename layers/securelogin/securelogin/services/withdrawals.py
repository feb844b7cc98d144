"""Withdrawals confirmed by a second factor whose limits cover them (rules.md
"Withdrawal limits"). Recording one is an atomic add to the day's total, conditional on
the total staying inside the limits, in the same transaction that approves it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from securelogin.clock import Clock
from securelogin.domain import statements
from securelogin.domain.factors.base import Answer
from securelogin.domain.limits import (
    Availability,
    BusinessCalendar,
    availability,
    five_business_day_window,
    most_generous,
    room_today,
)
from securelogin.domain.models import Device, Flow, FlowStatus, Method, Purpose, User
from securelogin.errors import Forbidden, NotFound, Unavailable
from securelogin.observability import Metric, count
from securelogin.policy import Policy
from securelogin.ports import Completing, LedgerStore, Reservation, StaleWrite, UserStore, together
from securelogin.services.audit import AuditTrail
from securelogin.services.flows import ChallengeIssued, FlowEngine, RightAnswer

PURPOSE = Purpose.WITHDRAWAL
STATUS = {FlowStatus.PENDING: "pending", FlowStatus.APPROVED: "authorized", FlowStatus.DENIED: "denied",
          FlowStatus.EXPIRED: "expired"}
CONFLICT_RETRIES = 5


@dataclass(frozen=True)
class WithdrawalStarted:
    withdrawal_id: str
    statement: str  # what a device confirms: the amount and the destination
    eligible_device_ids: list[str]
    expires_at: datetime


class WithdrawalService:
    def __init__(self, flows: FlowEngine, users: UserStore, ledger: LedgerStore, audit: AuditTrail, clock: Clock,
                 policy: Policy) -> None:
        self._flows = flows
        self._users = users
        self._ledger = ledger
        self._audit = audit
        self._clock = clock
        self._policy = policy
        self._calendar = BusinessCalendar(policy.holidays)

    def create(self, username: str, amount: float, destination: str | None = None) -> WithdrawalStarted:
        now = self._clock.now()
        found = self._users.partition(username)
        if found.user is None:
            raise NotFound("user_not_found", "No such user.")
        usable = [d for d in found.devices if d.usable_at(now)]
        totals = self._totals(username, now)
        left = {d.device_id: self._left(d.type.value, totals, found.user, now) for d in usable}
        eligible = [d.device_id for d in usable if left[d.device_id].covers(amount)]
        if not eligible:
            best = most_generous(left.values())
            count(Metric.WITHDRAWAL_REFUSED)  # nothing was written: a retry is a new refusal
            raise Forbidden("limit_exceeded", "No device of yours can confirm that much now.",
                            available_today=best.today, available_five_days=best.five_business_days)
        statement = statements.withdrawal(amount, destination)
        withdrawal_id, flow = self._flows.start(PURPOSE, username, self._policy.login_ttl, statement,
                                                device_ids=[d.device_id for d in usable], amount_usd=amount,
                                                details={"destination": destination or statements.ON_FILE})
        self._audit.record(username, "withdrawal.requested", amount_usd=amount,
                           destination=destination or statements.ON_FILE)
        return WithdrawalStarted(withdrawal_id, statement, eligible, flow.expires_at)

    def challenge(self, username: str, withdrawal_id: str, device_id: str, method: Method | None) -> ChallengeIssued:
        flow = self._flows.open(PURPOSE, withdrawal_id, owner=username)
        user = self._users.get_user(username)
        assert user is not None and flow.amount_usd is not None
        totals = self._totals(username, self._clock.now())

        def allow(device: Device) -> None:
            if not self._left(device.type.value, totals, user, self._clock.now()).covers(flow.amount_usd or 0):
                count(Metric.WITHDRAWAL_REFUSED)
                raise Forbidden("device_limit_too_low", "This device's limits do not cover this withdrawal.")

        return self._flows.challenge(flow, device_id, method, allow=allow)

    def verify(self, username: str, withdrawal_id: str, response: str | Answer) -> Availability:
        return self.complete(self._flows.answer(self._flows.open(PURPOSE, withdrawal_id, owner=username), response))

    def complete(self, right: RightAnswer, also: Completing | None = None) -> Availability:
        """A right answer (or an approved push, with its ``also``) authorizes the withdrawal."""
        assert right.device is not None
        try:
            with self._flows.settling(right):
                return self.authorize(right.flow, right.device, right.now, right.reservation, also)
        except Forbidden:
            self._flows.forgive(right)  # a right answer, refused by the limits: no failure
            raise

    def authorize(self, flow: Flow, device: Device, now: datetime, reservation: Reservation | None = None,
                  also: Completing | None = None) -> Availability:
        """Approves the withdrawal and adds it to today's total in one transaction, with its
        audit events, if the device's limits still cover it; by a right answer, or by a
        push (no reservation, and the push's own event as ``also``)."""
        amount = flow.amount_usd or 0.0
        user = self._users.get_user(flow.username)
        assert user is not None
        limit = self._policy.withdrawal_limits[device.type.value]
        for _ in range(CONFLICT_RETRIES):
            totals = self._totals(flow.username, now)
            left = self._left(device.type.value, totals, user, now)
            if not left.covers(amount):
                count(Metric.WITHDRAWAL_REFUSED)
                raise Forbidden("limit_exceeded", "This withdrawal would go over the device's limits.",
                                available_today=left.today, available_five_days=left.five_business_days)
            room = room_today(limit, totals, now.date(), self._calendar, amount, sum(user.reserves.values()))
            event = self._audit.recording(flow.username, "withdrawal.authorized", amount_usd=amount,
                                          device_id=device.device_id, device_type=device.type.value)
            try:
                self._ledger.authorize(flow, amount, room, device, reservation, now, together(event, also))
            except StaleWrite as exc:
                if exc.failed_items and not self._flows.unchanged(flow):
                    raise self._flows.gone(PURPOSE) from None
                continue  # the day's total moved past the room, or the write conflicted: read and check again
            count(Metric.WITHDRAWAL_AUTHORIZED)  # approved and added to the day's total, in one transaction
            totals[now.date()] = totals.get(now.date(), 0.0) + amount
            return self._left(device.type.value, totals, user, now)
        raise Unavailable("busy", "Too many withdrawals at once. Try again.", retry_after_seconds=1)

    def status(self, username: str, withdrawal_id: str) -> str:
        flow = self._flows.find(PURPOSE, withdrawal_id, owner=username)
        if flow is None:
            raise NotFound("withdrawal_not_found", "No such withdrawal of yours.")
        return STATUS[flow.status_at(self._clock.now())]

    def limits(self, user: User, devices: list[Device]) -> dict[str, dict[str, float | None]]:
        """The limits of each kind of device the user can confirm with, and what is left."""
        now = self._clock.now()
        totals = self._totals(user.username, now)
        shown: dict[str, dict[str, float | None]] = {}
        for kind in sorted({d.type.value for d in devices if d.usable_at(now)} or {"none"}):
            per_day, per_window = self._policy.withdrawal_limits[kind]
            left = self._left(kind, totals, user, now)
            shown[kind] = {"per_day": per_day, "per_five_business_days": per_window, "remaining_today": left.today,
                           "remaining_five_business_days": left.five_business_days}
        return shown

    def _totals(self, username: str, now: datetime) -> dict[date, float]:
        window = five_business_day_window(now.date(), self._calendar)
        return self._ledger.totals(username, min(window), now.date())

    def _left(self, kind: str, totals: dict[date, float], user: User, now: datetime) -> Availability:
        return availability(self._policy.withdrawal_limits[kind], totals, now.date(), self._calendar,
                            reserved=sum(user.reserves.values()))
