"""Login: the password step, then one device's challenge and its answer (M2FS), through
the flow engine every flow shares."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from securelogin.clock import Clock
from securelogin.domain import statements
from securelogin.domain.factors import FactorRegistry
from securelogin.domain.factors.base import Answer
from securelogin.domain.models import Device, FlowStatus, Method, Purpose, Scope, SlsMode, most_secure
from securelogin.observability import Metric, count
from securelogin.policy import Policy
from securelogin.ports import Completing, SessionGrants, StaleWrite
from securelogin.services.audit import AuditTrail
from securelogin.services.flows import ChallengeIssued, FlowEngine, RightAnswer
from securelogin.services.passwords import PasswordGate
from securelogin.services.sessions import GrantedSession, SessionService

PURPOSE = Purpose.LOGIN


@dataclass(frozen=True)
class ClientInfo:
    platform: str  # portal, tws, mobile
    version: int | None = None
    ip: str = "an unknown address"  # as the gateway saw it
    browser: str = statements.UNKNOWN_BROWSER  # read from the User-Agent


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
    def __init__(self, passwords: PasswordGate, flows: FlowEngine, grants: SessionGrants,
                 sessions: SessionService, factors: FactorRegistry, audit: AuditTrail, clock: Clock,
                 policy: Policy) -> None:
        self._passwords = passwords
        self._flows = flows
        self._grants = grants
        self._sessions = sessions
        self._factors = factors
        self._audit = audit
        self._clock = clock
        self._policy = policy

    # ------------------------------------------------------------------ password step

    def start(self, username: str, password: str, client: ClientInfo) -> LoginStarted:
        found = self._passwords.check(username, password, PURPOSE)
        assert found.user is not None
        username = found.user.username
        now = self._clock.now()

        usable = [d for d in found.devices if d.usable_at(now) and d.type in self._factors.types()]
        default = default_device(usable, found.user.preferred_device_id)
        offered = usable
        if (client.platform == "tws" and client.version is not None
                and client.version < self._policy.tws_min_version_with_choice):
            offered = [default] if default else []

        statement = statements.login(username, client.platform, client.ip, client.browser)
        login_id, flow = self._flows.start(PURPOSE, username, self._policy.login_ttl, statement,
                                           device_ids=[d.device_id for d in offered],
                                           details={"platform": client.platform})
        trading = None
        if found.user.sls_mode == SlsMode.OPTED_OUT:
            trading = self._sessions.new(username, Scope.TRADING, None, client.platform)
            self._sessions.store(trading)
            self._audit.record(username, "login.password_only", scope=Scope.TRADING.value)
            count(Metric.LOGIN_SUCCEEDED)  # its last write is done: a 503 before it is not counted
        return LoginStarted(login_id, flow.expires_at, offered, default.device_id if default else None, trading,
                            found.user.restrictions)

    # ------------------------------------------------------------------ second factor

    def challenge(self, login_id: str, device_id: str, method: Method | None) -> ChallengeIssued:
        return self._flows.challenge(self._flows.open(PURPOSE, login_id), device_id, method)

    def verify(self, login_id: str, response: str | Answer) -> GrantedSession:
        right = self._flows.answer(self._flows.open(PURPOSE, login_id), response)
        flow, device = right.flow, right.device
        assert device is not None
        scope = Scope.PORTAL_ONLY if device.scope_cap(right.now) == Scope.PORTAL_ONLY else flow.scope
        granted = self._sessions.new(flow.username, scope, device, flow.details.get("platform", "portal"))
        event = self._audit.recording(flow.username, "login.succeeded", device_id=device.device_id,
                                      device_type=device.type.value,
                                      method=flow.challenge.method.value if flow.challenge else None, scope=scope.value)
        try:
            with self._flows.settling(right):
                self._grants.approve(flow, right.reservation, device, granted.session, right.now, event)
        except StaleWrite:
            raise self._flows.gone(PURPOSE) from None
        count(Metric.LOGIN_SUCCEEDED)  # the session exists: the transaction that made it succeeded, once
        return granted

    def complete_by_push(self, right: RightAnswer, also: Completing) -> None:
        """An approved push completes the login; its session is handed out when the browser
        next reads the login's status (``status``)."""
        with self._flows.settling(right):
            self._flows.run_together(right.flow, self._flows.completing(right), also)

    def status(self, login_id: str) -> tuple[FlowStatus, GrantedSession | None]:
        """The login's status; the first read after a push approval also gets the session.
        An id that is not a login's is unknown (410), whatever flow it belongs to."""
        flow = self._flows.find(PURPOSE, login_id)
        if flow is None:
            raise self._flows.gone(PURPOSE)
        now = self._clock.now()
        status = flow.status_at(now)
        if status != FlowStatus.APPROVED or flow.session_handed_out:
            return status, None
        if now >= flow.expires_at:  # approved, but never picked up while the login lasted
            return FlowStatus.EXPIRED, None
        device = self._flows.device_of(flow)
        granted = self._sessions.new(flow.username, flow.scope, device, flow.details.get("platform", "portal"))
        event = self._audit.recording(flow.username, "login.succeeded", device_id=flow.confirmed_by,
                                      method=Method.PUSH.value, scope=flow.scope.value)
        try:
            self._grants.hand_out(flow, granted.session, event)
        except StaleWrite:  # another read got it first
            return status, None
        count(Metric.LOGIN_SUCCEEDED)  # handed out once, whatever the number of polls
        return status, granted

