import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from securelogin.crypto.signatures import (
    InvalidPublicKey,
    load_p256_public_key,
    push_decision_message,
    signature_is_valid,
)


def spki(key) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def sign(key, message: bytes) -> str:
    return base64.b64encode(key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.fixture
def phone():
    return ec.generate_private_key(ec.SECP256R1())


def test_a_decision_signed_by_the_phone_verifies(phone):
    message = push_decision_message("txn", "nonce", "approve")
    assert message == b"txn|nonce|approve"
    assert signature_is_valid(spki(phone), message, sign(phone, message))


def test_another_key_another_message_or_garbage_does_not(phone):
    message = push_decision_message("txn", "nonce", "approve")
    thief = ec.generate_private_key(ec.SECP256R1())
    assert not signature_is_valid(spki(phone), message, sign(thief, message))
    assert not signature_is_valid(spki(phone), push_decision_message("txn", "nonce", "deny"), sign(phone, message))
    assert not signature_is_valid(spki(phone), message, "not base64!")
    assert not signature_is_valid("junk", message, sign(phone, message))


@pytest.mark.parametrize("other", [lambda: ec.generate_private_key(ec.SECP384R1()),
                                   lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)])
def test_only_p256_keys_are_accepted(other):
    with pytest.raises(InvalidPublicKey):
        load_p256_public_key(spki(other()))
