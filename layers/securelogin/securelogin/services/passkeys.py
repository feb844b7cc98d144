"""Registering a passkey (rules.md, "Passkeys"): from a stepped-up full session (the route
checks it), creation options with a fresh challenge, kept as a flow for 5 minutes and
completed once, in the transaction that adds the passkey, its audit event and its notice."""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from securelogin.clock import Clock
from securelogin.domain import statements
from securelogin.domain.factors.passkey import InvalidRegistration, PasskeyFactor, b64u, unb64u
from securelogin.domain.models import Device, DeviceStatus, DeviceType, Purpose
from securelogin.errors import Conflict, InvalidInput
from securelogin.policy import Policy
from securelogin.ports import DeviceStore, StaleWrite, UserStore, together
from securelogin.services.audit import AuditTrail
from securelogin.services.device_common import profile
from securelogin.services.flows import FlowEngine
from securelogin.services.notify import Notifier
from securelogin.services.users import new_device_id

PURPOSE = Purpose.PASSKEY_REGISTRATION
# The passkeys that count toward the cap and are excluded from a new registration.
HELD = (DeviceStatus.ACTIVE, DeviceStatus.LOCKED, DeviceStatus.PENDING)


@dataclass(frozen=True)
class RegistrationStarted:
    registration_id: str
    options: dict[str, Any]
    expires_at: datetime


class PasskeyRegistration:
    def __init__(self, users: UserStore, device_store: DeviceStore, factor: PasskeyFactor, flows: FlowEngine,
                 audit: AuditTrail, notifier: Notifier, clock: Clock, policy: Policy) -> None:
        self._users = users
        self._device_store = device_store
        self._factor = factor
        self._flows = flows
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._policy = policy

    def begin(self, username: str) -> RegistrationStarted:
        _, devices = profile(self._users, username)
        held = self._held(devices)
        challenge = secrets.token_bytes(32)
        options = self._factor.creation_options(username, challenge, held)
        registration_id, flow = self._flows.start(PURPOSE, username, self._policy.passkey_registration_ttl,
                                                  statements.operation(PURPOSE, username),
                                                  details={"challenge": b64u(challenge)})
        return RegistrationStarted(registration_id, options, flow.expires_at)

    def complete(self, username: str, registration_id: str, label: str, credential: dict[str, Any]) -> Device:
        flow = self._flows.open(PURPOSE, registration_id, owner=username)
        user, devices = profile(self._users, username)
        self._held(devices)
        try:
            key = self._factor.verify_registration(credential, unb64u(flow.details["challenge"]))
        except InvalidRegistration:
            raise InvalidInput("invalid_registration", "The passkey's answer does not match what was asked: its "
                               "challenge, origin, relying party, flags, algorithm or attestation is wrong.") from None
        if any(d.credential_id == key.credential_id for d in devices):
            raise InvalidInput("invalid_registration", "This passkey is registered already.")
        now = self._clock.now()
        device = Device(device_id=new_device_id(), username=username, type=DeviceType.PASSKEY, label=label.strip(),
                        status=DeviceStatus.ACTIVE, created_at=now, credential_id=key.credential_id,
                        public_key=key.public_key, sign_count=key.sign_count)
        told = together(
            self._flows.closing(flow, now),
            self._audit.recording(username, "passkey.registered", device_id=device.device_id,
                                  device_type=DeviceType.PASSKEY.value, label=device.label),
            self._notifier.notice(user, f"a passkey ({device.label}) was added to your account. If this was not "
                                        "you, call us."))
        try:
            self._device_store.add(device, devices_version=user.devices_version, also=told)
        except StaleWrite:
            if not self._flows.unchanged(flow):
                raise self._flows.gone(PURPOSE) from None
            raise Conflict("devices_changed", "Your devices changed meanwhile. Try again.") from None
        return device

    def _held(self, devices: list[Device]) -> list[Device]:
        """The user's passkeys; 409 when they have as many as they may."""
        held = [d for d in devices if d.type == DeviceType.PASSKEY and d.shared_from is None and d.status in HELD]
        if len(held) >= self._policy.passkeys_per_user:
            raise Conflict("too_many_passkeys", f"You have {len(held)} passkeys, the most you may have: remove "
                                                "one before adding another.")
        return held
