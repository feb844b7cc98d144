import base64
from datetime import UTC, datetime

import pytest

from securelogin.crypto.codes import lookup_key
from securelogin.crypto.ocra import ocra
from securelogin.domain import statements
from securelogin.domain.factors import ChallengeContext, UnsupportedMethod
from securelogin.domain.factors.base import Answer
from securelogin.domain.factors.ib_key import IB_KEY_SUITE, IbKeyFactor, match_number_digest
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import Challenge, Device, DeviceStatus, DeviceType, Purpose
from securelogin.policy import Policy

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
SECRET = "ab" * 32
CODE_KEY = b"\x05" * 32
FLOW_KEY = lookup_key("the-login-id")
LOGIN = statements.login("alice", "portal", "203.0.113.7", "Firefox on macOS")
CONTEXT = ChallengeContext(Purpose.LOGIN, FLOW_KEY, NOW, LOGIN)
DATA_KEYS = {"push_id", "nonce", "username", "device_id", "purpose", "statement", "has_number", "expires_at",
             "message"}


def ib_key(push_endpoint="arn:aws:sns:us-east-1:1:endpoint/GCM/app/x"):
    return Device("dev_k", "alice", DeviceType.IB_KEY, "IB Key", DeviceStatus.ACTIVE, NOW, ocra_suite=IB_KEY_SUITE,
                  push_endpoint=push_endpoint)


@pytest.fixture
def factor():
    return IbKeyFactor(Policy(), lambda device: DeviceSecret(seed_hex=SECRET), lambda: CODE_KEY)


def entropy_bits(token: str) -> int:
    return len(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))) * 8


def test_a_push_carries_what_the_app_needs_to_answer(factor):
    issued = factor.issue(ib_key(), "push", CONTEXT)
    assert issued.public["push_sent"] is True and (issued.expires_at - NOW).total_seconds() == 120
    data = issued.message.data
    assert issued.message.channel == "push" and issued.message.to.startswith("arn:aws:sns")
    assert set(data) == DATA_KEYS
    assert data["username"] == "alice" and data["device_id"] == "dev_k" and data["purpose"] == "login"
    assert data["statement"] == LOGIN and LOGIN in data["message"] and issued.message.body == data["message"]
    assert data["has_number"] is True and data["expires_at"] == "2026-11-21T10:02:00Z"
    sent = issued.push
    assert sent is not None and sent.nonce == data["nonce"] and len(data["nonce"]) >= 20
    assert sent.statement == LOGIN and sent.device_id == "dev_k" and sent.expires_at == issued.expires_at
    challenge = Challenge("dev_k", "push", NOW, issued.expires_at, issued.check_data)
    # a push is never answered by typing
    assert not factor.check(ib_key(), challenge, Answer(data["nonce"]), CONTEXT).right


def test_the_push_id_is_random_128_bits_its_own_and_found_by_its_lookup_key(factor):
    ids = set()
    for _ in range(20):
        issued = factor.issue(ib_key(), "push", CONTEXT)
        push_id = issued.message.data["push_id"]
        assert entropy_bits(push_id) >= 128
        assert push_id not in ("the-login-id", FLOW_KEY) and FLOW_KEY not in str(issued.message.data)
        assert issued.check_data == {"push_key": lookup_key(push_id)} == {"push_key": issued.push.push_key}
        ids.add(push_id)
    assert len(ids) == 20


@pytest.mark.parametrize("purpose", [Purpose.LOGIN, Purpose.STEP_UP, Purpose.WITHDRAWAL])
def test_a_login_a_step_up_and_a_withdrawal_are_number_matched(factor, purpose):
    issued = factor.issue(ib_key(), "push", ChallengeContext(purpose, FLOW_KEY, NOW, "what is confirmed"))
    number = issued.public["match_number"]
    assert len(number) == 3 and number.isdigit()
    assert issued.message.data["has_number"] is True
    # The number goes to the asking client only: never in the notification, kept as a digest bound to the push.
    data = issued.message.data
    assert set(data) == DATA_KEYS and number not in (data["push_id"], data["nonce"])
    assert all(number not in str(v) for k, v in data.items() if k not in ("push_id", "nonce", "expires_at"))
    assert set(issued.check_data) == {"push_key"} and number not in issued.message.body
    push_key = issued.push.push_key
    assert issued.push.number_digest == match_number_digest(CODE_KEY, push_key, number)
    assert issued.push.number_digest != match_number_digest(CODE_KEY, lookup_key("another push"), number)
    assert issued.push.number_digest != match_number_digest(CODE_KEY, push_key, str((int(number) + 1) % 1000).zfill(3))


@pytest.mark.parametrize("purpose", [Purpose.RECOVERY, Purpose.SHARE, Purpose.ACTIVATION, Purpose.PIN_CHANGE])
def test_other_pushes_carry_no_number(factor, purpose):
    issued = factor.issue(ib_key(), "push", ChallengeContext(purpose, FLOW_KEY, NOW, "an operation"))
    assert "match_number" not in issued.public
    assert issued.message.data["has_number"] is False and issued.push.number_digest is None


def test_match_numbers_vary(factor):
    numbers = {factor.issue(ib_key(), "push", CONTEXT).public["match_number"] for _ in range(60)}
    assert len(numbers) > 30


def test_a_withdrawals_push_asks_about_the_amount_and_destination(factor):
    statement = statements.withdrawal(1234.5, "ACME Bank 0001")
    issued = factor.issue(ib_key(), "push", ChallengeContext(Purpose.WITHDRAWAL, FLOW_KEY, NOW, statement))
    assert issued.message.data["statement"] == statement == "Withdraw USD 1,234.50 to ACME Bank 0001"
    assert statement in issued.message.data["message"] and issued.message.data["purpose"] == "withdrawal"


def test_no_push_without_an_endpoint(factor):
    with pytest.raises(UnsupportedMethod):
        factor.issue(ib_key(push_endpoint=None), "push", CONTEXT)


def test_the_offline_fallback_is_ocra_without_a_pin(factor):
    issued = factor.issue(ib_key(), "challenge_response", CONTEXT)
    assert issued.push is None and issued.message is None
    question = issued.public["challenge_code"]
    challenge = Challenge("dev_k", "challenge_response", NOW, issued.expires_at, issued.check_data)
    assert factor.check(ib_key(), challenge, Answer(ocra(IB_KEY_SUITE, bytes.fromhex(SECRET), question)), CONTEXT).right
    wrong = str((int(ocra(IB_KEY_SUITE, bytes.fromhex(SECRET), question)) + 1) % 10**8).zfill(8)
    assert not factor.check(ib_key(), challenge, Answer(wrong), CONTEXT).right
