"""Phone numbers: validation and masking."""
from __future__ import annotations

import re

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def is_e164(number: str) -> bool:
    return bool(E164.fullmatch(number))


def mask(number: str) -> str:
    """``+15551234567`` -> ``+1*******567``: enough to recognise, not to dial."""
    return number[:2] + "*" * (len(number) - 5) + number[-3:]
