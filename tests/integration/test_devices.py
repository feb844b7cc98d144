"""Back-office issuance of physical devices and logging in with each of them, over moto."""
import re

import boto3
import pytest

from securelogin.clock import Clock
from securelogin.crypto.ocra import ocra
from securelogin.domain.models import DeviceType
from securelogin.errors import InvalidInput, NotFound, Throttled, Unauthenticated
from securelogin.runtime import build_services
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.login import ClientInfo
from securelogin.settings import Settings

SEED = "3132333435363738393031323334353637383930313233343536373839303132"
SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
PASSWORD = "correct horse 1"
PORTAL = ClientInfo("portal")


@pytest.fixture
def alice(world, new_user):
    world.services.users.create(new_user(), actor="tester")
    return world


def issue(world, **order):
    return world.services.backoffice_devices.issue("alice", DeviceOrder(**order), actor="cs")


def session_of(world, login_id, answer):
    """Who the right answer logged in, with which device, for what."""
    session = world.services.login.verify(login_id, answer).session
    return session.username, session.device_id, session.scope.value


def challenge(world, device_id):
    started = world.services.login.start("alice", PASSWORD, PORTAL)
    issued = world.services.login.challenge(started.login_id, device_id, None)
    return started.login_id, issued.public


def test_a_given_seed_is_not_shown_back_and_the_card_logs_in(alice):
    issued = issue(alice, type=DeviceType.DSC_PLUS, serial="DSC-1", seed_hex=SEED, pin="4831")
    assert issued.generated_seed_hex is None and issued.device.security_level == 4
    login_id, public = challenge(alice, issued.device.device_id)
    response = ocra(SUITE, bytes.fromhex(SEED), public["challenge_code"], pin="4831")
    assert alice.services.login.verify(login_id, response).session.scope.value == "full"


def test_seeds_pins_and_cards_are_sealed_at_rest(alice):
    generated = issue(alice, type=DeviceType.DSC_PLUS, pin="4831")
    card = issue(alice, type=DeviceType.SCC).card
    stored = str(boto3.client("dynamodb").query(
        TableName=alice.table, KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": "USER#alice"}})["Items"])
    assert re.fullmatch(r"[0-9a-f]{64}", generated.generated_seed_hex)
    assert generated.generated_seed_hex not in stored and "4831" not in stored
    assert "7110eda4" not in stored  # nor the PIN's hash
    assert not any(f'"{value}"' in stored for value in card.values())


def test_a_security_code_card_logs_in(alice):
    card = issue(alice, type=DeviceType.SCC)
    assert len(card.card) >= 50
    login_id, public = challenge(alice, card.device.device_id)
    first, second = public["indices"]
    answer = f"{card.card[first]} {card.card[second]}"
    assert session_of(alice, login_id, answer) == ("alice", card.device.device_id, "full")


def test_legacy_cards_come_only_by_import(alice):
    with pytest.raises(InvalidInput) as refused:
        issue(alice, type=DeviceType.PLATINUM, seed_hex=SEED, pin="4831")
    assert refused.value.code == "legacy_import_required"
    gold = issue(alice, type=DeviceType.GOLD, seed_hex=SEED, pin="4831", legacy_import=True)
    login_id, public = challenge(alice, gold.device.device_id)
    answer = ocra(SUITE, bytes.fromhex(SEED), public["challenge_code"], pin="4831")
    assert session_of(alice, login_id, answer) == ("alice", gold.device.device_id, "full")


@pytest.mark.parametrize("pin", [None, "12345", "1111", "1234"])
def test_card_pins_must_be_four_hard_digits(alice, pin):
    with pytest.raises(InvalidInput) as refused:
        issue(alice, type=DeviceType.DSC_PLUS, pin=pin)
    assert refused.value.code == "weak_pin"


def test_no_device_for_an_unknown_user(world):
    with pytest.raises(NotFound):
        world.services.backoffice_devices.issue("nobody", DeviceOrder(type=DeviceType.SCC), actor="cs")


def test_issuing_is_audited_and_the_user_is_told(world_over_http, new_user):
    world_over_http.services.users.create(new_user(), actor="tester")
    issue(world_over_http, type=DeviceType.SCC)
    assert world_over_http.services.audit.newest_first("alice")[0].type == "device.added"
    assert world_over_http.deliver_outbox() == 1
    texts = [m["body"] for m in world_over_http.sent("sms", "+15550001111")]
    assert any("Security Code Card was added" in text for text in texts)


def test_m2fs_lists_every_device_and_old_tws_gets_the_most_secure(alice):
    issue(alice, type=DeviceType.SCC)
    dsc = issue(alice, type=DeviceType.DSC_PLUS, seed_hex=SEED, pin="4831")
    portal = alice.services.login.start("alice", PASSWORD, PORTAL)
    assert {d.type.value for d in portal.devices} == {"sms", "scc", "dsc_plus"}
    old = alice.services.login.start("alice", PASSWORD, ClientInfo("tws", 965))
    assert [d.device_id for d in old.devices] == [dsc.device.device_id]


def test_a_hundred_wrong_answers_an_hour_stop_every_device(aws, new_user):
    settings = Settings.from_environment().model_copy(update={"policy_overrides": {"user_failures_per_hour": 4}})
    world = build_services(settings, Clock())
    world.users.create(new_user(), actor="tester")
    cards = [world.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), actor="cs") for _ in range(2)]
    for card in cards:
        for _ in range(2):
            started = world.login.start("alice", PASSWORD, PORTAL)
            world.login.challenge(started.login_id, card.device.device_id, None)
            with pytest.raises(Unauthenticated):
                world.login.verify(started.login_id, "ZZZZZZ")
    started = world.login.start("alice", PASSWORD, PORTAL)
    public = world.login.challenge(started.login_id, cards[0].device.device_id, None).public
    first, second = public["indices"]
    with pytest.raises(Throttled) as stopped:  # even the right answer
        world.login.verify(started.login_id, cards[0].card[first] + cards[0].card[second])
    assert stopped.value.code == "too_many_attempts"
