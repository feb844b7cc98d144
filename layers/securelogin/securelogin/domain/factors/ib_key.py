"""The IB Key: the IBKR Mobile app on a phone. It answers a push by signing the decision
with its P-256 key, or, without notifications, shows an 8-digit OCRA response to a
6-digit challenge (suite ``OCRA-1:HOTP-SHA256-8:QN06``, secret made at activation)."""
from __future__ import annotations

import secrets

from securelogin.domain.factors.base import ChallengeContext, IssuedChallenge, UnsupportedMethod
from securelogin.domain.factors.ocra_card import OcraFactor
from securelogin.domain.factors.secrets import SecretOpener
from securelogin.domain.models import Challenge, Channel, Device, DeviceType, Method, OutgoingMessage
from securelogin.policy import Policy

IB_KEY_SUITE = "OCRA-1:HOTP-SHA256-8:QN06"
PUSH_TEXT = {"login": "Log in to IBKR as {username}?", "withdrawal": "Approve a withdrawal for {username}?"}


class IbKeyFactor:
    device_type = DeviceType.IB_KEY
    methods = (Method.PUSH, Method.CHALLENGE_RESPONSE)

    def __init__(self, policy: Policy, secrets_of: SecretOpener) -> None:
        self._policy = policy
        self._offline = OcraFactor(DeviceType.IB_KEY, policy, secrets_of)

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge:
        if method == Method.CHALLENGE_RESPONSE:
            return self._offline.issue(device, method, context)
        if method != Method.PUSH or not device.push_endpoint:
            raise UnsupportedMethod(method)
        nonce = secrets.token_urlsafe(16)
        expires_at = context.now + self._policy.challenge_ttl
        text = PUSH_TEXT.get(context.purpose, "Approve this IBKR request for {username}?")
        data = {"transaction_id": context.transaction_id, "nonce": nonce, "username": device.username,
                "device_id": device.device_id, "purpose": context.purpose}
        return IssuedChallenge(
            public={"push_sent": True, "expires_at": expires_at}, check_data={"nonce": nonce},
            expires_at=expires_at,
            message=OutgoingMessage(channel=Channel.PUSH, to=device.push_endpoint,
                                    body=text.format(username=device.username), data=data),
        )

    def check(self, device: Device, challenge: Challenge, response: str, context: ChallengeContext) -> bool:
        if challenge.method == Method.CHALLENGE_RESPONSE:
            return self._offline.check(device, challenge, response, context)
        return False  # a push is answered on the phone, with a signature, never by typing
