"""PIN rules (rules.md): what makes a PIN too easy to guess."""
from __future__ import annotations

import re
import string
from dataclasses import dataclass

from securelogin.domain.models import Identity

# Common PINs, from published analyses of leaked PIN sets.
COMMON_PINS = frozenset({
    "0000", "1111", "1212", "1234", "1313", "1004", "2000", "2222", "2580", "3333", "4321", "4444", "5555",
    "5683", "6666", "6969", "7777", "8888", "9999", "0852", "1122", "1010", "0123", "9876", "1357", "2468",
    "123456", "654321", "111111", "000000", "121212", "112233", "123123", "147258", "159753", "696969",
    "pass", "1q2w", "qwer", "asdf", "abc123", "qwerty",
})
IB_KEY_PIN = re.compile(r"^[A-Za-z0-9!-/:-@\[-`{-~]{4,6}$")  # letters, digits, printable specials
CARD_PIN = re.compile(r"^\d{4}$")
_SEQUENCES = (string.digits, string.ascii_lowercase)


@dataclass(frozen=True)
class PersonalData:
    """What a PIN must not be taken from."""
    date_of_birth: str  # YYYY-MM-DD
    phones: tuple[str, ...]
    id_number: str
    ssn: str | None

    @classmethod
    def of(cls, identity: Identity, phones: list[str]) -> PersonalData:
        return cls(identity.date_of_birth, tuple(phones), identity.id_document.number, identity.ssn)

    def strings(self) -> list[str]:
        year, month, day = self.date_of_birth.split("-")
        found = [year + month + day, day + month + year, month + day + year, self.id_number.lower()]
        found += ["".join(ch for ch in phone if ch.isdigit()) for phone in self.phones]
        if self.ssn:
            found.append(self.ssn)
        return found


def _is_straight(pin: str) -> bool:
    lowered = pin.lower()
    return any(lowered in seq or lowered in seq[::-1] for seq in _SEQUENCES)


def pin_problem(pin: str, shape: re.Pattern[str], personal: PersonalData | None) -> str | None:
    """Why ``pin`` is refused, or None when it is acceptable."""
    if not shape.fullmatch(pin):
        return "has the wrong length or characters"
    if len(set(pin)) == 1:
        return "repeats one character"
    if _is_straight(pin):
        return "is a straight sequence"
    if pin.lower() in COMMON_PINS:
        return "is too common"
    if personal and any(pin.lower() in text for text in personal.strings()):
        return "comes from your personal data"
    return None
