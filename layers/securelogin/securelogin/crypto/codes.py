"""One-time codes and opaque tokens: generation, keyed digests, comparison."""
from __future__ import annotations

import hashlib
import hmac
import secrets


def numeric_code(digits: int) -> str:
    return str(secrets.randbelow(10**digits)).zfill(digits)


def code_digest(key: bytes, context: str, code: str) -> str:
    """HMAC-SHA256 of a code bound to its context (purpose and flow id), hex.

    Codes are short, so a plain hash could be reversed by trying them all; the key
    (kept under KMS) is what makes the stored digest useless to a reader of the table."""
    return hmac.new(key, f"{context}\x00{code}".encode(), hashlib.sha256).hexdigest()


def digests_match(expected_hex: str, candidate_hex: str) -> bool:
    return hmac.compare_digest(expected_hex.encode(), candidate_hex.encode())


def random_token(nbytes: int = 32) -> str:
    """A URL-safe random token of ``nbytes`` bytes of entropy."""
    return secrets.token_urlsafe(nbytes)


def lookup_key(token: str) -> str:
    """The key under which a bearer secret (session token, flow id) is stored.

    SHA-256 is enough here: the tokens carry at least 128 random bits."""
    return hashlib.sha256(token.encode()).hexdigest()
