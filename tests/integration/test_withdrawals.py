"""Withdrawal limits by confirming device, and the Secure Login setting."""
from __future__ import annotations

import re
import threading

import pytest

from securelogin.crypto.ocra import ocra
from securelogin.domain.models import DeviceType, SlsMode
from securelogin.errors import Forbidden, Gone, InvalidInput
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"


@pytest.fixture
def rich(world_over_http, new_user):
    world_over_http.services.users.create(new_user(balance_usd=5_000_000), actor="tester")
    return world_over_http


def by_type(world, type_):
    return next(d for d in world.services.users.profile("alice")[1] if d.type == type_)


def card_answer(public):
    return ocra(SUITE, bytes.fromhex(SEED), public["challenge_code"], pin="4831")


def withdraw_with_card(world, amount, device_id):
    started = world.services.withdrawals.create("alice", amount)
    public = world.services.withdrawals.challenge("alice", started.withdrawal_id, device_id, None).public
    return world.services.withdrawals.verify("alice", started.withdrawal_id, card_answer(public))


def last_sms_code(world):
    return re.findall(r"\d{6}", world.sent("sms")[-1]["body"])[0]


def test_the_confirming_device_sets_the_limit(rich):
    card = rich.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                       pin="4831"), "cs")
    sms = by_type(rich, DeviceType.SMS)
    started = rich.services.withdrawals.create("alice", 250_000)
    assert started.eligible_device_ids == [card.device.device_id]
    with pytest.raises(Forbidden) as low:
        rich.services.withdrawals.challenge("alice", started.withdrawal_id, sms.device_id, None)
    assert low.value.code == "device_limit_too_low"
    public = rich.services.withdrawals.challenge("alice", started.withdrawal_id, card.device.device_id, None).public
    left = rich.services.withdrawals.verify("alice", started.withdrawal_id, card_answer(public))
    assert left.today is None and rich.services.withdrawals.status("alice", started.withdrawal_id) == "authorized"


def test_every_device_counts_toward_the_day_and_the_window(rich):
    sms = by_type(rich, DeviceType.SMS)
    started = rich.services.withdrawals.create("alice", 150_000)
    rich.services.withdrawals.challenge("alice", started.withdrawal_id, sms.device_id, None)
    left = rich.services.withdrawals.verify("alice", started.withdrawal_id, last_sms_code(rich))
    assert (left.today, left.five_business_days) == (50_000, 450_000)
    with pytest.raises(Forbidden) as over:
        rich.services.withdrawals.create("alice", 60_000)
    assert over.value.code == "limit_exceeded" and over.value.extra["available_today"] == 50_000
    rich.clock.advance(86_400)  # tomorrow, the day is fresh but the window remembers
    limits = rich.services.withdrawals.limits(*rich.services.users.profile("alice"))["sms"]
    # tomorrow's window always reaches back over today
    assert limits["remaining_today"] == 200_000 and limits["remaining_five_business_days"] == 450_000


def test_a_withdrawal_belongs_to_its_user(rich, new_user):
    rich.services.users.create(new_user("bob", phones=["+15550002222"]), actor="tester")
    started = rich.services.withdrawals.create("alice", 100)
    with pytest.raises(Gone) as foreign:
        rich.services.withdrawals.challenge("bob", started.withdrawal_id, by_type(rich, DeviceType.SMS).device_id, None)
    assert foreign.value.code == "withdrawal_expired"


def test_two_parallel_withdrawals_can_never_overdraw(world_over_http, new_user):
    world = world_over_http
    world.services.users.create(new_user(balance_usd=5_000_000), actor="tester")
    dsc = world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC, seed_hex=SEED, pin="4831",
                                                                       legacy_import=True), "cs")  # 1,000,000 a day
    answers = []
    for _ in range(2):
        started = world.services.withdrawals.create("alice", 600_000)
        public = world.services.withdrawals.challenge("alice", started.withdrawal_id, dsc.device.device_id,
                                                      None).public
        answers.append((started.withdrawal_id, card_answer(public)))
    outcomes: list[object] = []
    gate = threading.Barrier(2)

    def verify(withdrawal_id, response):
        gate.wait()
        try:
            outcomes.append(world.services.withdrawals.verify("alice", withdrawal_id, response))
        except Forbidden as refused:
            outcomes.append(refused)

    threads = [threading.Thread(target=verify, args=pair) for pair in answers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    refused = [o for o in outcomes if isinstance(o, Forbidden)]
    assert len(outcomes) == 2 and len(refused) == 1 and refused[0].code == "limit_exceeded"
    assert sorted(world.services.withdrawals.status("alice", w) for w, _ in answers) == ["authorized", "pending"]


def test_a_fee_reserve_lowers_what_can_be_withdrawn(rich):
    old = rich.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                      pin="4831"), "cs")
    rich.services.user_devices.request_dsc_plus("alice", "5902", "broken")
    limits = rich.services.withdrawals.limits(*rich.services.users.profile("alice"))
    assert limits["sms"]["remaining_today"] == 200_000 - 20
    rich.services.user_devices.return_device("alice", old.device.device_id)
    assert rich.services.withdrawals.limits(*rich.services.users.profile("alice"))["sms"]["remaining_today"] == 200_000


# ------------------------------------------------------------------ the Secure Login setting

def test_only_the_primary_user_changes_the_mode(world, new_user):
    world.services.users.create(new_user("alice"), actor="tester")
    world.services.users.create(new_user("bob", phones=["+15550002222"], primary=False), actor="tester")
    seen = world.services.sls_mode.view("bob")
    assert (seen.can_change, seen.primary_username) == (False, "alice")
    with pytest.raises(Forbidden) as refused:
        world.services.sls_mode.change("bob", SlsMode.OPTED_OUT, True)
    assert refused.value.code == "not_primary_user" and refused.value.extra["primary_username"] == "alice"


def test_opting_out_and_back_in(rich):
    with pytest.raises(InvalidInput):
        rich.services.sls_mode.change("alice", SlsMode.OPTED_OUT, False)
    out = rich.services.sls_mode.change("alice", SlsMode.OPTED_OUT, True)
    assert out.restrictions == ["no_pink_sheet_otcbb"]
    started = rich.services.login.start("alice", PASSWORD, ClientInfo("portal"))
    assert started.trading_session.session.scope.value == "trading" and started.login_id
    assert rich.services.sessions.authorize(started.trading_session.token).scope.value == "trading"
    back = rich.services.sls_mode.change("alice", SlsMode.ALWAYS, False)
    assert back.restrictions == []
    assert rich.services.login.start("alice", PASSWORD, ClientInfo("portal")).trading_session is None


@pytest.mark.parametrize("jurisdiction", ["HK", "IN"])
def test_some_regulators_do_not_allow_opting_out(world, new_user, jurisdiction):
    world.services.users.create(new_user(jurisdiction=jurisdiction), actor="tester")
    with pytest.raises(Forbidden) as refused:
        world.services.sls_mode.change("alice", SlsMode.OPTED_OUT, True)
    assert refused.value.code == "opt_out_not_allowed"
