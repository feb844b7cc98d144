"""What every factor is: the Factor Protocol, the context a challenge belongs to, and
the challenge a factor issues."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from securelogin.domain.models import Challenge, Device, DeviceType, Method, OutgoingMessage


@dataclass(frozen=True)
class ChallengeContext:
    """Where a challenge belongs: the flow (``purpose`` and its transaction's lookup key)
    and the time. Digests are bound to it, so a code from one flow fails in another."""
    purpose: str
    transaction_key: str
    now: datetime
    # The flow's own id, which a push carries so the app can answer it.
    transaction_id: str = ""

    @property
    def binding(self) -> str:
        return f"{self.purpose}:{self.transaction_key}"


@dataclass(frozen=True)
class IssuedChallenge:
    public: dict[str, Any]
    check_data: dict[str, str]
    expires_at: datetime
    message: OutgoingMessage | None = None
    # Kept on the device for the next challenge (e.g. the index pair last asked).
    remember: str | None = None


class UnsupportedMethod(ValueError):
    pass


class Factor(Protocol):
    device_type: DeviceType
    # The ways this factor can be challenged; the first is the default.
    methods: tuple[Method, ...]

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge: ...

    def check(self, device: Device, challenge: Challenge, response: str, context: ChallengeContext) -> bool: ...
