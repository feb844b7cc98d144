"""Withdrawals confirmed by a second factor whose limits cover them (rules.md
"Withdrawal limits"). The check and the record are one conditional transaction."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from securelogin.adapters.ledger import LedgerStore
from securelogin.adapters.stores import LoginStore, StaleWrite, UserStore
from securelogin.clock import Clock
from securelogin.crypto.codes import lookup_key, random_token
from securelogin.domain.limits import Availability, availability, most_generous
from securelogin.domain.models import Device, LoginStatus, LoginTransaction, User
from securelogin.errors import Forbidden, NotFound
from securelogin.policy import Policy
from securelogin.services.audit import AuditTrail
from securelogin.services.second_factor import ChallengeIssued, SecondFactorFlow

PURPOSE = "withdrawal"
STATUS = {LoginStatus.PENDING: "pending", LoginStatus.APPROVED: "authorized", LoginStatus.DENIED: "denied",
          LoginStatus.EXPIRED: "expired"}
RACE_RETRIES = 3


@dataclass(frozen=True)
class WithdrawalStarted:
    withdrawal_id: str
    eligible_device_ids: list[str]
    expires_at: datetime


class WithdrawalService:
    def __init__(self, flow: SecondFactorFlow, transactions: LoginStore, users: UserStore, ledger: LedgerStore,
                 audit: AuditTrail, clock: Clock, policy: Policy) -> None:
        self._flow = flow
        self._transactions = transactions
        self._users = users
        self._ledger = ledger
        self._audit = audit
        self._clock = clock
        self._policy = policy
        self._holidays = frozenset(date.fromisoformat(d) for d in policy.holidays)

    def create(self, username: str, amount: float) -> WithdrawalStarted:
        now = self._clock.now()
        found = self._users.partition(username)
        if found.user is None:
            raise NotFound("user_not_found", "No such user.")
        usable = [d for d in found.devices if d.usable_at(now)]
        totals, _ = self._ledger.load(username)
        left = {d.device_id: self._left(d.type.value, totals, found.user, now) for d in usable}
        eligible = [d.device_id for d in usable if left[d.device_id].covers(amount)]
        if not eligible:
            best = most_generous(left.values())
            raise Forbidden("limit_exceeded", "No device of yours can confirm that much now.",
                            available_today=best.today, available_five_days=best.five_business_days)
        withdrawal_id = random_token(16)
        txn = LoginTransaction(key=lookup_key(withdrawal_id), username=username,
                               device_ids=[d.device_id for d in usable], expires_at=now + self._policy.login_ttl,
                               purpose=PURPOSE, amount_usd=amount)
        self._transactions.create(txn)
        self._audit.record(username, "withdrawal.requested", amount_usd=amount)
        return WithdrawalStarted(withdrawal_id, eligible, txn.expires_at)

    def challenge(self, username: str, withdrawal_id: str, device_id: str, method: str | None) -> ChallengeIssued:
        opened = self._flow.open(withdrawal_id, PURPOSE, username)
        txn = opened[0]
        user = self._users.get_user(username)
        assert user is not None and txn.amount_usd is not None
        totals, _ = self._ledger.load(username)

        def allow(device: Device) -> None:
            if not self._left(device.type.value, totals, user, self._clock.now()).covers(txn.amount_usd or 0):
                raise Forbidden("device_limit_too_low", "This device's limits do not cover this withdrawal.")

        return self._flow.challenge(withdrawal_id, PURPOSE, device_id, method, owner=username, allow=allow,
                                    opened=opened)

    def verify(self, username: str, withdrawal_id: str, response: str) -> Availability:
        right = self._flow.check(withdrawal_id, PURPOSE, response, owner=username)
        return self.authorize(right.txn, right.version, right.device, right.now)

    def authorize(self, txn: LoginTransaction, version: int, device: Device, now: datetime) -> Availability:
        """Checks the limits and records the withdrawal in one transaction; a concurrent
        withdrawal that got there first is counted before this one is checked again."""
        amount = txn.amount_usd or 0.0
        for _ in range(RACE_RETRIES):
            user = self._users.get_user(txn.username)
            assert user is not None
            totals, ledger = self._ledger.load(txn.username)
            if not self._left(device.type.value, totals, user, now).covers(amount):
                best = self._left(device.type.value, totals, user, now)
                raise Forbidden("limit_exceeded", "This withdrawal would go over the device's limits.",
                                available_today=best.today, available_five_days=best.five_business_days)
            today = now.date()
            totals[today] = totals.get(today, 0.0) + amount
            try:
                self._ledger.authorize(txn.key, version, self._policy.attempts_per_transaction, ledger, totals,
                                       device, now)
            except StaleWrite:
                current = self._transactions.get(txn.key)
                if current is None or current[0].status != LoginStatus.PENDING or current[1] != version:
                    raise self._flow.gone(PURPOSE) from None
                continue  # the ledger moved: check again with the new totals
            self._audit.record(txn.username, "withdrawal.authorized", amount_usd=amount, device_id=device.device_id,
                               device_type=device.type.value)
            return self._left(device.type.value, totals, user, now)
        raise self._flow.gone(PURPOSE)

    def status(self, username: str, withdrawal_id: str) -> str:
        found = self._transactions.get(lookup_key(withdrawal_id))
        if found is None or found[0].purpose != PURPOSE or found[0].username != username:
            raise NotFound("withdrawal_not_found", "No such withdrawal of yours.")
        return STATUS[found[0].status_at(self._clock.now())]

    def limits(self, user: User, devices: list[Device]) -> dict[str, dict[str, float | None]]:
        """The limits of each kind of device the user can confirm with, and what is left."""
        now = self._clock.now()
        totals, _ = self._ledger.load(user.username)
        shown: dict[str, dict[str, float | None]] = {}
        for kind in sorted({d.type.value for d in devices if d.usable_at(now)} or {"none"}):
            per_day, per_window = self._policy.withdrawal_limits[kind]
            left = self._left(kind, totals, user, now)
            shown[kind] = {"per_day": per_day, "per_five_business_days": per_window, "remaining_today": left.today,
                           "remaining_five_business_days": left.five_business_days}
        return shown

    def _left(self, kind: str, totals: dict[date, float], user: User, now: datetime) -> Availability:
        return availability(self._policy.withdrawal_limits[kind], totals, now.date(), self._holidays,
                            reserved=sum(user.reserves.values()))


