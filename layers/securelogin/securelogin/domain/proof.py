"""What a session proved, and what a change to the account's protection asks of it
(rules.md, "Step-up"): possession shown lately with a device as strong as the user's
strongest. Pure: services/step_up.py reads the devices and applies it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from securelogin.domain.models import Device, DeviceType


@dataclass(frozen=True)
class Proof:
    """What the caller's session proved, as the authorizer read it."""
    session_key: str
    username: str
    platform: str
    proved_at: datetime | None
    proved_with: DeviceType | None
    proved_by: str | None = None  # the id of the device that gave it


@dataclass(frozen=True)
class Origin:
    """Where a request came from, as the gateway saw it: the words of a statement."""
    ip: str
    browser: str


def strong_devices(devices: list[Device], now: datetime) -> list[Device]:
    """The devices whose answer makes a session strong: those of the highest security level
    among the user's usable permanent devices (the temporary ones only when there is no
    permanent one), an SMS device only when every one of them is an SMS device."""
    usable = [d for d in devices if d.usable_at(now)]
    pool = [d for d in usable if not d.temporary] or usable
    if not pool:
        return []
    need = max(d.security_level for d in pool)
    only_sms = all(d.type == DeviceType.SMS for d in pool)
    return [d for d in pool if d.security_level >= need and (only_sms or d.type != DeviceType.SMS)]


def is_strong(proved_with: DeviceType | None, devices: list[Device], now: datetime,
              proved_by: str | None = None) -> bool:
    """Whether a proof by a device of type ``proved_with`` is strong enough for this user;
    with ``proved_by``, only while that very device is still one of the strong ones."""
    strong = strong_devices(devices, now)
    if proved_by is not None:
        return any(d.device_id == proved_by for d in strong)
    return proved_with is not None and proved_with in {d.type for d in strong}
