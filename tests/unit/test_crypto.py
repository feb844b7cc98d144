import os
import re

import argon2
import pytest

from securelogin.crypto import envelope, passwords
from securelogin.crypto.codes import code_digest, digests_match, lookup_key, numeric_code, random_token
from securelogin.crypto.passwords import hash_password, hasher_for, verify_password
from securelogin.settings import Argon2Parameters, get_argon2_parameters


def test_password_hash_is_argon2id_and_verifies():
    hashed = hash_password("s3cret-pass")
    assert hashed.startswith("$argon2id$")
    assert "s3cret-pass" not in hashed
    assert verify_password(hashed, "s3cret-pass")
    assert not verify_password(hashed, "s3cret-pasS")


def test_unknown_user_never_verifies_even_with_the_decoy_password():
    assert not verify_password(None, "decoy password that no user has")
    assert not verify_password(None, "anything")


def recorded(password_hash: str) -> tuple[int, int, int]:
    found = argon2.extract_parameters(password_hash)
    assert found.type is argon2.Type.ID
    return found.time_cost, found.memory_cost, found.parallelism


def test_hashes_record_the_profile_of_the_settings():
    # The tests run with the cheap profile of tests/conftest.py, read from the environment.
    profile = get_argon2_parameters()
    assert (profile.time_cost, profile.memory_cost_kib, profile.parallelism) == (
        int(os.environ["ARGON2_TIME_COST"]), int(os.environ["ARGON2_MEMORY_COST_KIB"]),
        int(os.environ["ARGON2_PARALLELISM"]))
    assert recorded(hash_password("s3cret-pass")) == (profile.time_cost, profile.memory_cost_kib, profile.parallelism)


def test_the_decoy_costs_what_a_real_hash_costs():
    # Unknown users are checked against a hash of the same parameters as real ones.
    assert recorded(passwords._decoy_hash()) == recorded(hash_password("s3cret-pass"))


def test_hashes_made_with_other_parameters_keep_verifying():
    # E.g. stored under RFC 9106's parameters, checked by a container with others: the hash says how.
    other = Argon2Parameters(time_cost=2, memory_cost_kib=16 * 1024, parallelism=2)
    assert other != get_argon2_parameters()
    stored = hasher_for(other).hash("s3cret-pass")
    assert recorded(stored) == (2, 16 * 1024, 2)
    assert verify_password(stored, "s3cret-pass")
    assert not verify_password(stored, "s3cret-pasS")


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
