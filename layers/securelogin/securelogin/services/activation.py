"""IB Key activation: by an SMS token after the password, or by a QR code / session ID
shown to a logged-in portal user; and "Add user" to an app that already has users. The
enrolment itself is ``IbKeyEnrolment``'s, shared with recovery."""
from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime

from securelogin.domain.models import Purpose
from securelogin.domain.phones import mask
from securelogin.errors import Forbidden
from securelogin.policy import Policy
from securelogin.services.audit import AuditTrail
from securelogin.services.enrolment import AppEnrolment, Enrolled, IbKeyEnrolment
from securelogin.services.flows import FlowEngine
from securelogin.services.passwords import PasswordGate

QR_ALPHABET = string.ascii_letters + string.digits


@dataclass(frozen=True)
class ActivationStarted:
    activation_id: str
    sent_to: str
    expires_at: datetime


@dataclass(frozen=True)
class QrSession:
    session_id: str
    expires_at: datetime


class ActivationService:
    def __init__(self, passwords: PasswordGate, flows: FlowEngine, enrolment: IbKeyEnrolment, audit: AuditTrail,
                 policy: Policy) -> None:
        self._passwords = passwords
        self._flows = flows
        self._enrolment = enrolment
        self._audit = audit
        self._policy = policy

    # ------------------------------------------------------------------ by SMS token

    def start_by_sms(self, username: str, password: str, phone: str,
                     session_username: str | None = None) -> ActivationStarted:
        """Texts a token to ``phone``. A number not on file is a new authenticator: only
        the same user's ``full`` session (``session_username``) may bind it."""
        found = self._passwords.check(username, password, Purpose.ACTIVATION)
        assert found.user is not None
        username = found.user.username
        if phone not in found.user.phones and session_username != username:
            self._audit.record(username, "activation.refused", reason="phone_not_on_file", phone=mask(phone))
            raise Forbidden("phone_not_on_file", "That number is not on file. Log in with your second factor to "
                                                 "activate IB Key on a new number.")
        sent = self._enrolment.send_token(username, phone, Purpose.ACTIVATION, {})
        return ActivationStarted(sent.flow_id, sent.sent_to, sent.expires_at)

    def complete_by_sms(self, activation_id: str, code: str, app: AppEnrolment) -> Enrolled:
        flow = self._flows.open(Purpose.ACTIVATION, activation_id)
        plan = self._enrolment.plan(flow.username, app, replacing=False)  # a refused PIN or key spends no attempt
        right = self._flows.answer(flow, code)
        return self._enrolment.enrol(right.flow, app, plan, right.reservation)

    # ------------------------------------------------------------------ by QR code / session ID

    def start_by_qr(self, username: str) -> QrSession:
        session_id = "".join(secrets.choice(QR_ALPHABET) for _ in range(self._policy.qr_session_length))
        _, flow = self._flows.start(Purpose.QR_SESSION, username, self._policy.qr_ttl, flow_id=session_id)
        self._audit.record(username, "activation.qr_issued")
        return QrSession(session_id, flow.expires_at)

    def complete_by_qr(self, session_id: str, app: AppEnrolment) -> Enrolled:
        flow = self._flows.open(Purpose.QR_SESSION, session_id)
        return self._enrolment.enrol(flow, app, self._enrolment.plan(flow.username, app, replacing=False), None)
