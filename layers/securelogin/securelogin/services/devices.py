"""Second-factor devices: issuing them from the back office."""
from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass
from typing import Any

from securelogin.clock import Clock
from securelogin.domain.factors.code_card import CARD_ALPHABET, new_card
from securelogin.domain.factors.ocra_card import CARD_SUITE
from securelogin.domain.models import Device, DeviceStatus, DeviceType
from securelogin.domain.pins import CARD_PIN, pin_problem
from securelogin.errors import InvalidInput, NotFound
from securelogin.ports import DeviceStore, NoSuchUser, SecretBox, UserStore
from securelogin.services.audit import AuditTrail
from securelogin.services.notify import Notifier
from securelogin.services.users import new_device_id

OCRA_CARDS = {DeviceType.DSC_PLUS, DeviceType.DSC, DeviceType.GOLD, DeviceType.PLATINUM}
LEGACY = {DeviceType.DSC, DeviceType.GOLD, DeviceType.PLATINUM}
CARD_ENTRIES = 60
LABELS = {DeviceType.DSC_PLUS: "Digital Security Card+", DeviceType.DSC: "Digital Security Card",
          DeviceType.GOLD: "Gold Security Device", DeviceType.PLATINUM: "Platinum Security Device",
          DeviceType.SCC: "Security Code Card"}


def device_secret_context(device_id: str) -> str:
    return f"device-secret|{device_id}"


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


class DeviceService:
    def __init__(self, users: UserStore, devices: DeviceStore, box: SecretBox, audit: AuditTrail, notifier: Notifier,
                 clock: Clock) -> None:
        self._users = users
        self._devices = devices
        self._box = box
        self._audit = audit
        self._notifier = notifier
        self._clock = clock

    def seal_secret(self, device_id: str, secret: dict[str, Any]) -> str:
        return self._box.seal(json.dumps(secret).encode(), device_secret_context(device_id))

    def open_secret(self, device: Device) -> dict[str, Any]:
        if not device.sealed_secret:
            raise ValueError(f"device {device.device_id} has no secret")
        return json.loads(self._box.open(device.sealed_secret, device_secret_context(device.device_id)))

    def issue(self, username: str, order: DeviceOrder, actor: str) -> IssuedDevice:
        if order.type in LEGACY and not order.legacy_import:
            raise InvalidInput("legacy_import_required",
                               f"{order.type.value} devices are no longer issued; only legacy_import brings one in.")
        device_id = new_device_id()
        secret: dict[str, Any]
        generated_seed = card = None
        if order.type in OCRA_CARDS:
            problem = pin_problem(order.pin or "", CARD_PIN, None)
            if problem:
                raise InvalidInput("weak_pin", f"The card's PIN {problem}: choose 4 digits that are hard to guess.")
            seed_hex = order.seed_hex.lower() if order.seed_hex else None
            if seed_hex is None:
                seed_hex = generated_seed = secrets.token_hex(32)
            pin_sha1 = hashlib.sha1(order.pin.encode()).hexdigest()  # noqa: S324 - OCRA's PSHA1 input
            secret = {"seed_hex": seed_hex, "pin_sha1_hex": pin_sha1}
        elif order.type == DeviceType.SCC:
            card = new_card(CARD_ENTRIES, CARD_ALPHABET)
            secret = {"card": card}
        else:
            raise InvalidInput("unsupported_device_type", f"{order.type.value} devices are not issued here.")

        now = self._clock.now()
        serial = order.serial or f"{order.type.value.upper().replace('_', '')}-{secrets.token_hex(4).upper()}"
        device = Device(
            device_id=device_id, username=username, type=order.type, label=f"{LABELS[order.type]} {serial}",
            status=DeviceStatus.ACTIVE, created_at=now, serial=serial,
            ocra_suite=CARD_SUITE if order.type in OCRA_CARDS else None,
            sealed_secret=self.seal_secret(device_id, secret),
        )
        found = self._users.partition(username)
        if found.user is None:
            raise NotFound("user_not_found", "No such user.")
        # A permanent device ends a temporary-code period, in the same write.
        temporary = [d for d in found.devices if d.temporary and d.status == DeviceStatus.ACTIVE]
        event = self._audit.recording(username, "device.added", device_id=device_id, device_type=order.type.value,
                                      by=actor, legacy_import=order.legacy_import)
        try:
            self._devices.add(device, temporary=temporary, also=event)
        except NoSuchUser:
            raise NotFound("user_not_found", "No such user.") from None
        self._notifier.tell(found.user, f"a {LABELS[order.type]} was added to your account. "
                                               "If this was not you, call Client Services.")
        return IssuedDevice(device, generated_seed, card)
