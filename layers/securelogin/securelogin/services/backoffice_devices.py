"""What Client Services does to a user's devices from the back office: issue a card,
mark a device lost, give a temporary code, and ship the DSC+ a user requested."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from securelogin.clock import Clock
from securelogin.domain.factors.code_card import CARD_ALPHABET, new_card
from securelogin.domain.factors.ocra_card import CARD_SUITE
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.factors.temporary_code import temporary_code_digest
from securelogin.domain.models import Device, DeviceStatus, DeviceType
from securelogin.errors import Conflict, InvalidInput, NotFound
from securelogin.policy import Policy
from securelogin.ports import DeviceRequestStore, DeviceStore, NoSuchUser, StaleWrite, UserStore, together
from securelogin.services.audit import AuditTrail
from securelogin.services.device_common import (
    CARD_ENTRIES,
    LABELS,
    OCRA_CARDS,
    active_temporary,
    card_pin_sha1_hex,
    own_device,
    profile,
    refuse_weak_card_pin,
)
from securelogin.services.device_secrets import DeviceSecrets
from securelogin.services.notify import Notifier
from securelogin.services.users import new_device_id

LEGACY = {DeviceType.DSC, DeviceType.GOLD, DeviceType.PLATINUM}


@dataclass(frozen=True)
class DeviceOrder:
    type: DeviceType
    serial: str | None = None
    seed_hex: str | None = None
    pin: str | None = None
    legacy_import: bool = False


@dataclass(frozen=True)
class IssuedDevice:
    device: Device
    generated_seed_hex: str | None = None  # shown once, when the server made the seed
    card: dict[str, str] | None = None  # shown once


@dataclass(frozen=True)
class TemporaryCode:
    device: Device
    code: str  # shown once to Client Services, who reads it to the user


class BackOfficeDevices:
    def __init__(self, users: UserStore, device_store: DeviceStore, requests: DeviceRequestStore,
                 device_secrets: DeviceSecrets, code_key: Callable[[], bytes], audit: AuditTrail,
                 notifier: Notifier, clock: Clock, policy: Policy) -> None:
        self._users = users
        self._device_store = device_store
        self._requests = requests
        self._secrets = device_secrets
        self._code_key = code_key
        self._audit = audit
        self._notifier = notifier
        self._clock = clock
        self._policy = policy

    def issue(self, username: str, order: DeviceOrder, actor: str) -> IssuedDevice:
        if order.type in LEGACY and not order.legacy_import:
            raise InvalidInput("legacy_import_required",
                               f"{order.type.value} devices are no longer issued; only legacy_import brings one in.")
        device_id = new_device_id()
        generated_seed = card = None
        if order.type in OCRA_CARDS:
            pin = order.pin or ""
            refuse_weak_card_pin(pin, "The card's PIN")
            seed_hex = order.seed_hex.lower() if order.seed_hex else None
            if seed_hex is None:
                seed_hex = generated_seed = secrets.token_hex(32)
            secret = DeviceSecret(seed_hex=seed_hex, pin_sha1_hex=card_pin_sha1_hex(pin))
        elif order.type == DeviceType.SCC:
            card = new_card(CARD_ENTRIES, CARD_ALPHABET)
            secret = DeviceSecret(card=card)
        else:
            raise InvalidInput("unsupported_device_type", f"{order.type.value} devices are not issued here.")

        now = self._clock.now()
        serial = order.serial or f"{order.type.value.upper().replace('_', '')}-{secrets.token_hex(4).upper()}"
        device = Device(
            device_id=device_id, username=username, type=order.type, label=f"{LABELS[order.type]} {serial}",
            status=DeviceStatus.ACTIVE, created_at=now, serial=serial,
            ocra_suite=CARD_SUITE if order.type in OCRA_CARDS else None,
            sealed_secret=self._secrets.seal(device_id, secret),
        )
        user, devices = profile(self._users, username)
        # A permanent device ends a temporary-code period, in the same write.
        temporary = active_temporary(devices)
        event = self._audit.recording(username, "device.added", device_id=device_id, device_type=order.type.value,
                                      by=actor, legacy_import=order.legacy_import)
        notice = self._notifier.notice(user, f"a {LABELS[order.type]} was added to your account. "
                                             "If this was not you, call Client Services.")
        try:
            self._device_store.add(device, temporary=temporary, also=together(event, notice))
        except NoSuchUser:
            raise NotFound("user_not_found", "No such user.") from None
        return IssuedDevice(device, generated_seed, card)

    def mark_lost(self, username: str, device_id: str, actor: str, reason: str) -> Device:
        device = own_device(self._device_store, username, device_id)
        told = together(
            self._audit.recording(username, "device.lost", device_id=device_id, device_type=device.type.value,
                                  by=actor, reason=reason),
            self._notifier.notice_to(username, "a security device of yours was reported lost. "
                                               "If this was not you, call Client Services."))
        try:
            self._device_store.set_status(device, DeviceStatus.LOST,
                                          (DeviceStatus.ACTIVE, DeviceStatus.PENDING, DeviceStatus.INACTIVE), told)
        except StaleWrite:
            raise Conflict("device_not_active", "Only an active, pending or inactive device can be lost.") from None
        device.status = DeviceStatus.LOST
        return device

    def issue_temporary_code(self, username: str, actor: str, reason: str) -> TemporaryCode:
        now = self._clock.now()
        code = "".join(secrets.choice(CARD_ALPHABET) for _ in range(self._policy.temporary_code_length))
        device_id = new_device_id()
        full_until = now + self._policy.temporary_full_access
        device = Device(device_id=device_id, username=username, type=DeviceType.TEMPORARY_CODE,
                        label="Temporary code", status=DeviceStatus.ACTIVE, created_at=now,
                        valid_until=full_until + self._policy.temporary_portal_access, full_access_until=full_until,
                        sealed_secret=self._secrets.seal(device_id, DeviceSecret(
                            code_digest=temporary_code_digest(self._code_key(), device_id, code))))
        user = self._users.get_user(username)
        if user is None:
            raise NotFound("user_not_found", "No such user.")
        told = together(
            self._audit.recording(username, "temporary_code.issued", device_id=device_id,
                                  device_type=DeviceType.TEMPORARY_CODE.value, by=actor, reason=reason),
            self._notifier.notice(user, "Client Services gave you a temporary code. "
                                        "If you did not ask for it, call us."))
        try:
            self._device_store.begin_temporary_access(device, told)
        except StaleWrite:
            raise Conflict("consecutive_temporary_code",
                           "A temporary code was already given: the user must first activate or reactivate a "
                           "permanent device.") from None
        return TemporaryCode(device, code)

    def fulfil(self, request_id: str, serial: str, seed_hex: str, actor: str) -> Device:
        """Ships the DSC+ of a user's request, with the PIN they chose; they activate it."""
        request = self._requests.get(request_id)
        if request is None:
            raise NotFound("request_not_found", "No such device request.")
        now = self._clock.now()
        device_id = new_device_id()
        pin_sha1_hex = self._secrets.open_request_pin(request_id, request.sealed_pin)
        device = Device(device_id=device_id, username=request.username, type=DeviceType.DSC_PLUS,
                        label=f"{LABELS[DeviceType.DSC_PLUS]} {serial}", status=DeviceStatus.PENDING,
                        created_at=now, serial=serial, ocra_suite=CARD_SUITE,
                        sealed_secret=self._secrets.seal(device_id, DeviceSecret(seed_hex=seed_hex.lower(),
                                                                                 pin_sha1_hex=pin_sha1_hex)))
        told = together(
            self._audit.recording(request.username, "device.shipped", device_id=device_id,
                                  device_type=DeviceType.DSC_PLUS.value, request_id=request_id, by=actor),
            self._notifier.notice_to(request.username, "your Digital Security Card+ is on its way. "
                                                       "Activate it when it arrives."))
        try:
            self._requests.fulfil(request, device, told)
        except StaleWrite:
            raise Conflict("request_fulfilled", "This request was already fulfilled.") from None
        return device
