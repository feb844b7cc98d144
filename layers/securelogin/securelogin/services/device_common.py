"""What the back office's and the user's device actions share, kept once: the cards the
back office issues and their names, a card PIN's rules, and reading a user, their devices
or one device of theirs (NotFound when there is none)."""
from __future__ import annotations

import hashlib

from securelogin.domain.models import Device, DeviceStatus, DeviceType, User
from securelogin.domain.pins import CARD_PIN, pin_problem
from securelogin.errors import InvalidInput, NotFound
from securelogin.ports import DeviceStore, UserStore

OCRA_CARDS = {DeviceType.DSC_PLUS, DeviceType.DSC, DeviceType.GOLD, DeviceType.PLATINUM}
CARD_ENTRIES = 60
LABELS = {DeviceType.DSC_PLUS: "Digital Security Card+", DeviceType.DSC: "Digital Security Card",
          DeviceType.GOLD: "Gold Security Device", DeviceType.PLATINUM: "Platinum Security Device",
          DeviceType.SCC: "Security Code Card"}


def refuse_weak_card_pin(pin: str, what: str = "The PIN") -> None:
    problem = pin_problem(pin, CARD_PIN, None)
    if problem:
        raise InvalidInput("weak_pin", f"{what} {problem}: choose 4 digits that are hard to guess.")


def card_pin_sha1_hex(pin: str) -> str:
    """A card's PIN as OCRA's PSHA1 input, the only form it is kept in."""
    return hashlib.sha1(pin.encode()).hexdigest()  # noqa: S324 - OCRA's PSHA1 input


def active_temporary(devices: list[Device]) -> list[Device]:
    """The temporary devices a new permanent one ends, in the same write."""
    return [d for d in devices if d.temporary and d.status == DeviceStatus.ACTIVE]


def profile(users: UserStore, username: str) -> tuple[User, list[Device]]:
    found = users.partition(username)
    if found.user is None:
        raise NotFound("user_not_found", "No such user.")
    return found.user, found.devices


def own_device(devices: DeviceStore, username: str, device_id: str) -> Device:
    device = devices.get(username, device_id)
    if device is None:
        raise NotFound("device_not_found", "No such device of yours.")
    return device


def one_of(devices: list[Device], device_id: str) -> Device:
    """``device_id`` among a user's ``devices`` (of ``profile``)."""
    device = next((d for d in devices if d.device_id == device_id), None)
    if device is None:
        raise NotFound("device_not_found", "No such device of yours.")
    return device
