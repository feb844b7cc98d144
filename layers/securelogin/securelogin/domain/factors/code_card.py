"""Code cards: the Security Code Card and the Online Security Code Card. The user reads
the values printed at two index numbers and types them in the order asked.

A card has at most one open pair (rules.md, "index challenges"): every challenge of the
card, in any flow, asks the same two index numbers until they are answered right or a day
has passed, so no one can ask again and again until the card asks for values they know."""
from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from securelogin.domain.factors.base import Answer, ChallengeContext, IssuedChallenge, UnsupportedMethod, Verdict
from securelogin.domain.factors.secrets import SecretOpener
from securelogin.domain.models import Challenge, Device, DeviceType, Method
from securelogin.policy import Policy

# The check data of a card's challenge that names the open pair it asked.
OPEN_PAIR = "open_pair"
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


def open_pair_value(first: str, second: str, drawn_at: datetime) -> str:
    return f"{first},{second}@{int(drawn_at.timestamp())}"


def still_open(value: str | None, now: datetime, lifetime_seconds: float) -> tuple[str, str] | None:
    """The pair a card's ``open_pair`` holds, while it is open; None when there is none."""
    if not value or "@" not in value:
        return None
    pair, _, drawn = value.partition("@")
    first, _, second = pair.partition(",")
    if not drawn.isdigit() or not first or not second or now.timestamp() >= int(drawn) + lifetime_seconds:
        return None
    return first, second


class CodeCardFactor:
    methods = (Method.CHALLENGE_RESPONSE,)

    def __init__(self, device_type: DeviceType, policy: Policy, secrets_of: SecretOpener) -> None:
        self.device_type = device_type
        self._policy = policy
        self._secrets = secrets_of

    def issue(self, device: Device, method: Method, context: ChallengeContext) -> IssuedChallenge:
        if method not in self.methods:
            raise UnsupportedMethod(method)
        expires_at = context.now + self._policy.challenge_ttl
        asked = still_open(device.open_pair, context.now, self._policy.index_pair_lifetime.total_seconds())
        drawn = None
        if asked is None:
            indices = sorted(self._secrets(device).card)
            first, second = secrets.SystemRandom().sample(indices, 2)
            asked, drawn = (first, second), open_pair_value(first, second, context.now)
        # The answer counts only while the card still has this pair open (``OPEN_PAIR``): once it
        # was answered right anywhere, a challenge still showing it is spent, so answering old
        # challenges cannot discard pairs one does not know.
        held = drawn or device.open_pair or ""
        return IssuedChallenge(public={"indices": list(asked), "expires_at": expires_at},
                               check_data={"indices": ",".join(asked), OPEN_PAIR: held}, expires_at=expires_at,
                               open_pair=drawn)

    def check(self, device: Device, challenge: Challenge, answer: Answer, context: ChallengeContext) -> Verdict:
        card = self._secrets(device).card
        first, second = challenge.check_data["indices"].split(",")
        expected = normalise(card[first] + card[second])
        return Verdict.of(hmac.compare_digest(expected.encode(), normalise(answer.text).encode()))
