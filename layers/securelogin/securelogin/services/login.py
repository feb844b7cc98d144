"""Login: the password step, then one device's challenge and its answer (M2FS).

The second-factor part is the SecondFactorFlow that withdrawals use too.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from securelogin.adapters.stores import LoginStore, PushDecisionStore, StaleWrite
from securelogin.clock import Clock
from securelogin.crypto.codes import lookup_key, random_token
from securelogin.domain.factors import FactorRegistry
from securelogin.domain.models import Device, LoginStatus, LoginTransaction, Scope, SlsMode, most_secure
from securelogin.policy import Policy
from securelogin.services.audit import AuditTrail
from securelogin.services.passwords import PasswordGate
from securelogin.services.second_factor import ChallengeIssued, SecondFactorFlow
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
    # Opted-out users get a trading session from the password alone (a device steps it up).
    trading_session: GrantedSession | None = None
    restrictions: list[str] = field(default_factory=list)


def default_device(devices: list[Device], preferred_id: str | None) -> Device | None:
    """The user's preferred device, else the most secure, ties to the most recently used."""
    for device in devices:
        if device.device_id == preferred_id:
            return device
    return most_secure(devices)


class LoginService:
    def __init__(self, passwords: PasswordGate, flow: SecondFactorFlow, logins: LoginStore,
                 decisions: PushDecisionStore, sessions: SessionService, factors: FactorRegistry, audit: AuditTrail,
                 clock: Clock, policy: Policy) -> None:
        self._passwords = passwords
        self._flow = flow
        self._logins = logins
        self._decisions = decisions
        self._sessions = sessions
        self._factors = factors
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
        trading = None
        if found.user.sls_mode == SlsMode.OPTED_OUT:
            trading = self._sessions.new(username, Scope.TRADING, None)
            self._sessions.store(trading)
            self._audit.record(username, "login.password_only", scope=Scope.TRADING.value)
        return LoginStarted(login_id, txn.expires_at, offered, default.device_id if default else None, trading,
                            found.user.restrictions)

    # ------------------------------------------------------------------ second factor

    def challenge(self, login_id: str, device_id: str, method: str | None) -> ChallengeIssued:
        return self._flow.challenge(login_id, PURPOSE, device_id, method)

    def verify(self, login_id: str, response: str) -> GrantedSession:
        right = self._flow.check(login_id, PURPOSE, response)
        txn, device = right.txn, right.device
        scope = Scope.PORTAL_ONLY if device.scope_cap(right.now) == Scope.PORTAL_ONLY else txn.scope
        granted = self._sessions.new(txn.username, scope, device.device_id)
        try:
            self._logins.approve(txn.key, right.version, self._policy.attempts_per_transaction, granted.session,
                                 device, right.now)
        except StaleWrite:
            raise self._flow.gone(PURPOSE) from None
        self._audit.record(txn.username, "login.succeeded", device_id=device.device_id, device_type=device.type.value,
                           method=right.challenge.method, scope=scope.value)
        return granted

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
