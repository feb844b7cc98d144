"""What every factor is: the Factor Protocol, the context a challenge belongs to, and
the challenge a factor issues."""
from __future__ import annotations

import json
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


@dataclass(frozen=True)
class Answer:
    """What a person sends back to a challenge: a typed ``text`` (a code, a response, card
    values), or a WebAuthn ``assertion`` (the browser's AuthenticationResponseJSON)."""
    text: str = ""
    assertion: dict[str, Any] | None = None

    @classmethod
    def of(cls, response: str | Answer) -> Answer:
        return response if isinstance(response, Answer) else cls(text=response)

    def key(self) -> str:
        """The answer as one string, to tell the same answer sent again from another."""
        if self.assertion is None:
            return "".join(self.text.split()).upper()
        return "assertion:" + json.dumps(self.assertion, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Alarm:
    """A wrong answer that says the device itself is not to be trusted (a passkey whose
    counter went backwards): the device is locked, ``event`` audited and the user told
    ``notice``, in one transaction."""
    event: str
    notice: str


@dataclass(frozen=True)
class Verdict:
    """A factor's judgement of an answer: right or wrong, and what to write with it. A
    right answer's ``sign_count`` is written with the transaction that completes its flow;
    a wrong answer's ``alarm`` locks the device."""
    right: bool
    sign_count: int | None = None
    alarm: Alarm | None = None

    @classmethod
    def of(cls, right: bool) -> Verdict:
        return cls(right=right)


class Factor(Protocol):
    device_type: DeviceType
    # The ways this factor can be challenged; the first is the default.
    methods: tuple[Method, ...]

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge: ...

    def check(self, device: Device, challenge: Challenge, answer: Answer, context: ChallengeContext) -> Verdict: ...
