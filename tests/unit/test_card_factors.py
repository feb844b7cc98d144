from datetime import UTC, datetime, timedelta

import pytest

from securelogin.crypto.ocra import ocra
from securelogin.domain.factors import ChallengeContext
from securelogin.domain.factors.base import Answer
from securelogin.domain.factors.code_card import CARD_ALPHABET, CodeCardFactor, new_card, open_pair_value, still_open
from securelogin.domain.factors.ocra_card import CARD_SUITE, OcraFactor
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import Challenge, Device, DeviceStatus, DeviceType, Purpose
from securelogin.policy import Policy

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
CONTEXT = ChallengeContext(Purpose.LOGIN, "txn", NOW)
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
    assert factor.check(device, challenge_of(issued), Answer(right), CONTEXT).right
    wrong_pin = ocra(CARD_SUITE, bytes.fromhex(SEED), question, pin="1235")
    assert not factor.check(device, challenge_of(issued), Answer(wrong_pin),
                            CONTEXT).right
    assert not factor.check(device, challenge_of(issued), Answer("not digits"), CONTEXT).right


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


def at(moment):
    return ChallengeContext(Purpose.LOGIN, "txn", moment)


def test_a_card_with_no_open_pair_draws_two_different_indices_and_opens_them(scc):
    factor, card = scc
    device = card_device(DeviceType.SCC)
    for _ in range(30):
        issued = factor.issue(device, "challenge_response", CONTEXT)
        first, second = issued.public["indices"]
        assert first != second and {first, second} <= set(card)
        assert issued.open_pair == open_pair_value(first, second, NOW) == f"{first},{second}@{int(NOW.timestamp())}"
        assert issued.check_data == {"indices": f"{first},{second}", "open_pair": issued.open_pair}


def test_an_open_pair_is_asked_again_in_any_flow_until_a_day_has_passed(scc):
    factor, _ = scc
    device = card_device(DeviceType.SCC)
    first = factor.issue(device, "challenge_response", CONTEXT)
    device.open_pair = first.open_pair
    for later, flow in ((timedelta(0), "txn"), (timedelta(minutes=1), "another"),
                        (timedelta(hours=23, minutes=59, seconds=59), "a third")):
        again = factor.issue(device, "challenge_response", ChallengeContext(Purpose.WITHDRAWAL, flow, NOW + later))
        assert again.public["indices"] == first.public["indices"] and again.check_data == first.check_data
        assert again.open_pair is None  # nothing new to write
    after_a_day = factor.issue(device, "challenge_response", at(NOW + timedelta(hours=24)))
    assert after_a_day.open_pair is not None and after_a_day.open_pair.endswith(
        f"@{int((NOW + timedelta(hours=24)).timestamp())}")


def test_once_answered_the_next_challenge_draws_anew(scc):
    """A right answer clears the open pair (the store's give-back); the card then draws again,
    and over many draws it asks different pairs."""
    factor, _ = scc
    device = card_device(DeviceType.SCC)
    pairs = set()
    for _ in range(40):
        issued = factor.issue(device, "challenge_response", CONTEXT)
        assert issued.open_pair is not None
        pairs.add(tuple(issued.public["indices"]))
        device.open_pair = None
    assert len(pairs) > 1


def test_the_lifetime_of_an_open_pair_is_the_policys(scc):
    _, card = scc
    factor = CodeCardFactor(DeviceType.SCC, Policy(index_pair_lifetime=timedelta(hours=1)),
                            lambda d: DeviceSecret(card=card))
    device = card_device(DeviceType.SCC)
    device.open_pair = factor.issue(device, "challenge_response", CONTEXT).open_pair
    assert factor.issue(device, "challenge_response", at(NOW + timedelta(minutes=59))).open_pair is None
    assert factor.issue(device, "challenge_response", at(NOW + timedelta(hours=1))).open_pair is not None


@pytest.mark.parametrize("value", [None, "", "garbage", "001,002", "001,002@", "001@123", ",002@1", "001,002@soon"])
def test_an_unreadable_open_pair_is_no_pair(value):
    assert still_open(value, NOW, 86400) is None


def test_an_open_pair_reads_back_until_its_lifetime():
    value = open_pair_value("001", "003", NOW)
    assert still_open(value, NOW + timedelta(seconds=86399), 86400) == ("001", "003")
    assert still_open(value, NOW + timedelta(seconds=86400), 86400) is None


def test_the_answer_is_both_values_in_order_with_case_and_spaces_ignored(scc):
    factor, card = scc
    device = card_device(DeviceType.SCC)
    issued = factor.issue(device, "challenge_response", CONTEXT)
    first, second = issued.public["indices"]
    challenge = challenge_of(issued)
    assert factor.check(device, challenge, Answer(f"{card[first].lower()} {card[second]}"), CONTEXT).right
    assert not factor.check(device, challenge, Answer(card[second] + card[first]), CONTEXT).right
    assert not factor.check(device, challenge, Answer(card[first]), CONTEXT).right
