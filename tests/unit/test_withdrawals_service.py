"""Withdrawals over the fakes: the confirming device's limits decide, a withdrawal over
every limit is refused, a right answer refused by the limits is forgiven, and a
withdrawal that raced another is checked again against the new total."""
from __future__ import annotations

import re

import pytest
from fakes import FakeLedgerStore, FakeServices, fake_services

from securelogin.crypto.ocra import ocra
from securelogin.domain.factors.ocra_card import CARD_SUITE
from securelogin.domain.limits import Availability
from securelogin.domain.models import DeviceRequest, DeviceRequestStatus, DeviceType
from securelogin.errors import Forbidden, Gone, NotFound, Unauthenticated
from securelogin.ports import together
from securelogin.services.withdrawals import WithdrawalService

SEED = "3132333435363738393031323334353637383930313233343536373839303132"
PIN = "4831"


def right(public: dict) -> str:
    return ocra(CARD_SUITE, bytes.fromhex(SEED), public["challenge_code"], pin=PIN)


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice", balance_usd=5_000_000))


def sms_of(world, username: str = "alice"):
    return next(d for d in world.stores.users.partition(username).devices if d.type == DeviceType.SMS)


def today_total(world) -> float:
    today = world.clock.now().date()
    return world.stores.ledger.totals("alice", today, today).get(today, 0.0)


def events(world) -> list[str]:
    return [e.type for e in world.audit.newest_first("alice")]


def challenged(world, amount: float, device) -> tuple[str, dict]:
    started = world.withdrawals.create("alice", amount)
    return started.withdrawal_id, world.withdrawals.challenge("alice", started.withdrawal_id, device.device_id,
                                                              None).public


def test_the_confirming_devices_limits_decide_who_may_confirm(world):
    card = world.add_ocra_card("alice", SEED, PIN)  # a DSC+: no limit
    started = world.withdrawals.create("alice", 250_000)
    assert started.eligible_device_ids == [card.device_id]
    with pytest.raises(Forbidden) as too_low:
        world.withdrawals.challenge("alice", started.withdrawal_id, sms_of(world).device_id, None)
    assert too_low.value.code == "device_limit_too_low"
    public = world.withdrawals.challenge("alice", started.withdrawal_id, card.device_id, None).public
    assert world.withdrawals.verify("alice", started.withdrawal_id, right(public)) == Availability(None, None)
    assert world.withdrawals.status("alice", started.withdrawal_id) == "authorized"
    assert today_total(world) == 250_000


def test_a_withdrawal_over_every_devices_limit_is_refused(world):
    sms = sms_of(world)  # 200,000 a day, 600,000 in five business days
    withdrawal_id, _ = challenged(world, 150_000, sms)
    code = re.findall(r"\d{6}", world.sender.last("sms").body)[0]
    assert world.withdrawals.verify("alice", withdrawal_id, code) == Availability(50_000, 450_000)
    with pytest.raises(Forbidden) as over:
        world.withdrawals.create("alice", 60_000)
    assert over.value.code == "limit_exceeded"
    assert (over.value.extra["available_today"], over.value.extra["available_five_days"]) == (50_000, 450_000)
    world.clock.advance(86_400)  # a new day; the window still holds yesterday
    limits = world.withdrawals.limits(*world.users.profile("alice"))["sms"]
    assert (limits["remaining_today"], limits["remaining_five_business_days"]) == (200_000, 450_000)


def test_a_right_answer_refused_by_the_limits_is_forgiven(world):
    dsc = world.add_ocra_card("alice", SEED, PIN, DeviceType.DSC)  # 1,000,000 a day
    first, first_public = challenged(world, 600_000, dsc)
    second, second_public = challenged(world, 600_000, dsc)
    with pytest.raises(Unauthenticated):
        world.withdrawals.verify("alice", second, "00000000")
    world.withdrawals.verify("alice", first, right(first_public))
    with pytest.raises(Forbidden) as over:
        world.withdrawals.verify("alice", second, right(second_public))
    assert over.value.code == "limit_exceeded"
    assert world.table.devices[("alice", dsc.device_id)].consecutive_failures == 0  # the wrong one is forgotten too
    assert len(world.table.answer_slots["alice"]) == 1  # only the wrong answer keeps its slot
    assert events(world).count("withdrawal.answer_failed") == 1 and events(world).count("withdrawal.authorized") == 1
    assert world.withdrawals.status("alice", second) == "pending" and today_total(world) == 600_000


class RacingLedger(FakeLedgerStore):
    """Lets ``race`` (another withdrawal) be authorized just before this ledger's first write."""

    def __init__(self, table, race) -> None:
        super().__init__(table)
        self._race = race

    def authorize(self, *args, **kwargs) -> None:
        race, self._race = self._race, None
        if race is not None:
            race()
        super().authorize(*args, **kwargs)


def test_a_withdrawal_that_raced_another_is_checked_against_the_new_total(world):
    dsc = world.add_ocra_card("alice", SEED, PIN, DeviceType.DSC)
    first, first_public = challenged(world, 600_000, dsc)
    second, second_public = challenged(world, 600_000, dsc)
    ledger = RacingLedger(world.table, lambda: world.withdrawals.verify("alice", second, right(second_public)))
    racing = WithdrawalService(world.flows, world.stores.users, ledger, world.audit, world.clock, world.policy)
    with pytest.raises(Forbidden):
        racing.verify("alice", first, right(first_public))
    assert sorted(world.withdrawals.status("alice", w) for w in (first, second)) == ["authorized", "pending"]
    assert today_total(world) == 600_000 and events(world).count("withdrawal.authorized") == 1


def test_a_fee_held_back_lowers_what_can_be_withdrawn(world):
    card = world.add_ocra_card("alice", SEED, PIN)
    world.stores.requests.create(DeviceRequest("req-1", "alice", "broken", world.policy.dsc_plus_replacement_fee_usd,
                                               DeviceRequestStatus.REQUESTED, "sealed", world.clock.now(),
                                               replaces_device_id=card.device_id), together())
    assert world.withdrawals.limits(*world.users.profile("alice"))["sms"]["remaining_today"] == 200_000 - 20
    world.user_devices.return_device("alice", card.device_id)  # the card returned lets its fee go
    assert world.withdrawals.limits(*world.users.profile("alice"))["sms"]["remaining_today"] == 200_000


def test_a_withdrawal_belongs_to_its_user(world, new_user):
    world.users.create(new_user("bob", phones=["+15550002222"]), actor="tester")
    started = world.withdrawals.create("alice", 100)
    with pytest.raises(Gone) as foreign:
        world.withdrawals.challenge("bob", started.withdrawal_id, sms_of(world, "bob").device_id, None)
    assert foreign.value.code == "withdrawal_expired"
    with pytest.raises(NotFound):
        world.withdrawals.status("bob", started.withdrawal_id)
    assert world.withdrawals.status("alice", started.withdrawal_id) == "pending"
