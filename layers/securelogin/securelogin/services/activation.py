"""IB Key activation: by an SMS token after the password, or by a QR code / session ID
shown to a logged-in portal user; and "Add user" to an app that already has users. The
enrolment itself is ``IbKeyEnrolment``'s, shared with recovery."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Literal

from securelogin.clock import Clock
from securelogin.crypto.session_ids import new_session_id, normalise
from securelogin.domain import statements
from securelogin.domain.models import Flow, FlowStatus, Purpose
from securelogin.domain.phones import mask
from securelogin.domain.proof import Proof
from securelogin.errors import Forbidden, Gone, NotFound
from securelogin.policy import Policy
from securelogin.services.audit import AuditTrail
from securelogin.services.enrolment import AppEnrolment, Enrolled, IbKeyEnrolment
from securelogin.services.flows import FlowEngine
from securelogin.services.passwords import PasswordGate
from securelogin.services.step_up import StepUpService

# What the portal sees of its QR session (api.md: GET /v1/activation/qr/{session_id}).
QR_STATES: dict[FlowStatus, Literal["pending", "used", "expired"]] = {
    FlowStatus.PENDING: "pending", FlowStatus.APPROVED: "used"}


@dataclass(frozen=True)
class ActivationStarted:
    activation_id: str
    sent_to: str
    expires_at: datetime


@dataclass(frozen=True)
class QrSession:
    session_id: str  # as issued: Crockford's base32, without separators
    expires_at: datetime


@dataclass(frozen=True)
class QrEnrolled(Enrolled):
    """The app enrolled by a QR session: it learns whose session it scanned."""
    username: str


@dataclass(frozen=True)
class QrSessionState:
    status: Literal["pending", "used", "expired"]
    device_id: str | None = None  # when used: the IB Key the app enrolled


def unknown_session_id() -> NotFound:
    return NotFound("unknown_session_id", "No QR session has this id. Check the id, or start again from the portal.")


class ActivationService:
    def __init__(self, passwords: PasswordGate, flows: FlowEngine, enrolment: IbKeyEnrolment, step_up: StepUpService,
                 audit: AuditTrail, clock: Clock, policy: Policy) -> None:
        self._step_up = step_up
        self._passwords = passwords
        self._flows = flows
        self._enrolment = enrolment
        self._audit = audit
        self._clock = clock
        self._policy = policy

    # ------------------------------------------------------------------ by SMS token

    def start_by_sms(self, username: str, password: str, phone: str,
                     session: Proof | None = None) -> ActivationStarted:
        """Texts a token to ``phone``. A number not on file is a new authenticator: only
        the same user's ``full`` session (``session``), stepped up, may bind it."""
        found = self._passwords.check(username, password, Purpose.ACTIVATION)
        assert found.user is not None
        username = found.user.username
        if phone not in found.user.phones:
            if session is None or session.username != username:
                self._audit.record(username, "activation.refused", reason="phone_not_on_file", phone=mask(phone))
                raise Forbidden("phone_not_on_file", "That number is not on file. Log in with your second factor "
                                                     "to activate IB Key on a new number.")
            self._step_up.require(session, found.devices)
        sent = self._enrolment.send_token(username, phone, Purpose.ACTIVATION, {})
        return ActivationStarted(sent.flow_id, sent.sent_to, sent.expires_at)

    def complete_by_sms(self, activation_id: str, code: str, app: AppEnrolment) -> Enrolled:
        try:
            flow = self._flows.open(Purpose.ACTIVATION, activation_id)
        except Gone:
            done = self._flows.find(Purpose.ACTIVATION, activation_id)
            return self._enrolment.made_by_this_request(Purpose.ACTIVATION, done)
        plan = self._enrolment.plan(flow.username, app, replacing=False)  # a refused PIN or key spends no attempt
        right = self._flows.answer(flow, code)
        with self._flows.settling(right):
            return self._enrolment.enrol(right.flow, app, plan, right.reservation)

    # ------------------------------------------------------------------ by QR code / session ID

    def start_by_qr(self, username: str) -> QrSession:
        session_id = new_session_id(self._policy.qr_session_length)
        _, flow = self._flows.start(Purpose.QR_SESSION, username, self._policy.qr_ttl,
                                    statement=statements.operation(Purpose.QR_SESSION, username), flow_id=session_id)
        self._audit.record(username, "activation.qr_issued")
        return QrSession(session_id, flow.expires_at)

    def complete_by_qr(self, session_id: str, app: AppEnrolment) -> QrEnrolled:
        """``session_id`` as typed or scanned. One never issued is unknown (404); one that
        expired or was used is gone (410): its flow is kept a day after it expires."""
        flow = self._qr_session(session_id)
        if flow is None:
            raise unknown_session_id()
        if flow.status_at(self._clock.now()) != FlowStatus.PENDING:
            again = self._enrolment.made_by_this_request(Purpose.QR_SESSION, flow)
            return QrEnrolled(**asdict(again), username=flow.username)
        done = self._enrolment.enrol(flow, app, self._enrolment.plan(flow.username, app, replacing=False), None)
        return QrEnrolled(**asdict(done), username=flow.username)

    def qr_status(self, username: str, session_id: str) -> QrSessionState:
        """The state of a QR session of ``username``'s, for the portal that shows it; another
        user's is unknown, as one never issued is."""
        flow = self._qr_session(session_id, owner=username)
        if flow is None:
            raise unknown_session_id()
        status = QR_STATES.get(flow.status_at(self._clock.now()), "expired")
        return QrSessionState(status, flow.confirmed_by if status == "used" else None)

    def _qr_session(self, session_id: str, owner: str | None = None) -> Flow | None:
        """The QR session behind an id in any of the forms a person may type, in whatever
        state; None for anything never issued as one (another flow's id among them)."""
        issued = normalise(session_id, self._policy.qr_session_length)
        return self._flows.find(Purpose.QR_SESSION, issued, owner=owner) if issued is not None else None
