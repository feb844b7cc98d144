"""The ``sms`` factor: a one-time code sent to a verified phone by SMS or voice call, in words
that say what it confirms (domain/statements.py)."""
from __future__ import annotations

from collections.abc import Callable

from securelogin.crypto.codes import code_digest, digests_match, numeric_code
from securelogin.domain import statements
from securelogin.domain.factors.base import Answer, ChallengeContext, IssuedChallenge, UnsupportedMethod, Verdict
from securelogin.domain.models import Challenge, Channel, Device, DeviceType, Method, OutgoingMessage
from securelogin.domain.phones import mask
from securelogin.policy import Policy


class MessageCodeFactor:
    device_type = DeviceType.SMS

    def __init__(self, policy: Policy, code_key: Callable[[], bytes], voice: bool = True) -> None:
        self._policy = policy
        self._code_key = code_key
        # A deployment with no number to call from offers no voice call (400 unsupported_method),
        # rather than failing each one as a 503 that anyone could repeat to page the operators.
        self.methods: tuple[Method, ...] = (Method.SMS, Method.VOICE) if voice else (Method.SMS,)

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge:
        if method not in self.methods:
            raise UnsupportedMethod(method)
        if not device.phone:
            raise ValueError("an sms device without a phone")
        code = numeric_code(self._policy.message_code_digits)
        expires_at = context.now + self._policy.message_code_ttl
        minutes = int(self._policy.message_code_ttl.total_seconds() // 60)
        text = statements.sms_text if method == Method.SMS else statements.voice_text
        body = text(context.purpose, context.statement, code, minutes)
        return IssuedChallenge(
            public={
                "sent_to": mask(device.phone),
                "expires_at": expires_at,
                "resend_after_seconds": int(self._policy.resend_interval.total_seconds()),
            },
            check_data={"digest": code_digest(self._code_key(), context.binding, code)},
            expires_at=expires_at,
            message=OutgoingMessage(channel=Channel(method), to=device.phone, body=body),
        )

    def check(self, device: Device, challenge: Challenge, answer: Answer, context: ChallengeContext) -> Verdict:
        candidate = "".join(answer.text.split())
        if not candidate.isdigit() or len(candidate) != self._policy.message_code_digits:
            return Verdict.of(False)
        return Verdict.of(digests_match(challenge.check_data["digest"],
                                        code_digest(self._code_key(), context.binding, candidate)))
