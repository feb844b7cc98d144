"""The flow engine over the fakes: an answer is taken from every limit before it is
checked, wrong answers lock the device (each lock twice as long), the user's cap holds
across flows, and a flow's id means nothing under another purpose."""
from __future__ import annotations

import re

import pytest
from fakes import CODE_KEY, FakeServices, fake_services, transaction

from securelogin.crypto.codes import lookup_key
from securelogin.crypto.ocra import ocra
from securelogin.domain.factors import FactorRegistry
from securelogin.domain.factors.code_card import CARD_ALPHABET, new_card
from securelogin.domain.factors.ocra_card import CARD_SUITE, OcraFactor
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import DeviceStatus, DeviceType, FlowStatus, Method, Purpose
from securelogin.errors import Conflict, Gone, Locked, NotFound, Throttled, Unauthenticated, Unavailable
from securelogin.policy import Policy
from securelogin.ports import StaleWrite
from securelogin.services.flows import GONE_CODES, FlowEngine
from securelogin.services.notify import Notifier

SEED = "3132333435363738393031323334353637383930313233343536373839303132"
PIN = "4831"
WRONG = "00000000"
STATEMENT = "Log in to IBKR as alice from portal (203.0.113.7, Firefox on macOS)"


def right(public: dict) -> str:
    return ocra(CARD_SUITE, bytes.fromhex(SEED), public["challenge_code"], pin=PIN)


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice"))


@pytest.fixture
def card(world):
    return world.add_ocra_card("alice", SEED, PIN)


def challenged(world, card, engine: FlowEngine | None = None) -> tuple[str, dict]:
    """A login flow of alice's, challenged on the card: its id and what the card is shown."""
    engine = engine or world.flows
    flow_id, flow = engine.start(Purpose.LOGIN, "alice", world.policy.login_ttl, STATEMENT,
                                 device_ids=[card.device_id])
    return flow_id, engine.challenge(flow, card.device_id, None).public


def answer(world, flow_id: str, response: str, engine: FlowEngine | None = None):
    engine = engine or world.flows
    return engine.answer(engine.open(Purpose.LOGIN, flow_id), response)


def complete(world, right_answer) -> None:
    """What a service does with a right answer: completes its flow in a write of its own."""
    with transaction(right_answer.flow.key) as tx:
        world.flows.completing(right_answer)(tx)


def stored_flow(world, flow_id: str):
    return world.stores.flows.get(Purpose.LOGIN, lookup_key(flow_id))


# ------------------------------------------------------------------ counted, then checked

class WatchingFactor:
    """The card's factor, noting what the table held each time it was asked to check."""

    def __init__(self, world: FakeServices, card) -> None:
        self._inner = OcraFactor(DeviceType.DSC_PLUS, world.policy, world.device_secrets.open)
        self._world, self._card = world, card
        self.device_type, self.methods = self._inner.device_type, self._inner.methods
        self.seen: list[tuple[int, int]] = []  # (the flow's attempts, alice's slots in use)

    def issue(self, device, method, context):
        return self._inner.issue(device, method, context)

    def check(self, device, challenge, response, context):
        table = self._world.table
        flow = next(f for f in table.flows.values() if f.key == context.transaction_key)
        self.seen.append((flow.attempts, len(table.answer_slots["alice"])))
        return self._inner.check(device, challenge, response, context)


def test_an_answer_is_counted_before_it_is_checked(world, card):
    watching = WatchingFactor(world, card)
    engine = FlowEngine(world.stores.devices, world.stores.flows, world.stores.throttles, FactorRegistry([watching]),
                        world.sender, lambda: CODE_KEY, world.audit,
                        Notifier(world.stores.outbox, world.stores.users, world.clock, world.policy),
                        world.clock, world.policy)
    flow_id, public = challenged(world, card, engine)

    with pytest.raises(Unauthenticated):
        answer(world, flow_id, WRONG, engine)
    assert watching.seen == [(1, 1)]  # the attempt and the slot were taken before the check
    assert world.table.devices[("alice", card.device_id)].consecutive_failures == 1

    got = answer(world, flow_id, right(public), engine)
    assert watching.seen == [(1, 1), (2, 2)] and got.reservation.attempts == 2
    complete(world, got)
    assert len(world.table.answer_slots["alice"]) == 1  # the right answer gave its slot back; the wrong one keeps its
    assert world.table.devices[("alice", card.device_id)].consecutive_failures == 0
    assert stored_flow(world, flow_id).status == FlowStatus.APPROVED


def test_an_answer_that_cannot_be_counted_is_never_checked(world, card):
    watching = WatchingFactor(world, card)
    engine = FlowEngine(world.stores.devices, world.stores.flows, world.stores.throttles, FactorRegistry([watching]),
                        world.sender, lambda: CODE_KEY, world.audit,
                        Notifier(world.stores.outbox, world.stores.users, world.clock, world.policy),
                        world.clock, world.policy)
    flow_id, public = challenged(world, card, engine)
    world.stores.devices.set_status(card, DeviceStatus.LOST, (DeviceStatus.ACTIVE,))  # after the challenge
    with pytest.raises(NotFound):  # the device changed since it was challenged: read again, and refused
        answer(world, flow_id, right(public), engine)
    assert watching.seen == []
    assert stored_flow(world, flow_id).attempts == 0


def test_a_flow_takes_its_attempts_then_is_spent(world, card):
    flow_id, public = challenged(world, card)
    lefts = []
    for _ in range(world.policy.attempts_per_transaction):
        with pytest.raises(Unauthenticated) as wrong:
            answer(world, flow_id, WRONG)
        lefts.append(wrong.value.extra["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    with pytest.raises(Throttled) as spent:
        answer(world, flow_id, right(public))
    assert spent.value.code == "too_many_attempts"
    assert [e.type for e in world.audit.newest_first("alice")].count("login.answer_failed") == 5


# ------------------------------------------------------------------ the device's lock

def wrong_answers(world, card, count: int) -> list[Exception]:
    """``count`` wrong answers from the card, over as many flows as its attempts need."""
    refusals: list[Exception] = []
    while len(refusals) < count:
        flow_id, _ = challenged(world, card)
        for _ in range(min(world.policy.attempts_per_transaction, count - len(refusals))):
            with pytest.raises((Unauthenticated, Locked)) as refused:
                answer(world, flow_id, WRONG)
            refusals.append(refused.value)
    return refusals


def test_wrong_answers_lock_the_device_at_the_policy_count_and_each_lock_doubles(world, card):
    lock_after, first_lock = world.policy.device_lock_after, world.policy.device_lock_duration
    refusals = wrong_answers(world, card, lock_after)
    assert [type(r) for r in refusals] == [Unauthenticated] * (lock_after - 1) + [Locked]
    assert refusals[-1].extra["retry_after_seconds"] == first_lock.total_seconds()
    with pytest.raises(Locked):
        challenged(world, card)  # a locked device is not challenged

    world.clock.advance(first_lock.total_seconds())
    refusals = wrong_answers(world, card, lock_after)
    assert isinstance(refusals[-1], Locked) and not any(isinstance(r, Locked) for r in refusals[:-1])
    assert refusals[-1].extra["retry_after_seconds"] == 2 * first_lock.total_seconds()
    assert [e.type for e in world.audit.newest_first("alice")].count("device.locked") == 2


def test_right_answers_in_between_start_the_count_again(world, card):
    wrong_answers(world, card, world.policy.device_lock_after - 1)
    flow_id, public = challenged(world, card)
    complete(world, answer(world, flow_id, right(public)))
    refusals = wrong_answers(world, card, world.policy.device_lock_after - 1)
    assert not any(isinstance(r, Locked) for r in refusals)


# ------------------------------------------------------------------ the user's cap, across flows

@pytest.fixture
def capped(new_user) -> FakeServices:
    """alice, with a cap of three answers per window (the policy says 100)."""
    return fake_services(policy=Policy().with_overrides({"user_failures_per_hour": 3})).with_users(new_user("alice"))


def test_the_cap_on_answers_holds_across_flows_over_any_window(capped):
    card = capped.add_ocra_card("alice", SEED, PIN)
    first, _ = challenged(capped, card)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            answer(capped, first, WRONG)
    capped.clock.advance(30 * 60)
    second, _ = challenged(capped, card)
    with pytest.raises(Unauthenticated):
        answer(capped, second, WRONG)
    capped.clock.advance(29 * 60)
    third, public = challenged(capped, card)
    with pytest.raises(Throttled) as full:
        answer(capped, third, right(public))  # even a right answer waits
    assert full.value.code == "too_many_attempts" and 0 < full.value.extra["retry_after_seconds"] <= 60
    assert stored_flow(capped, third).attempts == 0  # refused before anything was taken
    capped.clock.advance(61)  # the two slots of the first flow are free again
    complete(capped, answer(capped, third, right(public)))


def test_right_answers_give_their_slot_back(capped):
    card = capped.add_ocra_card("alice", SEED, PIN)
    for _ in range(2 * capped.policy.user_failures_per_hour):
        flow_id, public = challenged(capped, card)
        complete(capped, answer(capped, flow_id, right(public)))


# ------------------------------------------------------------------ ids and versions

def test_an_id_of_one_purpose_is_unknown_under_another(world, card):
    flow_id, public = challenged(world, card)
    for purpose in Purpose:
        if purpose == Purpose.LOGIN:
            continue
        with pytest.raises(Gone) as unknown:
            world.flows.open(purpose, flow_id)
        assert unknown.value.code == GONE_CODES[purpose]
        assert world.flows.find(purpose, flow_id) is None
    with pytest.raises(Gone):
        world.flows.open(Purpose.LOGIN, flow_id, owner="bob")
    complete(world, answer(world, flow_id, right(public)))  # still its own flow's


def test_an_answer_counts_only_against_the_challenge_it_was_given_for(world, card):
    flow_id, public = challenged(world, card)
    read_before = world.flows.open(Purpose.LOGIN, flow_id)
    world.flows.challenge(read_before, card.device_id, None)  # a new challenge, a new version
    with pytest.raises(Conflict):
        world.flows.challenge(read_before, card.device_id, None)
    with pytest.raises(Gone):
        world.flows.answer(read_before, right(public))
    assert stored_flow(world, flow_id).attempts == 0


def test_a_message_that_was_not_sent_gives_its_turn_back(world):
    sms = next(d for d in world.stores.users.partition("alice").devices if d.type == DeviceType.SMS)
    flow_id, _ = world.flows.start(Purpose.LOGIN, "alice", world.policy.login_ttl, STATEMENT,
                                   device_ids=[sms.device_id])
    world.sender.failing = True
    with pytest.raises(Unavailable):
        world.flows.challenge(world.flows.open(Purpose.LOGIN, flow_id), sms.device_id, None)
    world.sender.failing = False
    world.flows.challenge(world.flows.open(Purpose.LOGIN, flow_id), sms.device_id, None)
    with pytest.raises(Throttled) as again:
        world.flows.challenge(world.flows.open(Purpose.LOGIN, flow_id), sms.device_id, None)
    assert again.value.extra["retry_after_seconds"] == world.policy.resend_interval.total_seconds()
    code = re.findall(r"\d{6}", world.sender.last("sms").body)[0]
    complete(world, answer(world, flow_id, code))


# ------------------------------------------------------------------ challenges issued, across flows

def test_challenges_issued_are_capped_across_flows_devices_and_methods(world, card):
    sms = next(d for d in world.stores.users.partition("alice").devices if d.type == DeviceType.SMS)
    start = world.clock.now()
    login_id, _ = challenged(world, card)
    issued = 1
    for purpose in (Purpose.LOGIN, Purpose.WITHDRAWAL):  # an SMS each (one wait per purpose)
        world.clock.advance(10)
        _, flow = world.flows.start(purpose, "alice", world.policy.login_ttl, STATEMENT, device_ids=[sms.device_id])
        world.flows.challenge(flow, sms.device_id, None)
        issued += 1
    world.clock.advance(10)
    world.flows.start_challenged(Purpose.PIN_CHANGE, "alice", world.policy.challenge_ttl, card, "Change a PIN",
                                 Method.CHALLENGE_RESPONSE)
    issued += 1
    while issued < world.policy.challenges_per_window:
        world.clock.advance(10)
        if issued % 2:  # the same challenge asked again counts too
            world.flows.challenge(world.flows.open(Purpose.LOGIN, login_id), card.device_id, None)
        else:
            challenged(world, card)
        issued += 1
    sent = len(world.sender.sent)
    blocked = world.flows.open(Purpose.LOGIN, login_id)
    refusals = []
    for ask in (lambda: world.flows.challenge(blocked, card.device_id, None),
                lambda: challenged(world, card),
                lambda: world.flows.start_with_code(Purpose.ACTIVATION, "alice", world.policy.activation_ttl,
                                                    "+15550001111", 8, "Activate IB Key for alice")):
        with pytest.raises(Throttled) as refused:
            ask()
        refusals.append(refused.value)
    assert {r.code for r in refusals} == {"too_many_challenges"}
    assert {r.extra["retry_after_seconds"] for r in refusals} == {
        (start + world.policy.challenge_window - world.clock.now()).total_seconds()}
    assert len(world.sender.sent) == sent and stored_flow(world, login_id).version == blocked.version
    assert "activation" not in world.stores.throttles.guard("alice").sent  # no resend wait was taken

    world.clock.advance((start + world.policy.challenge_window - world.clock.now()).total_seconds())
    challenged(world, card)  # the first left the window: one place
    with pytest.raises(Throttled):
        challenged(world, card)


# ------------------------------------------------------------------ a code card's open pair

CARD_VALUES = new_card(60, CARD_ALPHABET)


@pytest.fixture
def scc(world):
    return world.add_device("alice", DeviceType.SCC, DeviceSecret(card=CARD_VALUES))


def card_answer(public: dict) -> str:
    first, second = public["indices"]
    return CARD_VALUES[first] + CARD_VALUES[second]


def open_pair(world, device) -> str | None:
    return world.stores.devices.get("alice", device.device_id).open_pair


def test_a_code_card_asks_its_open_pair_in_every_flow_until_it_is_answered_right(world, scc):
    login_id, first = challenged(world, scc)
    pair = open_pair(world, scc)
    assert pair is not None and pair.startswith(",".join(first["indices"]) + "@")
    _, withdrawal = world.flows.start(Purpose.WITHDRAWAL, "alice", world.policy.login_ttl, STATEMENT,
                                      device_ids=[scc.device_id])
    assert world.flows.challenge(withdrawal, scc.device_id, None).public["indices"] == first["indices"]
    again = world.flows.challenge(world.flows.open(Purpose.LOGIN, login_id), scc.device_id, None).public
    assert again["indices"] == first["indices"]
    with pytest.raises(Unauthenticated):
        answer(world, login_id, "AAAAAA")
    assert open_pair(world, scc) == pair  # a wrong answer keeps the pair
    assert challenged(world, scc)[1]["indices"] == first["indices"]

    complete(world, answer(world, login_id, card_answer(first)))
    assert open_pair(world, scc) is None  # answered right: the next challenge draws anew
    world.clock.advance(1)
    _, fresh = challenged(world, scc)
    assert open_pair(world, scc).endswith(f"@{int(world.clock.now().timestamp())}")
    assert open_pair(world, scc).startswith(",".join(fresh["indices"]) + "@")


def test_a_right_answer_to_an_old_pair_never_closes_the_cards_current_one(world, scc):
    """Two logins asked the same open pair; the first answered it right, and the card drew a
    new pair for the next challenge. Answering the second login with the old pair's values
    must not close the new pair (else one known pair would discard every pair drawn after
    it): that answer is refused, and the new pair stays open."""
    first_id, first = challenged(world, scc)
    second_id, second = challenged(world, scc)
    assert second["indices"] == first["indices"]
    complete(world, answer(world, first_id, card_answer(first)))
    challenged(world, scc)  # the card draws a new pair
    current = open_pair(world, scc)
    assert current is not None
    with pytest.raises(StaleWrite):
        complete(world, answer(world, second_id, card_answer(second)))
    assert open_pair(world, scc) == current


def test_right_answers_to_one_open_pair_all_count_until_another_is_drawn(world, scc):
    """Withdrawals asked one pair, answered together: each answer is right, the first closes
    the pair, and the others still complete (nothing new was drawn meanwhile)."""
    asked = [challenged(world, scc) for _ in range(3)]
    for login_id, shown in asked:
        complete(world, answer(world, login_id, card_answer(shown)))
    assert open_pair(world, scc) is None


def test_an_open_pair_is_drawn_anew_after_a_day(world, scc):
    _, first = challenged(world, scc)
    pair = open_pair(world, scc)
    world.clock.advance(world.policy.index_pair_lifetime.total_seconds() - 1)
    assert challenged(world, scc)[1]["indices"] == first["indices"] and open_pair(world, scc) == pair
    world.clock.advance(1)
    challenged(world, scc)
    assert open_pair(world, scc) != pair and open_pair(world, scc).endswith(
        f"@{int(world.clock.now().timestamp())}")


def test_of_two_challenges_racing_for_a_card_one_draws_and_the_other_asks_its_pair(world, scc, monkeypatch):
    devices = world.stores.devices
    opening = devices.opening_pair
    raced: list[dict] = []

    def racing(device, value):
        if not raced:  # another flow's challenge draws and writes its pair first
            raced.append({})
            raced[0] = challenged(world, scc)[1]
        return opening(device, value)

    monkeypatch.setattr(devices, "opening_pair", racing)
    _, mine = challenged(world, scc)
    assert mine["indices"] == raced[0]["indices"]
    assert open_pair(world, scc).startswith(",".join(raced[0]["indices"]) + "@")
    assert len(world.stores.throttles.guard("alice").issued) == 2  # both counted, once each


def test_a_challenge_whose_send_guard_moved_reads_it_again(world, card, monkeypatch):
    throttles = world.stores.throttles
    writes = throttles.guard_writes
    raced: list[str] = []

    def racing(username, read, now, changed):
        if not raced:  # another flow's challenge is issued meanwhile
            raced.append("")
            raced[0] = challenged(world, card)[0]
        return writes(username, read, now, changed)

    monkeypatch.setattr(throttles, "guard_writes", racing)
    flow_id, public = challenged(world, card)
    assert len(throttles.guard("alice").issued) == 2
    assert throttles.guard("alice").version == 2
    complete(world, answer(world, flow_id, right(public)))


def test_a_right_answer_whose_completion_fails_gives_back_its_attempt_and_slot(world, card):
    """AWS failing while a right answer completes (a 503): the attempt and the slot of the cap
    it took come back, so sending the same answer again completes the flow."""
    login_id, public = challenged(world, card)
    before = stored_flow(world, login_id).attempts
    right_answer = answer(world, login_id, right(public))
    assert stored_flow(world, login_id).attempts == before + 1
    with pytest.raises(ConnectionError), world.flows.settling(right_answer):
        raise ConnectionError("the database did not answer")
    assert stored_flow(world, login_id).attempts == before
    assert world.table.answer_slots["alice"] == {}
    complete(world, answer(world, login_id, right(public)))
    assert stored_flow(world, login_id).status == FlowStatus.APPROVED


def test_a_refusal_or_a_lost_race_while_completing_keeps_what_the_answer_took(world, card):
    login_id, public = challenged(world, card)
    right_answer = answer(world, login_id, right(public))
    taken = stored_flow(world, login_id).attempts
    with pytest.raises(Conflict), world.flows.settling(right_answer):
        raise Conflict("device_changed", "a refusal of the service's own")
    assert stored_flow(world, login_id).attempts == taken


def test_a_right_answer_stranded_by_an_outage_reuses_what_it_took_when_sent_again(world, card):
    """AWS failed after the answer was counted and also when it was to be given back: the
    attempt stays taken. The same answer sent again takes no second attempt (else five such
    outages would spend the flow), while a wrong answer sent again is counted again."""
    login_id, public = challenged(world, card)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            answer(world, login_id, WRONG)
    assert stored_flow(world, login_id).attempts == 2  # the same wrong answer, counted twice
    for _ in range(world.policy.attempts_per_transaction):
        answer(world, login_id, right(public))  # counted once; its completion never happens
    assert stored_flow(world, login_id).attempts == 3
    with pytest.raises(Unauthenticated):
        answer(world, login_id, "11111111")
    with pytest.raises(Unauthenticated):
        answer(world, login_id, "22222222")
    assert stored_flow(world, login_id).attempts == 5
    complete(world, answer(world, login_id, right(public)))  # all used, yet its own reservation stands
    assert stored_flow(world, login_id).status == FlowStatus.APPROVED
