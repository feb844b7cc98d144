import re
from datetime import UTC, datetime

import pytest

from securelogin.domain import statements
from securelogin.domain.factors import ChallengeContext, UnsupportedMethod
from securelogin.domain.factors.base import Answer
from securelogin.domain.factors.message_code import MessageCodeFactor
from securelogin.domain.models import Challenge, Device, DeviceStatus, DeviceType, Purpose
from securelogin.policy import Policy

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
PHONE = "+15550001111"


@pytest.fixture
def factor():
    return MessageCodeFactor(Policy(), code_key=lambda: b"\x07" * 32)


@pytest.fixture
def device():
    return Device("dev_1", "alice", DeviceType.SMS, "SMS", DeviceStatus.ACTIVE, NOW, phone=PHONE)


def code_of(issued):
    return re.findall(r"\d{6}", issued.message.body)[0]


def as_challenge(issued, method="sms"):
    return Challenge("dev_1", method, NOW, issued.expires_at, issued.check_data)


@pytest.mark.parametrize("method", ["sms", "voice"])
def test_the_message_carries_one_code_and_the_server_keeps_only_a_digest(factor, device, method):
    context = ChallengeContext(Purpose.LOGIN, "txn", NOW)
    issued = factor.issue(device, method, context)
    runs = [r for r in re.findall(r"\d+", issued.message.body) if len(r) == 6]
    assert len(runs) == 1
    assert issued.message.channel == method and issued.message.to == PHONE
    assert runs[0] not in str(issued.check_data) and runs[0] not in str(issued.public)
    assert PHONE not in str(issued.public) and issued.public["sent_to"].endswith(PHONE[-3:])
    assert issued.public["resend_after_seconds"] == 120
    assert (issued.expires_at - NOW).total_seconds() == 300


def test_voice_is_read_digit_by_digit(factor, device):
    issued = factor.issue(device, "voice", ChallengeContext(Purpose.LOGIN, "txn", NOW))
    assert '<say-as interpret-as="digits">' in issued.message.body


def test_the_right_code_answers_with_spaces_ignored(factor, device):
    context = ChallengeContext(Purpose.LOGIN, "txn", NOW)
    issued = factor.issue(device, "sms", context)
    code = code_of(issued)
    assert factor.check(device, as_challenge(issued), Answer(code), context).right
    assert factor.check(device, as_challenge(issued), Answer(f" {code[:3]} {code[3:]} "), context).right


def test_wrong_codes_and_other_flows_fail(factor, device):
    context = ChallengeContext(Purpose.LOGIN, "txn", NOW)
    issued = factor.issue(device, "sms", context)
    code = code_of(issued)
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    assert not factor.check(device, as_challenge(issued), Answer(wrong), context).right
    assert not factor.check(device, as_challenge(issued), Answer(code + "0"), context).right
    assert not factor.check(device, as_challenge(issued), Answer("abcdef"), context).right
    assert not factor.check(device, as_challenge(issued), Answer(code),
                        ChallengeContext(Purpose.LOGIN, "other-txn", NOW)).right
    assert not factor.check(device, as_challenge(issued), Answer(code),
                        ChallengeContext(Purpose.RECOVERY, "txn", NOW)).right


def test_the_text_says_what_the_code_confirms(factor, device):
    login = factor.issue(device, "sms", ChallengeContext(Purpose.LOGIN, "txn", NOW)).message.body
    assert "to log in" in login
    statement = statements.withdrawal(250000, "ACME Bank 0001")
    for method in ("sms", "voice"):
        body = factor.issue(device, method, ChallengeContext(Purpose.WITHDRAWAL, "txn", NOW, statement)).message.body
        assert "USD 250,000.00" in body and "ACME Bank 0001" in body and "log in" not in body


def test_a_withdrawals_code_is_one_run_of_six_digits_beside_the_digits_of_the_statement(factor, device):
    statement = statements.withdrawal(123456.78, "Account 123456")
    issued = factor.issue(device, "sms", ChallengeContext(Purpose.WITHDRAWAL, "txn", NOW, statement))
    code = statements.code_in_text(issued.message.body)
    assert code is not None and len(code) == 6
    assert factor.check(device, as_challenge(issued), Answer(code),
                        ChallengeContext(Purpose.WITHDRAWAL, "txn", NOW)).right


def test_unsupported_method(factor, device):
    with pytest.raises(UnsupportedMethod):
        factor.issue(device, "push", ChallengeContext(Purpose.LOGIN, "txn", NOW))


def test_without_a_number_to_call_from_voice_is_not_offered(device):
    """Not a 503 per call (a failure anyone could repeat to page the operators): no such method."""
    factor = MessageCodeFactor(Policy(), code_key=lambda: b"\x07" * 32, voice=False)
    assert factor.methods == ("sms",)
    with pytest.raises(UnsupportedMethod):
        factor.issue(device, "voice", ChallengeContext(Purpose.LOGIN, "txn", NOW))
    assert factor.issue(device, "sms", ChallengeContext(Purpose.LOGIN, "txn", NOW)).message.channel == "sms"
