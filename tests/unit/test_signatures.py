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


STATEMENT = "Withdraw USD 1,234.50 to your bank account on file"


def test_a_decision_signed_by_the_phone_verifies(phone):
    message = push_decision_message("push1", "nonce", "approve", "042", STATEMENT)
    assert message == f"push1|nonce|approve|042|{STATEMENT}".encode()
    assert signature_is_valid(spki(phone), message, sign(phone, message))


def test_a_deny_and_a_push_without_a_number_sign_an_empty_number():
    assert push_decision_message("push1", "nonce", "deny", "", STATEMENT) == f"push1|nonce|deny||{STATEMENT}".encode()


def test_the_statement_is_signed_as_utf8():
    assert push_decision_message("p", "n", "approve", "", "Log in as zoë") == "p|n|approve||Log in as zoë".encode()


def test_another_key_another_message_or_garbage_does_not(phone):
    message = push_decision_message("push1", "nonce", "approve", "042", STATEMENT)
    thief = ec.generate_private_key(ec.SECP256R1())
    assert not signature_is_valid(spki(phone), message, sign(thief, message))
    assert not signature_is_valid(spki(phone), message, "not base64!")
    assert not signature_is_valid("junk", message, sign(phone, message))


@pytest.mark.parametrize("changed", [
    ("push2", "nonce", "approve", "042", STATEMENT),
    ("push1", "nonce2", "approve", "042", STATEMENT),
    ("push1", "nonce", "deny", "042", STATEMENT),
    ("push1", "nonce", "approve", "043", STATEMENT),
    ("push1", "nonce", "approve", "", STATEMENT),
    ("push1", "nonce", "approve", "042", "Withdraw USD 1,234.50 to ACME Bank 0001"),
    ("push1", "nonce", "approve", "042", "Withdraw USD 9,234.50 to your bank account on file"),
])
def test_a_signature_over_one_message_fails_for_any_field_changed(phone, changed):
    signature = sign(phone, push_decision_message("push1", "nonce", "approve", "042", STATEMENT))
    assert not signature_is_valid(spki(phone), push_decision_message(*changed), signature)


@pytest.mark.parametrize("other", [lambda: ec.generate_private_key(ec.SECP384R1()),
                                   lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)])
def test_only_p256_keys_are_accepted(other):
    with pytest.raises(InvalidPublicKey):
        load_p256_public_key(spki(other()))
