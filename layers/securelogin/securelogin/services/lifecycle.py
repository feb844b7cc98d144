"""A device's life after issue: lost and found, temporary codes and the Online Security
Code Card, and the DSC+ from request to return."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from securelogin.clock import Clock
from securelogin.domain.factors.code_card import CARD_ALPHABET, new_card
from securelogin.domain.factors.ocra_card import CARD_SUITE
from securelogin.domain.factors.temporary_code import temporary_code_digest
from securelogin.domain.models import (
    Device,
    DeviceRequest,
    DeviceRequestStatus,
    DeviceStatus,
    DeviceType,
    Method,
    Purpose,
    User,
)
from securelogin.domain.pins import CARD_PIN, pin_problem
from securelogin.errors import Conflict, Forbidden, InvalidInput, NotFound
from securelogin.policy import Policy
from securelogin.ports import Completing, DeviceRequestStore, DeviceStore, SecretBox, StaleWrite, UserStore
from securelogin.services.audit import AuditTrail
from securelogin.services.devices import CARD_ENTRIES, DeviceService
from securelogin.services.flows import FlowEngine
from securelogin.services.notify import Notifier
from securelogin.services.users import new_device_id

REPLACEMENT_REASONS = ("lost", "broken", "battery")


def _device_flow_id(username: str, device_id: str) -> str:
    """A device's activation or PIN change is named by the device, not by a random id:
    one open at a time per device and user, a new challenge replacing the last."""
    return f"{username}|{device_id}"

FOUND_STATUSES = (DeviceStatus.LOST, DeviceStatus.INACTIVE)


@dataclass(frozen=True)
class TemporaryCode:
    device: Device
    code: str  # shown once to Client Services, who reads it to the user


@dataclass(frozen=True)
class OnlineCard:
    device: Device
    card: dict[str, str]  # shown once


@dataclass(frozen=True)
class DscPlusRequested:
    request_id: str
    fee_usd: float
    reserve_usd: float


class DeviceLifecycle:
    def __init__(self, users: UserStore, device_store: DeviceStore, requests: DeviceRequestStore,
                 devices: DeviceService, box: SecretBox, flows: FlowEngine, code_key, audit: AuditTrail,
                 notifier: Notifier, clock: Clock, policy: Policy) -> None:
        self._users = users
        self._device_store = device_store
        self._requests = requests
        self._devices = devices
        self._box = box
        self._flows = flows
        self._code_key = code_key
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._policy = policy

    # ------------------------------------------------------------------ back office

    def mark_lost(self, username: str, device_id: str, actor: str) -> Device:
        device = self._own_device(username, device_id)
        try:
            self._device_store.set_status(device, DeviceStatus.LOST,
                                          (DeviceStatus.ACTIVE, DeviceStatus.PENDING, DeviceStatus.INACTIVE))
        except StaleWrite:
            raise Conflict("device_not_active", "Only an active, pending or inactive device can be lost.") from None
        self._audit.record(username, "device.lost", device_id=device_id, device_type=device.type.value, by=actor)
        self._notifier.tell_username(username, "a security device of yours was reported lost. "
                                               "If this was not you, call Client Services.")
        device.status = DeviceStatus.LOST
        return device

    def issue_temporary_code(self, username: str, actor: str) -> TemporaryCode:
        now = self._clock.now()
        code = "".join(secrets.choice(CARD_ALPHABET) for _ in range(self._policy.temporary_code_length))
        device_id = new_device_id()
        full_until = now + self._policy.temporary_full_access
        device = Device(device_id=device_id, username=username, type=DeviceType.TEMPORARY_CODE,
                        label="Temporary code", status=DeviceStatus.ACTIVE, created_at=now,
                        valid_until=full_until + self._policy.temporary_portal_access, full_access_until=full_until,
                        sealed_secret=self._devices.seal_secret(device_id, {
                            "code_digest": temporary_code_digest(self._code_key(), device_id, code)}))
        if self._users.get_user(username) is None:
            raise NotFound("user_not_found", "No such user.")
        try:
            self._device_store.begin_temporary_access(device)
        except StaleWrite:
            raise Conflict("consecutive_temporary_code",
                           "A temporary code was already given: the user must first activate or reactivate a "
                           "permanent device.") from None
        self._audit.record(username, "temporary_code.issued", device_id=device_id, by=actor)
        self._notifier.tell_username(username, "Client Services gave you a temporary code. "
                                               "If you did not ask for it, call us.")
        return TemporaryCode(device, code)

    def fulfil(self, request_id: str, serial: str, seed_hex: str, actor: str) -> Device:
        request = self._requests.get(request_id)
        if request is None:
            raise NotFound("request_not_found", "No such device request.")
        now = self._clock.now()
        device_id = new_device_id()
        pin_sha1_hex = self._box.open(request.sealed_pin, f"request-pin|{request_id}").decode()
        device = Device(device_id=device_id, username=request.username, type=DeviceType.DSC_PLUS,
                        label=f"Digital Security Card+ {serial}", status=DeviceStatus.PENDING, created_at=now,
                        serial=serial, ocra_suite=CARD_SUITE,
                        sealed_secret=self._devices.seal_secret(device_id, {"seed_hex": seed_hex.lower(),
                                                                            "pin_sha1_hex": pin_sha1_hex}))
        try:
            self._requests.fulfil(request, device)
        except StaleWrite:
            raise Conflict("request_fulfilled", "This request was already fulfilled.") from None
        self._audit.record(request.username, "device.shipped", device_id=device_id, request_id=request_id, by=actor)
        self._notifier.tell_username(request.username, "your Digital Security Card+ is on its way. "
                                                       "Activate it when it arrives.")
        return device

    # ------------------------------------------------------------------ the user, with a session

    def online_card(self, username: str, session_device_id: str | None) -> OnlineCard:
        now = self._clock.now()
        user, devices = self._profile(username)
        source = next((d for d in devices if d.device_id == session_device_id), None)
        if source is None or source.type != DeviceType.TEMPORARY_CODE or source.status_at(now) != DeviceStatus.ACTIVE:
            raise Forbidden("temporary_code_session_required",
                            "An Online Security Code Card needs a session opened with a temporary code.")
        card = new_card(CARD_ENTRIES, "0123456789")
        device_id = new_device_id()
        device = Device(device_id=device_id, username=username, type=DeviceType.ONLINE_SCC,
                        label="Online Security Code Card", status=DeviceStatus.ACTIVE, created_at=now,
                        valid_until=now + self._policy.online_card_validity,
                        sealed_secret=self._devices.seal_secret(device_id, {"card": card}))
        previous = tuple(d for d in devices if d.type == DeviceType.ONLINE_SCC and d.status == DeviceStatus.ACTIVE)
        event = self._audit.recording(username, "device.added", device_id=device_id, device_type="online_scc")
        try:
            self._device_store.add(device, revoke=previous, devices_version=user.devices_version, also=event)
        except StaleWrite:
            raise Conflict("devices_changed", "Your devices changed meanwhile. Try again.") from None
        self._notifier.tell(user, "an Online Security Code Card was created for your account.")
        return OnlineCard(device, card)

    def reactivate(self, username: str, device_id: str, session_device_id: str | None) -> Device:
        """A found device comes back, by a session that another device opened."""
        if session_device_id == device_id:
            raise Forbidden("another_device_required", "Log in with another device to reactivate this one.")
        _, devices = self._profile(username)
        device = next((d for d in devices if d.device_id == device_id), None)
        if device is None:
            raise NotFound("device_not_found", "No such device of yours.")
        if device.temporary or device.status not in FOUND_STATUSES:
            raise Conflict("not_reactivatable", "Only a lost or inactive permanent device can be reactivated.")
        self._refuse_link(device)
        if device.shared_from is None and device.physical and self._sharing_in_force(devices):
            raise Conflict("shared_device_in_use", "Your own cards stay inactive while you use a shared one: "
                                                   "cancel the share first.")
        return self._make_active(device, FOUND_STATUSES, "device.reactivated")

    def request_dsc_plus(self, username: str, pin: str, reason: str) -> DscPlusRequested:
        now = self._clock.now()
        user, devices = self._profile(username)
        current = [d for d in devices if d.type == DeviceType.DSC_PLUS
                   and d.status in (DeviceStatus.ACTIVE, DeviceStatus.LOST, DeviceStatus.INACTIVE)]
        has_ib_key = any(d.type == DeviceType.IB_KEY and d.status == DeviceStatus.ACTIVE for d in devices)
        replacement = reason in REPLACEMENT_REASONS and bool(current)
        if not replacement and not (has_ib_key and user.balance_usd >= self._policy.dsc_plus_min_balance_usd):
            raise Forbidden("not_eligible", "A Digital Security Card+ is for IB Key users with at least USD "
                            f"{self._policy.dsc_plus_min_balance_usd:,.0f}, or to replace one.")
        problem = pin_problem(pin, CARD_PIN, None)
        if problem:
            raise InvalidInput("weak_pin", f"The PIN {problem}: choose 4 digits that are hard to guess.")
        fee = self._policy.dsc_plus_replacement_fee_usd if replacement and reason != "battery" else 0.0
        request_id = "req_" + secrets.token_hex(10)
        pin_sha1 = hashlib.sha1(pin.encode()).hexdigest()  # noqa: S324 - OCRA's PSHA1 input
        if user.open_request_id:
            raise Conflict("request_pending", "A Digital Security Card+ request of yours is already open.")
        try:
            self._requests.create(DeviceRequest(
                request_id=request_id, username=username, reason=reason, fee_usd=fee,
                status=DeviceRequestStatus.REQUESTED,
                sealed_pin=self._box.seal(pin_sha1.encode(), f"request-pin|{request_id}"), created_at=now,
                replaces_device_id=current[0].device_id if replacement else None))
        except StaleWrite:
            raise Conflict("request_pending", "A Digital Security Card+ request of yours is already open.") from None
        self._audit.record(username, "device.requested", request_id=request_id, reason=reason, fee_usd=fee)
        return DscPlusRequested(request_id, fee, fee)

    def activation_challenge(self, username: str, device_id: str) -> tuple[str, datetime]:
        """A challenge for a shipped card, answered once to activate it (5 answers per challenge)."""
        device = self._own_device(username, device_id)
        if device.status != DeviceStatus.PENDING:
            raise Conflict("not_pending", "Only a device waiting for activation can be activated.")
        return self._device_challenge(Purpose.DEVICE_ACTIVATION, device)

    def activate(self, username: str, device_id: str, response: str) -> Device:
        flow = self._flows.open(Purpose.DEVICE_ACTIVATION, _device_flow_id(username, device_id), owner=username)
        right = self._flows.answer(flow, response)
        assert right.device is not None
        return self._make_active(right.device, (DeviceStatus.PENDING,), "device.activated",
                                 self._flows.completing(right, with_device=False))

    def pin_challenge(self, username: str, device_id: str) -> tuple[str, datetime]:
        """A challenge for changing a DSC+ PIN (KB1018), answered with the current PIN."""
        device = self._own_device(username, device_id)
        if device.type != DeviceType.DSC_PLUS or device.status != DeviceStatus.ACTIVE:
            raise Conflict("not_a_dsc_plus", "Only an active Digital Security Card+ has a PIN to change here.")
        return self._device_challenge(Purpose.PIN_CHANGE, device)

    def change_pin(self, username: str, device_id: str, response: str, new_pin: str) -> Device:
        problem = pin_problem(new_pin, CARD_PIN, None)
        if problem:  # checked first: a refused PIN spends no answer
            raise InvalidInput("weak_pin", f"The PIN {problem}: choose 4 digits that are hard to guess.")
        flow = self._flows.open(Purpose.PIN_CHANGE, _device_flow_id(username, device_id), owner=username)
        right = self._flows.answer(flow, response)
        device = right.device
        assert device is not None
        secret = {**self._devices.open_secret(device),
                  "pin_sha1_hex": hashlib.sha1(new_pin.encode()).hexdigest()}  # noqa: S324 - OCRA's PSHA1 input
        try:
            self._device_store.replace_secret(device, self._devices.seal_secret(device.device_id, secret), right.now,
                                       self._flows.completing(right, with_device=False))
        except StaleWrite:
            raise self._flows.gone(Purpose.PIN_CHANGE) from None
        self._audit.record(device.holder, "device.pin_changed", device_id=device_id, by=username)
        self._notifier.tell_username(username, "the PIN of your Digital Security Card+ was changed. "
                                               "If this was not you, call Client Services.")
        return device

    def _device_challenge(self, purpose: Purpose, device: Device) -> tuple[str, datetime]:
        _, _, issued = self._flows.start_challenged(purpose, device.username, self._policy.challenge_ttl, device,
                                                    Method.CHALLENGE_RESPONSE,
                                                    flow_id=_device_flow_id(device.username, device.device_id))
        return issued.public["challenge_code"], issued.public["expires_at"]

    def return_device(self, username: str, device_id: str) -> Device:
        now = self._clock.now()
        user, devices = self._profile(username)
        device = next((d for d in devices if d.device_id == device_id), None)
        if device is None:
            raise NotFound("device_not_found", "No such device of yours.")
        if device.temporary or device.type == DeviceType.SMS \
                or device.status in (DeviceStatus.RETURNED, DeviceStatus.REVOKED):
            raise Conflict("not_returnable", "This device cannot be returned.")
        self._refuse_link(device)
        if device.status_at(now) == DeviceStatus.ACTIVE and not self._others_active(devices, device_id, now):
            raise Conflict("last_device", "Keep at least one other active device before returning this one.")
        try:
            self._device_store.remove(device, DeviceStatus.RETURNED, user.devices_version)
        except StaleWrite:
            raise Conflict("device_changed", "The device changed meanwhile. Try again.") from None
        user = self._users.get_user(username)
        if user and device_id in user.reserves:
            self._users.release_reserve(username, device_id)
        self._audit.record(username, "device.returned", device_id=device_id)
        device.status = DeviceStatus.RETURNED
        return device

    def deactivate(self, username: str, device_id: str) -> None:
        now = self._clock.now()
        user, devices = self._profile(username)
        device = next((d for d in devices if d.device_id == device_id), None)
        if device is None:
            raise NotFound("device_not_found", "No such device of yours.")
        self._refuse_link(device)
        if device.status_at(now) != DeviceStatus.ACTIVE or not self._others_active(devices, device_id, now):
            raise Conflict("last_device", "Keep at least one other active device before removing this one.")
        try:
            self._device_store.remove(device, DeviceStatus.INACTIVE, user.devices_version)
        except StaleWrite:
            raise Conflict("device_changed", "The device changed meanwhile. Try again.") from None
        self._audit.record(username, "device.removed", device_id=device_id, device_type=device.type.value)
        self._notifier.tell(user, "a security device was removed from your account. If this was not you, call us.")

    # ------------------------------------------------------------------ helpers

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
        user, devices = self._profile(device.username)
        temporary = [d for d in devices if d.temporary and d.status == DeviceStatus.ACTIVE]
        try:
            self._device_store.make_permanent_active(device, expected, temporary, completing)
        except StaleWrite:
            raise Conflict("device_changed", "The device changed meanwhile. Try again.") from None
        self._audit.record(device.username, event, device_id=device.device_id, device_type=device.type.value,
                           temporary_devices_revoked=len(temporary))
        self._notifier.tell(user, f"your {device.label} is active again." if event == "device.reactivated"
                            else f"your {device.label} is now active.")
        device.status = DeviceStatus.ACTIVE
        return device

    def _own_device(self, username: str, device_id: str) -> Device:
        device = self._device_store.get(username, device_id)
        if device is None:
            raise NotFound("device_not_found", "No such device of yours.")
        return device

    def _profile(self, username: str) -> tuple[User, list[Device]]:
        found = self._users.partition(username)
        if found.user is None:
            raise NotFound("user_not_found", "No such user.")
        return found.user, found.devices
