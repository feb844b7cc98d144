"""OCRA challenge/response devices: the Digital Security Card+ and the legacy DSC, Gold
and Platinum cards. The card shows an 8-digit response to a 6-digit challenge, computed
from its seed and (for ``...-PSHA1`` suites) the card's PIN."""
from __future__ import annotations

from securelogin.crypto.codes import numeric_code
from securelogin.crypto.ocra import OcraError, OcraSuite, ocra, responses_match
from securelogin.domain.factors.base import Answer, ChallengeContext, IssuedChallenge, UnsupportedMethod, Verdict
from securelogin.domain.factors.secrets import SecretOpener
from securelogin.domain.models import Challenge, Device, DeviceType, Method
from securelogin.policy import Policy

CARD_SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"


class OcraFactor:
    methods = (Method.CHALLENGE_RESPONSE,)

    def __init__(self, device_type: DeviceType, policy: Policy, secrets: SecretOpener) -> None:
        self.device_type = device_type
        self._policy = policy
        self._secrets = secrets

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge:
        if method not in self.methods:
            raise UnsupportedMethod(method)
        suite = OcraSuite.parse(device.ocra_suite or CARD_SUITE)
        question = numeric_code(suite.question_length)
        expires_at = context.now + self._policy.challenge_ttl
        return IssuedChallenge(public={"challenge_code": question, "expires_at": expires_at},
                               check_data={"question": question}, expires_at=expires_at)

    def check(self, device: Device, challenge: Challenge, answer: Answer, context: ChallengeContext) -> Verdict:
        secret = self._secrets(device)
        candidate = "".join(answer.text.split())
        try:
            expected = ocra(device.ocra_suite or CARD_SUITE, bytes.fromhex(secret.seed_hex),
                            challenge.check_data["question"],
                            pin_hash=bytes.fromhex(secret.pin_sha1_hex) if secret.pin_sha1_hex is not None else None)
        except OcraError:
            return Verdict.of(False)
        return Verdict.of(responses_match(expected, candidate))
