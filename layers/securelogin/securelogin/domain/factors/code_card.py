"""Code cards: the Security Code Card and the Online Security Code Card. The user reads
the values printed at two index numbers and types them in the order asked."""
from __future__ import annotations

import hmac
import secrets

from securelogin.domain.factors.base import ChallengeContext, IssuedChallenge, UnsupportedMethod
from securelogin.domain.factors.secrets import SecretOpener
from securelogin.domain.models import Challenge, Device, DeviceType, Method
from securelogin.policy import Policy

# No 0/O, 1/I/L: values are read off paper and typed.
CARD_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def new_card(entries: int, value_alphabet: str, value_length: int = 3) -> dict[str, str]:
    """``entries`` distinct three-digit index numbers, each with a random value."""
    indices: set[str] = set()
    while len(indices) < entries:
        indices.add(f"{secrets.randbelow(1000):03d}")
    return {index: "".join(secrets.choice(value_alphabet) for _ in range(value_length))
            for index in sorted(indices)}


def normalise(text: str) -> str:
    return "".join(text.split()).upper()


class CodeCardFactor:
    methods = (Method.CHALLENGE_RESPONSE,)

    def __init__(self, device_type: DeviceType, policy: Policy, secrets_of: SecretOpener) -> None:
        self.device_type = device_type
        self._policy = policy
        self._secrets = secrets_of

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge:
        if method not in self.methods:
            raise UnsupportedMethod(method)
        indices = sorted(self._secrets(device).card)
        while True:
            first, second = secrets.choice(indices), secrets.choice(indices)
            pair = f"{first},{second}"
            if first != second and pair != device.last_challenge:
                break
        expires_at = context.now + self._policy.challenge_ttl
        return IssuedChallenge(public={"indices": [first, second], "expires_at": expires_at},
                               check_data={"indices": pair}, expires_at=expires_at, remember=pair)

    def check(self, device: Device, challenge: Challenge, response: str, context: ChallengeContext) -> bool:
        card = self._secrets(device).card
        first, second = challenge.check_data["indices"].split(",")
        expected = normalise(card[first] + card[second])
        return hmac.compare_digest(expected.encode(), normalise(response).encode())
