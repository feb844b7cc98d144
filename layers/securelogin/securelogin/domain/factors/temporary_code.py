"""The temporary code Client Services gives a user who lost their device: the code itself
is the answer. It opens full sessions for two days, portal-only ones for ten more."""
from __future__ import annotations

from collections.abc import Callable

from securelogin.crypto.codes import code_digest, digests_match
from securelogin.domain.factors.base import Answer, ChallengeContext, IssuedChallenge, UnsupportedMethod, Verdict
from securelogin.domain.factors.secrets import SecretOpener
from securelogin.domain.models import Challenge, Device, DeviceType, Method
from securelogin.policy import Policy


def normalise_code(text: str) -> str:
    return "".join(ch for ch in text.upper() if ch.isalnum())


def temporary_code_digest(key: bytes, device_id: str, code: str) -> str:
    return code_digest(key, f"temporary:{device_id}", normalise_code(code))


class TemporaryCodeFactor:
    device_type = DeviceType.TEMPORARY_CODE
    methods = (Method.CODE,)

    def __init__(self, policy: Policy, code_key: Callable[[], bytes], secrets_of: SecretOpener) -> None:
        self._policy = policy
        self._code_key = code_key
        self._secrets = secrets_of

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge:
        if method not in self.methods:
            raise UnsupportedMethod(method)
        return IssuedChallenge(public={}, check_data={}, expires_at=context.now + self._policy.challenge_ttl)

    def check(self, device: Device, challenge: Challenge, answer: Answer, context: ChallengeContext) -> Verdict:
        expected = self._secrets(device).code_digest
        given = temporary_code_digest(self._code_key(), device.device_id, answer.text)
        return Verdict.of(digests_match(expected, given))
