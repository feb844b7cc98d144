"""Usernames are case-insensitive: ``Trader.X`` and ``trader.x`` are one username."""
from __future__ import annotations

import unicodedata


def normalise_username(name: str) -> str:
    """The one form a username is stored and compared in: NFKC, then lower case."""
    return unicodedata.normalize("NFKC", name).lower()
