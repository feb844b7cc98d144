from datetime import UTC, datetime

import pytest

from securelogin.crypto.ocra import ocra
from securelogin.domain.factors import ChallengeContext, UnsupportedMethod
from securelogin.domain.factors.ib_key import IB_KEY_SUITE, IbKeyFactor
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import Challenge, Device, DeviceStatus, DeviceType
from securelogin.policy import Policy

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
SECRET = "ab" * 32
CONTEXT = ChallengeContext("login", "key-of-txn", NOW, "the-login-id")


def ib_key(push_endpoint="arn:aws:sns:us-east-1:1:endpoint/GCM/app/x"):
    return Device("dev_k", "alice", DeviceType.IB_KEY, "IB Key", DeviceStatus.ACTIVE, NOW, ocra_suite=IB_KEY_SUITE,
                  push_endpoint=push_endpoint)


@pytest.fixture
def factor():
    return IbKeyFactor(Policy(), lambda device: DeviceSecret(seed_hex=SECRET))


def test_a_push_carries_what_the_app_needs_to_answer(factor):
    issued = factor.issue(ib_key(), "push", CONTEXT)
    assert issued.public["push_sent"] is True and (issued.expires_at - NOW).total_seconds() == 120
    data = issued.message.data
    assert issued.message.channel == "push" and issued.message.to.startswith("arn:aws:sns")
    assert data["transaction_id"] == "the-login-id" and data["username"] == "alice" and data["device_id"] == "dev_k"
    assert data["nonce"] == issued.check_data["nonce"] and len(data["nonce"]) >= 20
    challenge = Challenge("dev_k", "push", NOW, issued.expires_at, issued.check_data)
    assert not factor.check(ib_key(), challenge, data["nonce"], CONTEXT)  # a push is never answered by typing


def test_no_push_without_an_endpoint(factor):
    with pytest.raises(UnsupportedMethod):
        factor.issue(ib_key(push_endpoint=None), "push", CONTEXT)


def test_the_offline_fallback_is_ocra_without_a_pin(factor):
    issued = factor.issue(ib_key(), "challenge_response", CONTEXT)
    question = issued.public["challenge_code"]
    challenge = Challenge("dev_k", "challenge_response", NOW, issued.expires_at, issued.check_data)
    assert factor.check(ib_key(), challenge, ocra(IB_KEY_SUITE, bytes.fromhex(SECRET), question), CONTEXT)
    wrong = str((int(ocra(IB_KEY_SUITE, bytes.fromhex(SECRET), question)) + 1) % 10**8).zfill(8)
    assert not factor.check(ib_key(), challenge, wrong, CONTEXT)
