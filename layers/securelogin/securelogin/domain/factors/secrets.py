"""A device's secret as the factors read it (its seed, card PIN verifier, card values or
temporary code digest), and the opener through which a factor gets it."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

from securelogin.domain.models import Device


@dataclass(frozen=True)
class DeviceSecret:
    """What a device keeps sealed; each type sets only its own fields: an OCRA card its
    ``seed_hex`` and ``pin_sha1_hex`` (the PIN as OCRA's PSHA1 input), an IB Key its
    ``seed_hex``, a code card its ``card`` (index → value), a temporary code its
    ``code_digest``. Stored as a JSON object of the fields that are set, in this order."""
    seed_hex: str | None = None
    pin_sha1_hex: str | None = None
    card: dict[str, str] | None = None
    code_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The stored JSON object: a field that is not set is absent, never null."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_json(cls, stored: dict[str, Any]) -> DeviceSecret:
        return cls(**{f.name: stored[f.name] for f in fields(cls) if f.name in stored})


class SecretOpener(Protocol):
    """Gives a factor the plaintext secret of a device."""

    def __call__(self, device: Device) -> DeviceSecret: ...
