"""The IB Key: the IBKR Mobile app on a phone. It answers a push by signing what it showed
(the statement, and the number the person typed) with its P-256 key, or, without
notifications, shows an 8-digit OCRA response to a 6-digit challenge (suite
``OCRA-1:HOTP-SHA256-8:QN06``, secret made at activation)."""
from __future__ import annotations

import secrets
from collections.abc import Callable

from securelogin.clock import iso
from securelogin.crypto.codes import code_digest, lookup_key, numeric_code, random_token
from securelogin.domain import statements
from securelogin.domain.factors.base import (
    Answer,
    ChallengeContext,
    IssuedChallenge,
    PushSent,
    UnsupportedMethod,
    Verdict,
)
from securelogin.domain.factors.ocra_card import OcraFactor
from securelogin.domain.factors.secrets import SecretOpener
from securelogin.domain.models import PUSH_KEY, Challenge, Channel, Device, DeviceType, Method, OutgoingMessage, Purpose
from securelogin.policy import Policy

IB_KEY_SUITE = "OCRA-1:HOTP-SHA256-8:QN06"
# The flows whose push the person approves by typing the number the asking client shows.
NUMBER_MATCHED = frozenset({Purpose.LOGIN, Purpose.STEP_UP, Purpose.WITHDRAWAL})


def match_number_digest(key: bytes, push_key: str, number: str) -> str:
    """What the service keeps of a push's match number, bound to that push."""
    return code_digest(key, f"push:{push_key}", number)


class IbKeyFactor:
    device_type = DeviceType.IB_KEY
    methods = (Method.PUSH, Method.CHALLENGE_RESPONSE)

    def __init__(self, policy: Policy, secrets_of: SecretOpener, code_key: Callable[[], bytes]) -> None:
        self._policy = policy
        self._code_key = code_key
        self._offline = OcraFactor(DeviceType.IB_KEY, policy, secrets_of)

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge:
        if method == Method.CHALLENGE_RESPONSE:
            return self._offline.issue(device, method, context)
        if method != Method.PUSH or not device.push_endpoint:
            raise UnsupportedMethod(method)
        push_id, nonce = random_token(16), secrets.token_urlsafe(16)
        push_key = lookup_key(push_id)
        expires_at = context.now + self._policy.challenge_ttl
        number = numeric_code(self._policy.match_number_digits) if context.purpose in NUMBER_MATCHED else None
        public: dict[str, object] = {"push_sent": True, "expires_at": expires_at}
        if number is not None:
            public["match_number"] = number
        data: dict[str, str | bool] = {
            "push_id": push_id, "nonce": nonce, "username": device.username, "device_id": device.device_id,
            "purpose": context.purpose.value, "statement": context.statement, "has_number": number is not None,
            "expires_at": iso(expires_at), "message": statements.push_message(context.purpose, context.statement)}
        return IssuedChallenge(
            public=public, check_data={PUSH_KEY: push_key}, expires_at=expires_at,
            message=OutgoingMessage(channel=Channel.PUSH, to=device.push_endpoint, body=str(data["message"]),
                                    data=data),
            push=PushSent(push_key=push_key, device_id=device.device_id, nonce=nonce, statement=context.statement,
                          number_digest=match_number_digest(self._code_key(), push_key, number) if number else None,
                          expires_at=expires_at),
        )

    def check(self, device: Device, challenge: Challenge, answer: Answer, context: ChallengeContext) -> Verdict:
        if challenge.method == Method.CHALLENGE_RESPONSE:
            return self._offline.check(device, challenge, answer, context)
        return Verdict.of(False)  # a push is answered on the phone, with a signature, never by typing
