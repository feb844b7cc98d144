from datetime import UTC, datetime

import pytest

from securelogin.crypto.ocra import ocra
from securelogin.domain.factors import ChallengeContext
from securelogin.domain.factors.code_card import CARD_ALPHABET, CodeCardFactor, new_card
from securelogin.domain.factors.ocra_card import CARD_SUITE, OcraFactor
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import Challenge, Device, DeviceStatus, DeviceType
from securelogin.policy import Policy

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
CONTEXT = ChallengeContext("login", "txn", NOW)
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
PIN_SHA1 = "7110eda4d09e062aa5e4a390b0a572ac0d2c0220"  # SHA-1 of "1234"


def card_device(type_):
    return Device("dev_1", "alice", type_, "card", DeviceStatus.ACTIVE, NOW, ocra_suite=CARD_SUITE)


def challenge_of(issued):
    return Challenge("dev_1", "challenge_response", NOW, issued.expires_at, issued.check_data)


def test_an_ocra_card_is_asked_six_digits_and_answers_with_seed_and_pin():
    factor = OcraFactor(DeviceType.DSC_PLUS, Policy(), lambda d: DeviceSecret(seed_hex=SEED, pin_sha1_hex=PIN_SHA1))
    device = card_device(DeviceType.DSC_PLUS)
    issued = factor.issue(device, "challenge_response", CONTEXT)
    question = issued.public["challenge_code"]
    assert len(question) == 6 and question.isdigit() and (issued.expires_at - NOW).total_seconds() == 120
    right = ocra(CARD_SUITE, bytes.fromhex(SEED), question, pin="1234")
    assert factor.check(device, challenge_of(issued), right, CONTEXT)
    assert not factor.check(device, challenge_of(issued), ocra(CARD_SUITE, bytes.fromhex(SEED), question, pin="1235"),
                            CONTEXT)
    assert not factor.check(device, challenge_of(issued), "not digits", CONTEXT)


def test_fresh_questions_each_time():
    factor = OcraFactor(DeviceType.GOLD, Policy(), lambda d: DeviceSecret())
    questions = {factor.issue(card_device(DeviceType.GOLD), "challenge_response", CONTEXT).public["challenge_code"]
                 for _ in range(50)}
    assert len(questions) > 40


def test_cards_have_distinct_three_digit_indices():
    card = new_card(60, CARD_ALPHABET)
    assert len(card) == 60 and all(len(i) == 3 and i.isdigit() for i in card)
    assert all(len(v) == 3 and set(v) <= set(CARD_ALPHABET) for v in card.values())


@pytest.fixture
def scc():
    card = {"001": "AB3", "002": "CD4", "003": "EF5"}
    return CodeCardFactor(DeviceType.SCC, Policy(), lambda d: DeviceSecret(card=card)), card


def test_a_code_card_asks_two_different_indices_and_never_the_same_pair_twice(scc):
    factor, _ = scc
    device = card_device(DeviceType.SCC)
    for _ in range(30):
        issued = factor.issue(device, "challenge_response", CONTEXT)
        first, second = issued.public["indices"]
        assert first != second and issued.remember != device.last_challenge
        device.last_challenge = issued.remember


def test_the_answer_is_both_values_in_order_with_case_and_spaces_ignored(scc):
    factor, card = scc
    device = card_device(DeviceType.SCC)
    issued = factor.issue(device, "challenge_response", CONTEXT)
    first, second = issued.public["indices"]
    challenge = challenge_of(issued)
    assert factor.check(device, challenge, f"{card[first].lower()} {card[second]}", CONTEXT)
    assert not factor.check(device, challenge, card[second] + card[first], CONTEXT)
    assert not factor.check(device, challenge, card[first], CONTEXT)
