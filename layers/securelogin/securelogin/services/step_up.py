"""Step-up (rules.md, "Step-up"): what changes how an account is protected needs a session
that proved possession lately with a device as strong as the user's strongest, so that a
password and one phished SMS code cannot bind a new authenticator, remove the DSC+ or opt
the account out. A session that is not is stepped up in place: a challenge and an answer,
counted like every other, after which the same token is strong for a while."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from securelogin.clock import Clock
from securelogin.domain import statements
from securelogin.domain.factors.base import Answer
from securelogin.domain.models import Device, Flow, FlowStatus, Method, Purpose
from securelogin.domain.proof import Origin, Proof, is_strong, strong_devices
from securelogin.errors import NotFound, StepUpRequired
from securelogin.policy import Policy
from securelogin.ports import Completing, SessionStore, StaleWrite, UserStore
from securelogin.services.audit import AuditTrail
from securelogin.services.flows import ChallengeIssued, FlowEngine, RightAnswer

PURPOSE = Purpose.STEP_UP


@dataclass(frozen=True)
class StepUpStarted:
    step_up_id: str
    devices: list[Device]
    expires_at: datetime


class StepUpService:
    def __init__(self, flows: FlowEngine, users: UserStore, sessions: SessionStore, audit: AuditTrail, clock: Clock,
                 policy: Policy) -> None:
        self._flows = flows
        self._users = users
        self._sessions = sessions
        self._audit = audit
        self._clock = clock
        self._policy = policy

    def strong_until(self, proof: Proof) -> datetime | None:
        return proof.proved_at + self._policy.step_up_lifetime if proof.proved_at else None

    def require(self, proof: Proof, devices: list[Device] | None = None) -> None:
        """Refuses (403 step_up_required, with the devices that can do it) unless the session
        proved possession lately with a strong enough device. ``devices``: the user's, if
        the caller read them already."""
        now = self._clock.now()
        if devices is None:
            devices = self._users.partition(proof.username).devices
        until = self.strong_until(proof)
        if until is not None and now < until and is_strong(proof.proved_with, devices, now, proof.proved_by):
            return
        raise StepUpRequired(strong_devices(devices, now))

    def start(self, proof: Proof, origin: Origin) -> StepUpStarted:
        now = self._clock.now()
        devices = strong_devices(self._users.partition(proof.username).devices, now)
        if not devices:
            raise NotFound("device_not_found", "No active device of yours can confirm this.")
        statement = statements.step_up(proof.username, proof.platform, origin.ip, origin.browser)
        step_up_id, flow = self._flows.start(PURPOSE, proof.username, self._policy.login_ttl, statement,
                                             device_ids=[d.device_id for d in devices],
                                             details={"session_key": proof.session_key})
        return StepUpStarted(step_up_id, devices, flow.expires_at)

    def challenge(self, proof: Proof, step_up_id: str, device_id: str, method: Method | None) -> ChallengeIssued:
        return self._flows.challenge(self._open(proof, step_up_id), device_id, method)

    def verify(self, proof: Proof, step_up_id: str, response: str | Answer) -> datetime:
        right = self._flows.answer(self._open(proof, step_up_id), response)
        self.complete(right, None)
        return right.now + self._policy.step_up_lifetime

    def complete(self, right: RightAnswer, also: Completing | None) -> None:
        """The step-up's flow completes and its session is strong from now, in one
        transaction (a right answer, or an approved push with its ``also``)."""
        flow, device = right.flow, right.device
        assert device is not None
        writes = [self._flows.completing(right), self._sessions.proving(flow.details["session_key"], right.now,
                                                                        device.type, device.device_id),
                  self._audit.recording(flow.username, "step_up.succeeded", device_id=device.device_id,
                                        device_type=device.type.value)]
        try:
            with self._flows.settling(right):
                self._flows.run_together(flow, *writes, *([also] if also else []))
        except StaleWrite:
            raise self._flows.gone(PURPOSE) from None

    def status(self, proof: Proof, step_up_id: str) -> tuple[FlowStatus, datetime | None]:
        flow = self._flows.find(PURPOSE, step_up_id, owner=proof.username)
        if flow is None or flow.details.get("session_key") != proof.session_key:
            raise self._flows.gone(PURPOSE)
        status = flow.status_at(self._clock.now())
        if status != FlowStatus.APPROVED:
            return status, None
        return status, self.strong_until(proof)

    def _open(self, proof: Proof, step_up_id: str) -> Flow:
        flow = self._flows.open(PURPOSE, step_up_id, owner=proof.username)
        if flow.details.get("session_key") != proof.session_key:
            raise self._flows.gone(PURPOSE)
        return flow
