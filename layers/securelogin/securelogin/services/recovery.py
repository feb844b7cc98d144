"""IB Key recovery (same phone, after a reinstall or cleared app data) and transfer (to
another phone). The user proves possession with a physical device when they have one,
else with an SMS token to the phone originally used; then the app enrols again and the
previous binding is revoked in the same transaction."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from securelogin.adapters.enrolment import EnrolmentStore
from securelogin.adapters.stores import UserStore
from securelogin.clock import Clock
from securelogin.crypto.codes import lookup_key, random_token
from securelogin.domain.factors import ChallengeContext, FactorRegistry
from securelogin.domain.models import Challenge, DeviceStatus, DeviceType, Ticket, most_secure
from securelogin.errors import Forbidden, InvalidInput, Unauthenticated
from securelogin.policy import Policy
from securelogin.services.activation import ActivationService, AppEnrolment, Enrolled
from securelogin.services.audit import AuditTrail
from securelogin.services.passwords import PasswordGate

PURPOSE = "recovery"
GONE = "recovery_expired"
CHECK_PREFIX = "check."


@dataclass(frozen=True)
class RecoveryStarted:
    recovery_id: str
    method: str  # sms or device
    expires_at: datetime
    sent_to: str | None = None
    device_id: str | None = None
    challenge: dict[str, Any] | None = None


class RecoveryService:
    def __init__(self, passwords: PasswordGate, users: UserStore, store: EnrolmentStore,
                 activation: ActivationService, factors: FactorRegistry, audit: AuditTrail, clock: Clock,
                 policy: Policy) -> None:
        self._passwords = passwords
        self._users = users
        self._store = store
        self._activation = activation
        self._factors = factors
        self._audit = audit
        self._clock = clock
        self._policy = policy

    def start(self, username: str, password: str, same_phone: bool, app_instance_id: str | None) -> RecoveryStarted:
        found = self._passwords.check(username, password, PURPOSE)
        assert found.user is not None
        now = self._clock.now()
        current = next((d for d in found.devices if d.type == DeviceType.IB_KEY and d.status == DeviceStatus.ACTIVE),
                       None)
        details = {"same_phone": str(same_phone).lower(),
                   "app_instance_id": app_instance_id or (current.app_instance_id if same_phone and current else "")
                   or ""}
        device = most_secure([d for d in found.devices if d.physical and d.status_at(now) == DeviceStatus.ACTIVE])
        if device is not None:
            recovery_id = random_token(16)
            key = lookup_key(recovery_id)
            issued = self._factors.for_type(device.type).issue(
                device, "challenge_response", ChallengeContext(PURPOSE, key, now, recovery_id))
            if issued.remember is not None:
                self._users.remember_challenge(device, issued.remember)
            details.update({f"{CHECK_PREFIX}{k}": v for k, v in issued.check_data.items()},
                           method="device", device_id=device.device_id,
                           challenge_expires_at=issued.expires_at.isoformat())
            self._store.create_ticket(Ticket(key=key, username=username, purpose=PURPOSE,
                                             expires_at=issued.expires_at, details=details))
            self._audit.record(username, "recovery.started", method="device", device_id=device.device_id)
            return RecoveryStarted(recovery_id, "device", issued.expires_at, device_id=device.device_id,
                                   challenge=issued.public)
        if not found.user.phones:
            self._audit.record(username, "recovery.refused", reason="no_way_to_prove_possession")
            raise Forbidden("contact_client_services",
                            "We cannot reach a device or phone of yours. Please contact Client Services.")
        sent = self._activation.send_token(username, found.user.phones[0], PURPOSE, {**details, "method": "sms"})
        return RecoveryStarted(sent.activation_id, "sms", sent.expires_at, sent_to=sent.sent_to)

    def complete(self, recovery_id: str, app: AppEnrolment, activation_code: str | None,
                 response: str | None) -> Enrolled:
        ticket = self._activation.open_ticket(lookup_key(recovery_id), PURPOSE, GONE)
        if ticket.details.get("same_phone") == "true" and ticket.details.get("app_instance_id"):
            # The same phone keeps its app instance, and so its original PIN.
            app = replace(app, app_instance_id=ticket.details["app_instance_id"])
        if ticket.details.get("method") == "sms":
            if activation_code is None:
                raise InvalidInput("invalid_request", "activation_code: required for an SMS recovery")
            done = self._activation.complete_with_code(ticket, activation_code, app, replacing=True, gone_code=GONE)
        else:
            if response is None:
                raise InvalidInput("invalid_request", "response: required for a recovery by device")
            done = self._complete_by_device(ticket, app, response)
        self._audit.record(ticket.username, "recovery.completed", device_id=done.device_id,
                           same_phone=ticket.details.get("same_phone") == "true")
        return done

    def _complete_by_device(self, ticket: Ticket, app: AppEnrolment, response: str) -> Enrolled:
        now = self._clock.now()
        plan = self._activation.plan(ticket.username, app, now, replacing=True)
        device = self._users.get_device(ticket.username, ticket.details["device_id"])
        check_data = {k.removeprefix(CHECK_PREFIX): v for k, v in ticket.details.items() if k.startswith(CHECK_PREFIX)}
        challenge = Challenge(device_id=ticket.details["device_id"], method="challenge_response", issued_at=now,
                              expires_at=ticket.expires_at, check_data=check_data)
        right = device is not None and device.status_at(now) == DeviceStatus.ACTIVE and \
            self._factors.for_type(device.type).check(device, challenge, response,
                                                      ChallengeContext(PURPOSE, ticket.key, now))
        if not right:
            left = self._activation.count_wrong_answer(ticket, GONE)
            raise Unauthenticated("invalid_response", "That response is not right.", attempts_left=left)
        return self._activation.enrol(ticket, app, plan, GONE)
