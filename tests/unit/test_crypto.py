import re

import pytest

from securelogin.crypto import envelope
from securelogin.crypto.codes import code_digest, digests_match, lookup_key, numeric_code, random_token
from securelogin.crypto.passwords import hash_password, verify_password


def test_password_hash_is_argon2id_and_verifies():
    hashed = hash_password("s3cret-pass")
    assert hashed.startswith("$argon2id$")
    assert "s3cret-pass" not in hashed
    assert verify_password(hashed, "s3cret-pass")
    assert not verify_password(hashed, "s3cret-pasS")


def test_unknown_user_never_verifies_even_with_the_decoy_password():
    assert not verify_password(None, "decoy password that no user has")
    assert not verify_password(None, "anything")


def test_garbage_hash_is_a_refusal_not_a_crash():
    assert not verify_password("not-a-hash", "x")


def test_numeric_codes_have_the_asked_length():
    codes = {numeric_code(6) for _ in range(200)}
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert len(codes) > 150  # random, not a counter


def test_code_digest_is_bound_to_its_key_and_context():
    key = b"k" * 32
    digest = code_digest(key, "login:abc", "123456")
    assert digests_match(digest, code_digest(key, "login:abc", "123456"))
    assert not digests_match(digest, code_digest(key, "login:abd", "123456"))
    assert not digests_match(digest, code_digest(b"j" * 32, "login:abc", "123456"))
    assert "123456" not in digest


def test_random_tokens_and_their_lookup_keys():
    token = random_token(16)
    assert len(token) >= 21 and token != random_token(16)
    assert re.fullmatch(r"[0-9a-f]{64}", lookup_key(token))
    assert lookup_key(token) == lookup_key(token)


def test_sealed_value_opens_only_with_its_key_and_context():
    key, encrypted_key = b"\x01" * 32, b"wrapped-by-kms"
    sealed = envelope.seal(key, encrypted_key, b"seed bytes", "device|USER#a")
    assert b"seed bytes" not in sealed.encode()
    assert envelope.encrypted_data_key_of(sealed) == encrypted_key
    assert envelope.open_sealed(key, sealed, "device|USER#a") == b"seed bytes"
    with pytest.raises(envelope.SealedValueError):
        envelope.open_sealed(key, sealed, "device|USER#b")
    with pytest.raises(envelope.SealedValueError):
        envelope.open_sealed(b"\x02" * 32, sealed, "device|USER#a")
    tampered = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(envelope.SealedValueError):
        envelope.open_sealed(key, tampered, "device|USER#a")


def test_not_a_sealed_value():
    with pytest.raises(envelope.SealedValueError):
        envelope.encrypted_data_key_of("plain text")
