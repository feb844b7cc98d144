from __future__ import annotations

from typing import Any, Protocol

from securelogin.domain.models import Device


class SecretOpener(Protocol):
    """Gives a factor the plaintext secrets of a device (its seed, PIN verifier, card)."""

    def __call__(self, device: Device) -> dict[str, Any]: ...
