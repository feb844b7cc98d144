"""Envelope encryption's data-key half: AES-256-GCM sealing under a data key.

A sealed value is ``v1.<encrypted data key>.<nonce>.<ciphertext>`` (base64url parts).
The data key itself is encrypted by KMS; this module only sees the plaintext data key
and its encrypted form, handed in by the caller. The associated data binds a value to
where it is stored, so a sealed value copied to another item does not open.
"""
from __future__ import annotations

import base64
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION = "v1"


class SealedValueError(ValueError):
    pass


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(data_key: bytes, encrypted_data_key: bytes, plaintext: bytes, associated_data: str) -> str:
    nonce = os.urandom(12)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext, associated_data.encode())
    return ".".join((VERSION, b64(encrypted_data_key), b64(nonce), b64(ciphertext)))


def encrypted_data_key_of(sealed: str) -> bytes:
    parts = sealed.split(".")
    if len(parts) != 4 or parts[0] != VERSION:
        raise SealedValueError("not a sealed value")
    return unb64(parts[1])


def open_sealed(data_key: bytes, sealed: str, associated_data: str) -> bytes:
    _, _, nonce, ciphertext = sealed.split(".")
    try:
        return AESGCM(data_key).decrypt(unb64(nonce), unb64(ciphertext), associated_data.encode())
    except Exception as exc:  # InvalidTag: wrong key, tampered value or other context
        raise SealedValueError("sealed value does not open") from exc
