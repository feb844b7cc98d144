"""The rules of Idempotency-Key (api/idempotency.py): which keys are valid, whose a key is,
what a fingerprint covers, which answers carry a secret, and how a kept answer is sealed."""
from __future__ import annotations

import base64
import json
import os
from typing import Any

import pytest

from securelogin.adapters.kms import KmsKeyring, KmsSecretBox
from securelogin.api.idempotency import (
    AnswerSerializer,
    caller_of,
    carries_secret,
    fingerprint_of,
    header_of,
    owner_of,
    seal_context,
    valid_key,
)


def request(method: str = "POST", path: str = "/v1/withdrawals", body: Any = None, *, authorizer: Any = None,
            identity: dict[str, Any] | None = None, params: dict[str, str] | None = None,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
    return {"httpMethod": method, "path": path, "body": json.dumps(body) if body is not None else None,
            "isBase64Encoded": False, "headers": headers or {}, "pathParameters": params,
            "requestContext": {"authorizer": authorizer, "identity": identity or {"sourceIp": "203.0.113.1"}}}


SESSION = {"username": "alice", "session_key": "0" * 64, "scope": "full"}
IAM = {"sourceIp": "10.0.0.1", "userArn": "arn:aws:iam::123456789012:user/cs", "caller": "AIDAEXAMPLE"}


@pytest.mark.parametrize("key", ["a", "A-z_09", "k" * 128, "0123456789abcdef-_"])
def test_keys_of_1_to_128_letters_digits_dashes_and_underscores_are_valid(key):
    assert valid_key(key)


@pytest.mark.parametrize("key", ["", "k" * 129, "a b", "a.b", "a/b", "é", "a\n", "a+b", "a=b"])
def test_anything_else_is_not_a_key(key):
    assert not valid_key(key)


def test_the_header_is_found_in_any_case():
    assert header_of(request(headers={"idempotency-KEY": "k1"}), "Idempotency-Key") == "k1"
    assert header_of({"multiValueHeaders": {"Idempotency-Key": ["k2"]}}, "Idempotency-Key") == "k2"
    assert header_of(request(), "Idempotency-Key") is None


def test_the_caller_is_the_session_user_first_then_the_iam_caller():
    assert caller_of(request(authorizer=SESSION, identity=IAM)) == "user:alice"
    assert caller_of(request(identity=IAM, params={"username": "bob"})) == f"iam:{IAM['userArn']}"
    assert caller_of(request(identity={"caller": "AIDAONLY"})) == "iam:AIDAONLY"


def test_without_either_the_caller_is_the_flow_or_username_the_request_names():
    assert caller_of(request(params={"login_id": "L1"})) == "path:login_id=L1"
    assert caller_of(request(body={"username": "carol", "password": "x"})) == "username:carol"
    assert caller_of(request(body={"session_id": "QR1", "pin": "1"})) == "session_id:QR1"
    assert caller_of(request(body={"push_id": "P1", "device_id": "d"})) == "push_id:P1"
    assert caller_of(request(body={"amount": 1})) == "anonymous"
    assert caller_of(request(body=None)) == "anonymous"


def test_a_key_is_named_by_its_caller_too():
    assert owner_of("user:alice", "k") != owner_of("user:bob", "k")
    assert owner_of("user:alice", "k") != owner_of("user:alice", "k2")
    assert owner_of("user:alice", "k") == owner_of("user:alice", "k")
    assert owner_of("user:a", "b|c") != owner_of("user:a|b", "c")  # no two splits name one key


def test_the_fingerprint_covers_the_method_the_path_and_the_body():
    base = fingerprint_of(request(body={"amount_usd": 1}))
    assert fingerprint_of(request(body={"amount_usd": 1})) == base
    assert fingerprint_of(request(body={"amount_usd": 2})) != base
    assert fingerprint_of(request(path="/v1/withdrawals/w1/challenge", body={"amount_usd": 1})) != base
    assert fingerprint_of(request(method="PUT", body={"amount_usd": 1})) != base
    assert fingerprint_of(request(body={"amount_usd": 1}, authorizer=SESSION)) == base  # not who: the key's owner is


def test_a_base64_body_is_fingerprinted_as_the_bytes_it_stands_for():
    plain = request(body={"a": 1})
    encoded = dict(plain, body=base64.b64encode(plain["body"].encode()).decode(), isBase64Encoded=True)
    assert fingerprint_of(encoded) == fingerprint_of(plain)


@pytest.mark.parametrize("answer", [
    {"device_id": "d", "ocra_secret_hex": "00"}, {"device_id": "d", "card": {"001": "123"}},
    {"device_id": "d", "code": "12345678"}, {"seed_hex": "00"}, {"login_id": "x", "session_token": "sls_x"},
    {"outer": [{"session_token": "sls_x"}]}, {"withdrawal_id": "w"}, {"login_id": "l", "devices": []},
    {"session_id": "7KQ4M9XD2RTBH6WN"},
])
def test_answers_with_a_secret_field(answer):
    assert carries_secret(answer)


@pytest.mark.parametrize("answer", [
    {"error": {"code": "invalid_response", "message": "m", "attempts_left": 4}}, None, [],
    {"devices": [{"device_id": "d", "type": "scc"}]}, {"status": "authorized", "remaining": {"today": 5}},
])
def test_answers_without_one(answer):
    assert not carries_secret(answer)


class FakeKms:
    """KMS as far as a keyring uses it: one data key, its 'encrypted' form opened back."""

    def __init__(self) -> None:
        self.key = os.urandom(32)
        self.calls = 0

    def generate_data_key(self, **_: Any) -> dict[str, bytes]:
        self.calls += 1
        return {"Plaintext": self.key, "CiphertextBlob": b"encrypted:" + self.key[::-1]}

    def decrypt(self, CiphertextBlob: bytes, **_: Any) -> dict[str, bytes]:
        self.calls += 1
        return {"Plaintext": CiphertextBlob.removeprefix(b"encrypted:")[::-1]}


def proxy_answer(status: int, body: dict[str, Any]) -> dict[str, Any]:
    return {"statusCode": status, "body": json.dumps(body), "isBase64Encoded": False,
            "multiValueHeaders": {"Content-Type": ["application/json"],
                                  "Access-Control-Allow-Origin": ["https://portal.example"]}}


def test_a_kept_answer_with_a_secret_is_sealed_under_its_key_and_opens_back():
    kms = FakeKms()
    box = KmsSecretBox(KmsKeyring(lambda: kms, "key"))
    serializer = AnswerSerializer(lambda: box, seal_context("owner-1"))
    answer = proxy_answer(201, {"device_id": "dev_1", "code": "84736251"})
    kept = serializer.to_dict(answer)
    assert set(kept) == {"sealed"} and "84736251" not in json.dumps(kept) and "dev_1" not in json.dumps(kept)
    opened = serializer.from_dict(json.loads(json.dumps(kept)))
    assert opened["statusCode"] == 201 and json.loads(opened["body"]) == {"device_id": "dev_1", "code": "84736251"}
    assert opened["headers"] == {"Content-Type": ["application/json"]}  # CORS is the asker's, not kept
    with pytest.raises(Exception):  # noqa: B017 - any failure to open: another key's context
        AnswerSerializer(lambda: box, seal_context("owner-2")).from_dict(kept)


def test_a_kept_answer_without_a_secret_is_kept_as_it_is():
    kms = FakeKms()
    serializer = AnswerSerializer(lambda: KmsSecretBox(KmsKeyring(lambda: kms, "key")), seal_context("o"))
    kept = serializer.to_dict(proxy_answer(401, {"error": {"code": "invalid_response", "message": "m"}}))
    assert kept["statusCode"] == 401 and json.loads(kept["body"])["error"]["code"] == "invalid_response"
    assert serializer.from_dict(kept) == kept and kms.calls == 0  # no KMS call for an answer with no secret
