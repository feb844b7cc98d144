"""IB Key signatures: ECDSA P-256 with SHA-256 (rules.md "Cryptography")."""
from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key


class InvalidPublicKey(ValueError):
    pass


def load_p256_public_key(spki_base64: str) -> ec.EllipticCurvePublicKey:
    """A public key sent as standard base64 of its DER SubjectPublicKeyInfo; P-256 only."""
    try:
        key = load_der_public_key(base64.b64decode(spki_base64, validate=True))
    except (ValueError, binascii.Error, TypeError) as exc:
        raise InvalidPublicKey("not a base64 DER public key") from exc
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise InvalidPublicKey("not a P-256 key")
    return key


def push_decision_message(push_id: str, nonce: str, decision: str, number: str, statement: str) -> bytes:
    """What the app signs (rules.md "Cryptography"): the push, its nonce, the decision, the
    number the person typed (empty for a deny or a push without one) and the statement."""
    return f"{push_id}|{nonce}|{decision}|{number}|{statement}".encode()


def signature_is_valid(spki_base64: str, message: bytes, signature_base64: str) -> bool:
    """True when ``signature_base64`` (standard base64 of a DER ECDSA-SHA256 signature)
    signs ``message`` under the key."""
    try:
        key = load_p256_public_key(spki_base64)
        key.verify(base64.b64decode(signature_base64, validate=True), message, ec.ECDSA(hashes.SHA256()))
    except (InvalidPublicKey, InvalidSignature, ValueError, binascii.Error):
        return False
    return True
