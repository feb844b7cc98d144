"""What a logged-in user does to their own devices: the Online Security Code Card of a
temporary-code session, reactivating a found device, the DSC+ from request to activation
and PIN change, and returning or removing a device."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime

from securelogin.clock import Clock
from securelogin.domain import statements
from securelogin.domain.factors.code_card import new_card
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import (
    Device,
    DeviceRequest,
    DeviceRequestStatus,
    DeviceStatus,
    DeviceType,
    Method,
    Purpose,
)
from securelogin.errors import Conflict, Forbidden
from securelogin.policy import Policy
from securelogin.ports import Completing, DeviceRequestStore, DeviceStore, StaleWrite, UserStore, together
from securelogin.services.audit import AuditTrail
from securelogin.services.device_common import (
    CARD_ENTRIES,
    active_temporary,
    card_pin_sha1_hex,
    one_of,
    own_device,
    profile,
    refuse_weak_card_pin,
)
from securelogin.services.device_secrets import DeviceSecrets
from securelogin.services.flows import FlowEngine
from securelogin.services.notify import Notifier
from securelogin.services.users import new_device_id

REPLACEMENT_REASONS = ("lost", "broken", "battery")
FOUND_STATUSES = (DeviceStatus.LOST, DeviceStatus.INACTIVE)


def _device_flow_id(username: str, device_id: str) -> str:
    """A device's activation or PIN change is named by the device, not by a random id:
    one open at a time per device and user, a new challenge replacing the last."""
    return f"{username}|{device_id}"


@dataclass(frozen=True)
class OnlineCard:
    device: Device
    card: dict[str, str]  # shown once


@dataclass(frozen=True)
class DscPlusRequested:
    request_id: str
    fee_usd: float
    reserve_usd: float


class UserDevices:
    def __init__(self, users: UserStore, device_store: DeviceStore, requests: DeviceRequestStore,
                 device_secrets: DeviceSecrets, flows: FlowEngine, audit: AuditTrail, notifier: Notifier,
                 clock: Clock, policy: Policy) -> None:
        self._users = users
        self._device_store = device_store
        self._requests = requests
        self._secrets = device_secrets
        self._flows = flows
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._policy = policy

    def online_card(self, username: str, session_device_id: str | None) -> OnlineCard:
        now = self._clock.now()
        user, devices = profile(self._users, username)
        source = next((d for d in devices if d.device_id == session_device_id), None)
        if source is None or source.type != DeviceType.TEMPORARY_CODE or source.status_at(now) != DeviceStatus.ACTIVE:
            raise Forbidden("temporary_code_session_required",
                            "An Online Security Code Card needs a session opened with a temporary code.")
        card = new_card(CARD_ENTRIES, "0123456789")
        device_id = new_device_id()
        device = Device(device_id=device_id, username=username, type=DeviceType.ONLINE_SCC,
                        label="Online Security Code Card", status=DeviceStatus.ACTIVE, created_at=now,
                        valid_until=now + self._policy.online_card_validity,
                        sealed_secret=self._secrets.seal(device_id, DeviceSecret(card=card)))
        previous = tuple(d for d in devices if d.type == DeviceType.ONLINE_SCC and d.status == DeviceStatus.ACTIVE)
        event = self._audit.recording(username, "device.added", device_id=device_id, device_type="online_scc")
        try:
            self._device_store.add(device, revoke=previous, devices_version=user.devices_version, also=together(
                event, self._notifier.notice(user, "an Online Security Code Card was created for your account.")))
        except StaleWrite:
            raise Conflict("devices_changed", "Your devices changed meanwhile. Try again.") from None
        return OnlineCard(device, card)

    def reactivate(self, username: str, device_id: str, session_device_id: str | None) -> Device:
        """A found device comes back, by a session that another device opened."""
        if session_device_id == device_id:
            raise Forbidden("another_device_required", "Log in with another device to reactivate this one.")
        _, devices = profile(self._users, username)
        device = one_of(devices, device_id)
        if device.temporary or device.status not in FOUND_STATUSES:
            raise Conflict("not_reactivatable", "Only a lost or inactive permanent device can be reactivated.")
        self._refuse_link(device)
        if device.shared_from is None and device.physical and self._sharing_in_force(devices):
            raise Conflict("shared_device_in_use", "Your own cards stay inactive while you use a shared one: "
                                                   "cancel the share first.")
        return self._make_active(device, FOUND_STATUSES, "device.reactivated")

    def request_dsc_plus(self, username: str, pin: str, reason: str) -> DscPlusRequested:
        now = self._clock.now()
        user, devices = profile(self._users, username)
        current = [d for d in devices if d.type == DeviceType.DSC_PLUS
                   and d.status in (DeviceStatus.ACTIVE, DeviceStatus.LOST, DeviceStatus.INACTIVE)]
        has_ib_key = any(d.type == DeviceType.IB_KEY and d.status == DeviceStatus.ACTIVE for d in devices)
        replacement = reason in REPLACEMENT_REASONS and bool(current)
        if not replacement and not (has_ib_key and user.balance_usd >= self._policy.dsc_plus_min_balance_usd):
            raise Forbidden("not_eligible", "A Digital Security Card+ is for IB Key users with at least USD "
                            f"{self._policy.dsc_plus_min_balance_usd:,.0f}, or to replace one.")
        refuse_weak_card_pin(pin)
        fee = self._policy.dsc_plus_replacement_fee_usd if replacement and reason != "battery" else 0.0
        request_id = "req_" + secrets.token_hex(10)
        pin_sha1 = card_pin_sha1_hex(pin)
        if user.open_request_id:
            raise Conflict("request_pending", "A Digital Security Card+ request of yours is already open.")
        try:
            self._requests.create(DeviceRequest(
                request_id=request_id, username=username, reason=reason, fee_usd=fee,
                status=DeviceRequestStatus.REQUESTED,
                sealed_pin=self._secrets.seal_request_pin(request_id, pin_sha1), created_at=now,
                replaces_device_id=current[0].device_id if replacement else None),
                self._audit.recording(username, "device.requested", request_id=request_id, reason=reason, fee_usd=fee))
        except StaleWrite:
            raise Conflict("request_pending", "A Digital Security Card+ request of yours is already open.") from None
        return DscPlusRequested(request_id, fee, fee)

    def activation_challenge(self, username: str, device_id: str) -> tuple[str, datetime]:
        """A challenge for a shipped card, answered once to activate it (5 answers per challenge)."""
        device = own_device(self._device_store, username, device_id)
        if device.status != DeviceStatus.PENDING:
            raise Conflict("not_pending", "Only a device waiting for activation can be activated.")
        return self._device_challenge(Purpose.DEVICE_ACTIVATION, device)

    def activate(self, username: str, device_id: str, response: str) -> Device:
        flow = self._flows.open(Purpose.DEVICE_ACTIVATION, _device_flow_id(username, device_id), owner=username)
        right = self._flows.answer(flow, response)
        assert right.device is not None
        with self._flows.settling(right):
            return self._make_active(right.device, (DeviceStatus.PENDING,), "device.activated",
                                     self._flows.completing(right, with_device=False))

    def pin_challenge(self, username: str, device_id: str) -> tuple[str, datetime]:
        """A challenge for changing a DSC+ PIN (KB1018), answered with the current PIN."""
        device = own_device(self._device_store, username, device_id)
        if device.type != DeviceType.DSC_PLUS or device.status != DeviceStatus.ACTIVE:
            raise Conflict("not_a_dsc_plus", "Only an active Digital Security Card+ has a PIN to change here.")
        return self._device_challenge(Purpose.PIN_CHANGE, device)

    def change_pin(self, username: str, device_id: str, response: str, new_pin: str) -> Device:
        refuse_weak_card_pin(new_pin)  # checked first: a refused PIN spends no answer
        flow = self._flows.open(Purpose.PIN_CHANGE, _device_flow_id(username, device_id), owner=username)
        right = self._flows.answer(flow, response)
        device = right.device
        assert device is not None
        secret = replace(self._secrets.open(device), pin_sha1_hex=card_pin_sha1_hex(new_pin))
        told = together(
            self._audit.recording(device.holder, "device.pin_changed", device_id=device_id,
                                  device_type=device.type.value, by=username),
            self._notifier.notice_to(username, "the PIN of your Digital Security Card+ was changed. "
                                               "If this was not you, call Client Services."))
        try:
            with self._flows.settling(right):
                self._device_store.replace_secret(device, self._secrets.seal(device.device_id, secret), right.now,
                                                  together(self._flows.completing(right, with_device=False), told))
        except StaleWrite:
            raise self._flows.gone(Purpose.PIN_CHANGE) from None
        return device

    def return_device(self, username: str, device_id: str) -> Device:
        now = self._clock.now()
        user, devices = profile(self._users, username)
        device = one_of(devices, device_id)
        if device.temporary or device.type == DeviceType.SMS \
                or device.status in (DeviceStatus.RETURNED, DeviceStatus.REVOKED):
            raise Conflict("not_returnable", "This device cannot be returned.")
        self._refuse_link(device)
        if device.status_at(now) == DeviceStatus.ACTIVE and not self._others_active(devices, device_id, now):
            raise Conflict("last_device", "Keep at least one other active device before returning this one.")
        event = self._audit.recording(username, "device.returned", device_id=device_id, device_type=device.type.value)
        try:
            self._device_store.remove(device, DeviceStatus.RETURNED, user.devices_version, event,
                                      release_reserve=device_id in user.reserves)
        except StaleWrite:
            raise Conflict("device_changed", "The device changed meanwhile. Try again.") from None
        device.status = DeviceStatus.RETURNED
        return device

    def deactivate(self, username: str, device_id: str) -> None:
        now = self._clock.now()
        user, devices = profile(self._users, username)
        device = one_of(devices, device_id)
        self._refuse_link(device)
        if device.status_at(now) != DeviceStatus.ACTIVE or not self._others_active(devices, device_id, now):
            raise Conflict("last_device", "Keep at least one other active device before removing this one.")
        told = together(
            self._audit.recording(username, "device.removed", device_id=device_id, device_type=device.type.value),
            self._notifier.notice(user, "a security device was removed from your account. If this was not you, "
                                        "call us."))
        try:
            self._device_store.remove(device, DeviceStatus.INACTIVE, user.devices_version, told)
        except StaleWrite:
            raise Conflict("device_changed", "The device changed meanwhile. Try again.") from None

    # ------------------------------------------------------------------ helpers

    def _device_challenge(self, purpose: Purpose, device: Device) -> tuple[str, datetime]:
        _, _, issued = self._flows.start_challenged(purpose, device.username, self._policy.challenge_ttl, device,
                                                    statements.operation(purpose, device.username),
                                                    Method.CHALLENGE_RESPONSE,
                                                    flow_id=_device_flow_id(device.username, device.device_id))
        return issued.public["challenge_code"], issued.public["expires_at"]

    @staticmethod
    def _refuse_link(device: Device) -> None:
        """A shared device is its owner's to remove or return; its user ends the share."""
        if device.shared_from is not None:
            raise Conflict("shared_device", "This device is shared with you: cancel the share to stop using it.")

    @staticmethod
    def _sharing_in_force(devices: list[Device]) -> bool:
        return any(d.shared_from is not None and d.status == DeviceStatus.ACTIVE for d in devices)

    @staticmethod
    def _others_active(devices: list[Device], device_id: str, now: datetime) -> bool:
        return any(d.device_id != device_id and d.status_at(now) == DeviceStatus.ACTIVE for d in devices)

    def _make_active(self, device: Device, expected: tuple[DeviceStatus, ...], event: str,
                     completing: Completing | None = None) -> Device:
        user, devices = profile(self._users, device.username)
        temporary = active_temporary(devices)
        told = together(
            self._audit.recording(device.username, event, device_id=device.device_id, device_type=device.type.value,
                                  temporary_devices_revoked=len(temporary)),
            self._notifier.notice(user, f"your {device.label} is active again." if event == "device.reactivated"
                                  else f"your {device.label} is now active."))
        try:
            self._device_store.make_permanent_active(device, expected, temporary, together(completing, told))
        except StaleWrite:
            raise Conflict("device_changed", "The device changed meanwhile. Try again.") from None
        device.status = DeviceStatus.ACTIVE
        return device
