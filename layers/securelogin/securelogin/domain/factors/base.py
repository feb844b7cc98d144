"""What every factor is: the Factor Protocol, the context a challenge belongs to, and
the challenge a factor issues."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from securelogin.domain.models import Challenge, Device, DeviceType, Method, OutgoingMessage, Purpose


@dataclass(frozen=True)
class ChallengeContext:
    """Where a challenge belongs: the flow (``purpose`` and its transaction's lookup key),
    what the person confirms in it (``statement``) and the time. Digests are bound to the
    flow, so a code from one flow fails in another."""
    purpose: Purpose
    transaction_key: str
    now: datetime
    statement: str = ""

    @property
    def binding(self) -> str:
        return f"{self.purpose.value}:{self.transaction_key}"


@dataclass(frozen=True)
class PushSent:
    """A push a challenge sends to the IB Key app, as the service keeps it to check the
    answer: found by ``push_key`` (the lookup key of the ``push_id`` the app holds, never
    the flow's id), with the nonce, the statement the app must sign over, and the digest of
    the number to match (None for a push that has none)."""
    push_key: str
    device_id: str
    nonce: str
    statement: str
    number_digest: str | None
    expires_at: datetime


@dataclass(frozen=True)
class IssuedChallenge:
    public: dict[str, Any]
    check_data: dict[str, str]
    expires_at: datetime
    message: OutgoingMessage | None = None
    # A code card's new open pair, written with the challenge (only if the device still has
    # the pair it was read with: of racing challenges one draws, the others ask its pair).
    open_pair: str | None = None
    push: PushSent | None = None


class UnsupportedMethod(ValueError):
    pass


class Factor(Protocol):
    device_type: DeviceType
    # The ways this factor can be challenged; the first is the default.
    methods: tuple[Method, ...]

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge: ...

    def check(self, device: Device, challenge: Challenge, response: str, context: ChallengeContext) -> bool: ...
