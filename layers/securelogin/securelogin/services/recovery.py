"""IB Key recovery (same phone, after a reinstall or cleared app data) and transfer (to
another phone). The user proves possession with a physical device when they have one,
else with an SMS token to the phone originally used; then the app enrols again and the
previous binding is revoked in the same transaction. Both answers go through the flow
engine, so they count toward every limit like any other answer."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from securelogin.clock import Clock
from securelogin.domain import statements
from securelogin.domain.models import DeviceStatus, DeviceType, Method, Purpose, most_secure
from securelogin.errors import Forbidden, Gone, InvalidInput
from securelogin.policy import Policy
from securelogin.services.audit import AuditTrail
from securelogin.services.enrolment import AppEnrolment, Enrolled, IbKeyEnrolment
from securelogin.services.flows import FlowEngine
from securelogin.services.passwords import PasswordGate

PURPOSE = Purpose.RECOVERY


@dataclass(frozen=True)
class RecoveryStarted:
    recovery_id: str
    method: str  # sms or device
    expires_at: datetime
    sent_to: str | None = None
    device_id: str | None = None
    challenge: dict[str, Any] | None = None


class RecoveryService:
    def __init__(self, passwords: PasswordGate, flows: FlowEngine, enrolment: IbKeyEnrolment,
                 audit: AuditTrail, clock: Clock, policy: Policy) -> None:
        self._passwords = passwords
        self._flows = flows
        self._enrolment = enrolment
        self._audit = audit
        self._clock = clock
        self._policy = policy

    def start(self, username: str, password: str, same_phone: bool, app_instance_id: str | None) -> RecoveryStarted:
        found = self._passwords.check(username, password, PURPOSE)
        assert found.user is not None
        username = found.user.username
        now = self._clock.now()
        current = next((d for d in found.devices if d.type == DeviceType.IB_KEY and d.status == DeviceStatus.ACTIVE),
                       None)
        details = {"same_phone": str(same_phone).lower(),
                   "app_instance_id": app_instance_id or (current.app_instance_id if same_phone and current else "")
                   or ""}
        device = most_secure([d for d in found.devices if d.physical and d.status_at(now) == DeviceStatus.ACTIVE])
        if device is not None:
            recovery_id, flow, issued = self._flows.start_challenged(PURPOSE, username, self._policy.challenge_ttl,
                                                                     device, statements.operation(PURPOSE, username),
                                                                     Method.CHALLENGE_RESPONSE,
                                                                     details=details)
            self._audit.record(username, "recovery.started", method="device", device_id=device.device_id)
            return RecoveryStarted(recovery_id, "device", flow.expires_at, device_id=device.device_id,
                                   challenge=issued.public)
        if not found.user.phones:
            self._audit.record(username, "recovery.refused", reason="no_way_to_prove_possession")
            raise Forbidden("contact_client_services",
                            "We cannot reach a device or phone of yours. Please contact Client Services.")
        sent = self._enrolment.send_token(username, found.user.phones[0], PURPOSE, details)
        return RecoveryStarted(sent.flow_id, "sms", sent.expires_at, sent_to=sent.sent_to)

    def complete(self, recovery_id: str, app: AppEnrolment, activation_code: str | None,
                 response: str | None) -> Enrolled:
        try:
            flow = self._flows.open(PURPOSE, recovery_id)
        except Gone:
            return self._enrolment.made_by_this_request(PURPOSE, self._flows.find(PURPOSE, recovery_id))
        if flow.details.get("same_phone") == "true" and flow.details.get("app_instance_id"):
            # The same phone keeps its app instance, and so its original PIN.
            app = replace(app, app_instance_id=flow.details["app_instance_id"])
        by_code = flow.challenge is not None and flow.challenge.method == Method.ACTIVATION_CODE
        answer = activation_code if by_code else response
        if answer is None:
            raise InvalidInput("invalid_request", "activation_code: required for an SMS recovery" if by_code
                               else "response: required for a recovery by device")
        plan = self._enrolment.plan(flow.username, app, replacing=True)  # a refused PIN spends no attempt
        right = self._flows.answer(flow, answer)
        with self._flows.settling(right):
            return self._enrolment.enrol(right.flow, app, plan, right.reservation, self._audit.recording(
                flow.username, "recovery.completed", same_phone=flow.details.get("same_phone") == "true"))
