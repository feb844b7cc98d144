"""The passkey factor: its request options, its verdict on assertions (each refusal), the
counter rule, and registration, against a small software authenticator of these tests
(ES256 keys; what a browser posts back, built by hand)."""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import cbor2
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from securelogin.domain.factors.base import Answer, ChallengeContext
from securelogin.domain.factors.passkey import (
    CLONE_SUSPECTED,
    InvalidRegistration,
    PasskeyFactor,
    RelyingParty,
    b64u,
    flow_challenge,
    unb64u,
)
from securelogin.domain.models import Challenge, Device, DeviceStatus, DeviceType, Method, Purpose
from securelogin.policy import Policy

ORIGIN = "http://localhost:3000"
RP = RelyingParty(id="localhost", name="IBKR Secure Login", origins=(ORIGIN,))
NOW = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
CONTEXT = ChallengeContext(Purpose.WITHDRAWAL, "flow-key", NOW, "Withdraw USD 1,000.00 to your bank account on file")
UP, UV, AT = 0x01, 0x04, 0x40


@dataclass
class Key:
    """One credential of the test authenticator."""
    credential_id: bytes
    private: ec.EllipticCurvePrivateKey
    count: int = 0

    def cose(self, alg: int = -7) -> bytes:
        nums = self.private.public_key().public_numbers()
        return cbor2.dumps({1: 2, 3: alg, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")})


def new_key() -> Key:
    return Key(os.urandom(16), ec.generate_private_key(ec.SECP256R1()))


def client_data(kind: str, challenge: bytes, origin: str = ORIGIN) -> bytes:
    return json.dumps({"type": kind, "challenge": b64u(challenge), "origin": origin}).encode()


def auth_data(rp_id: str, flags: int, count: int, attested: bytes = b"") -> bytes:
    return hashlib.sha256(rp_id.encode()).digest() + bytes([flags]) + count.to_bytes(4, "big") + attested


def assertion(key: Key, challenge: bytes, *, origin: str = ORIGIN, rp_id: str = "localhost", flags: int = UP | UV,
              kind: str = "webauthn.get", count: int | None = None, signer: Key | None = None) -> dict:
    key.count = key.count + 1 if count is None else count
    data, cdj = auth_data(rp_id, flags, key.count), client_data(kind, challenge, origin)
    signature = (signer or key).private.sign(data + hashlib.sha256(cdj).digest(), ec.ECDSA(hashes.SHA256()))
    return {"id": b64u(key.credential_id), "rawId": b64u(key.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64u(cdj), "authenticatorData": b64u(data), "signature": b64u(signature)},
            "clientExtensionResults": {}}


def registration(key: Key, challenge: bytes, *, origin: str = ORIGIN, flags: int = UP | UV | AT, alg: int = -7,
                 kind: str = "webauthn.create") -> dict:
    attested = bytes(16) + len(key.credential_id).to_bytes(2, "big") + key.credential_id + key.cose(alg)
    attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data("localhost", flags, 0, attested)})
    return {"id": b64u(key.credential_id), "rawId": b64u(key.credential_id), "type": "public-key",
            "response": {"clientDataJSON": b64u(client_data(kind, challenge, origin)),
                         "attestationObject": b64u(attestation)},
            "clientExtensionResults": {}}


@pytest.fixture
def factor() -> PasskeyFactor:
    return PasskeyFactor(Policy(), RP, lambda: b"k" * 32)


@pytest.fixture
def key() -> Key:
    return new_key()


def passkey(key: Key, count: int = 0) -> Device:
    return Device(device_id="dev_pk", username="alice", type=DeviceType.PASSKEY, label="Laptop",
                  status=DeviceStatus.ACTIVE, created_at=NOW, credential_id=b64u(key.credential_id),
                  public_key=b64u(key.cose()), sign_count=count)


def issued(factor: PasskeyFactor, device: Device, context: ChallengeContext = CONTEXT) -> tuple[Challenge, bytes]:
    made = factor.issue(device, Method.WEBAUTHN, context)
    challenge = Challenge(device_id=device.device_id, method=Method.WEBAUTHN, issued_at=NOW,
                          expires_at=made.expires_at, check_data=made.check_data)
    return challenge, unb64u(made.public["options"]["challenge"])


def test_request_options_name_the_passkey_and_derive_the_challenge_from_the_flow(factor, key):
    made = factor.issue(passkey(key), Method.WEBAUTHN, CONTEXT)
    options = made.public["options"]
    assert options["rpId"] == "localhost" and options["userVerification"] == "required"
    assert [unb64u(c["id"]) for c in options["allowCredentials"]] == [key.credential_id]
    assert unb64u(options["challenge"]) == flow_challenge(CONTEXT, made.check_data["nonce"])
    assert made.expires_at == NOW + timedelta(seconds=120)
    again = factor.issue(passkey(key), Method.WEBAUTHN, CONTEXT)
    assert again.public["options"]["challenge"] != options["challenge"]  # a fresh nonce every time


def test_a_right_assertion_carries_the_new_counter(factor, key):
    device = passkey(key, count=3)
    challenge, raw = issued(factor, device)
    verdict = factor.check(device, challenge, Answer(assertion=assertion(key, raw, count=4)), CONTEXT)
    assert verdict.right and verdict.sign_count == 4 and verdict.alarm is None


def test_counters_that_stay_zero_are_accepted(factor, key):
    device = passkey(key)
    challenge, raw = issued(factor, device)
    verdict = factor.check(device, challenge, Answer(assertion=assertion(key, raw, count=0)), CONTEXT)
    assert verdict.right and verdict.sign_count == 0


@pytest.mark.parametrize("count", [4, 5])
def test_a_counter_that_does_not_grow_raises_the_clone_alarm(factor, key, count):
    device = passkey(key, count=5)
    challenge, raw = issued(factor, device)
    verdict = factor.check(device, challenge, Answer(assertion=assertion(key, raw, count=count)), CONTEXT)
    assert not verdict.right and verdict.alarm is not None and verdict.alarm.event == CLONE_SUSPECTED


OTHER_FLOWS = {
    "another flow": replace(CONTEXT, transaction_key="other-flow"),
    "another amount": replace(CONTEXT, statement="Withdraw USD 2,000.00 to your bank account on file"),
    "another purpose": replace(CONTEXT, purpose=Purpose.LOGIN),
}


@pytest.mark.parametrize("case", list(OTHER_FLOWS))
def test_an_assertion_answers_only_its_own_flow(factor, key, case):
    device = passkey(key)
    challenge, raw = issued(factor, device)
    assert not factor.check(device, challenge, Answer(assertion=assertion(key, raw)), OTHER_FLOWS[case]).right


WRONG = {
    "another origin": {"origin": "http://evil.example:3000"},
    "https, not http": {"origin": "https://localhost:3000"},
    "another RP ID": {"rp_id": "example.com"},
    "user verification off": {"flags": UP},
    "user presence off": {"flags": UV},
    "a create, not a get": {"kind": "webauthn.create"},
    "signed by another key": {"signer": new_key()},
}


@pytest.mark.parametrize("case", list(WRONG))
def test_wrong_assertions_are_refused_without_alarm(factor, key, case):
    device = passkey(key)
    challenge, raw = issued(factor, device)
    verdict = factor.check(device, challenge, Answer(assertion=assertion(key, raw, **WRONG[case])), CONTEXT)
    assert not verdict.right and verdict.alarm is None and verdict.sign_count is None


def test_other_answers_are_refused(factor, key):
    device = passkey(key)
    challenge, raw = issued(factor, device)
    other = new_key()
    assert not factor.check(device, challenge, Answer(assertion=assertion(other, raw)), CONTEXT).right
    assert not factor.check(device, challenge, Answer(assertion=assertion(key, os.urandom(32))), CONTEXT).right
    assert not factor.check(device, challenge, Answer(text="123456"), CONTEXT).right
    assert not factor.check(device, challenge, Answer(assertion={"rawId": 7}), CONTEXT).right
    broken = assertion(key, raw)
    broken["response"]["signature"] = b64u(b"\x30\x06\x02\x01\x01\x02\x01\x01")
    assert not factor.check(device, challenge, Answer(assertion=broken), CONTEXT).right


def test_creation_options(factor, key):
    options = factor.creation_options("alice", b"c" * 32, [passkey(key)])
    assert options["rp"] == {"id": "localhost", "name": "IBKR Secure Login"} and options["user"]["name"] == "alice"
    assert unb64u(options["user"]["id"]) == factor.user_handle("alice") != factor.user_handle("bob")
    assert {p["alg"] for p in options["pubKeyCredParams"]} == {-7, -8, -257}
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert [unb64u(c["id"]) for c in options["excludeCredentials"]] == [key.credential_id]


def test_a_registration_with_attestation_none_is_verified(factor, key):
    registered = factor.verify_registration(registration(key, b"c" * 32), b"c" * 32)
    assert unb64u(registered.credential_id) == key.credential_id and registered.sign_count == 0
    assert unb64u(registered.public_key) == key.cose()


BAD_REGISTRATIONS = {
    "another challenge": {},
    "another origin": {"origin": "http://evil.example"},
    "user verification off": {"flags": UP | AT},
    "an algorithm not offered": {"alg": -35},
    "a get, not a create": {"kind": "webauthn.get"},
}


@pytest.mark.parametrize("case", list(BAD_REGISTRATIONS))
def test_bad_registrations_are_refused(factor, key, case):
    challenge = b"c" * 32
    answered = os.urandom(32) if case == "another challenge" else challenge
    with pytest.raises(InvalidRegistration):
        factor.verify_registration(registration(key, answered, **BAD_REGISTRATIONS[case]), challenge)
