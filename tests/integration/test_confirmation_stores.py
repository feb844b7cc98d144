"""The stores behind confirmations (issue 21) over moto: a push is answered once and a
withdrawn one never; the send guard and a code card's open pair are written only over what
was read; a right answer closes the card's pair; a step-up proves a stored session anew."""
from __future__ import annotations

from datetime import timedelta

import pytest

from securelogin.adapters.devices import DeviceStore
from securelogin.adapters.flows import FlowStore
from securelogin.adapters.sessions import SessionStore
from securelogin.adapters.throttles import ThrottleStore
from securelogin.domain.guards import PushesPaused, SendGuard, TooManyPushes, millis
from securelogin.domain.models import DeviceType, Purpose, Push, PushStatus, Scope
from securelogin.errors import Gone, Unauthenticated
from securelogin.ports import StaleWrite
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"


@pytest.fixture
def alice(world, new_user):
    world.services.users.create(new_user("alice"), actor="tester")
    return world


def written(*writes) -> None:
    """``writes`` in one transaction, as the services run them."""
    FlowStore().run("test", *writes)


def device_of(world, device_id):
    return DeviceStore().get("alice", device_id)


# ------------------------------------------------------------------ PushItem

def a_push(world, key: str, seconds: int = 120) -> Push:
    return Push(key=key, username="alice", holder="alice", device_id="dev_1", purpose=Purpose.LOGIN,
                flow_key="flow-1", nonce="nonce-1", statement="Log in to IBKR as alice from portal",
                number_digest="digest-1", expires_at=world.clock.now() + timedelta(seconds=seconds))


def test_a_push_is_stored_once_with_what_its_answer_is_checked_against(alice):
    flows, push = FlowStore(), a_push(alice, "push-1")
    assert flows.push(push.key) is None
    written(flows.pushing(push))
    assert flows.push(push.key) == push  # pending: neither answered nor withdrawn
    assert flows.push(push.key).status_at(alice.clock.now()) == PushStatus.PENDING
    with pytest.raises(StaleWrite):  # a push key is never issued twice
        written(flows.pushing(a_push(alice, "push-1", seconds=60)))
    assert flows.push(push.key) == push


def test_a_push_takes_one_answer_and_stays_answered(alice):
    flows, push = FlowStore(), a_push(alice, "push-2")
    written(flows.pushing(push))
    now = alice.clock.now()
    written(flows.answering(push, now))
    stored = flows.push(push.key)
    assert stored.answered_at == now and stored.status_at(now) == PushStatus.ANSWERED
    alice.clock.advance(5)
    with pytest.raises(StaleWrite):  # a second answer (a replay, a racing approval)
        written(flows.answering(push, alice.clock.now()))
    written(flows.withdrawing(push.key, alice.clock.now()))  # its flow moving on later changes nothing
    stored = flows.push(push.key)
    assert stored.answered_at == now and stored.status_at(alice.clock.now()) == PushStatus.ANSWERED


def test_a_withdrawn_push_takes_no_answer(alice):
    flows, push = FlowStore(), a_push(alice, "push-3")
    written(flows.pushing(push))
    now = alice.clock.now()
    written(flows.withdrawing(push.key, now))
    assert flows.push(push.key).status_at(now) == PushStatus.WITHDRAWN
    with pytest.raises(StaleWrite):
        written(flows.answering(push, now))
    assert flows.push(push.key).answered_at is None
    with pytest.raises(StaleWrite):  # only a push that was sent can be withdrawn
        written(flows.withdrawing("never-sent", now))
    assert flows.push("never-sent") is None


def test_an_answer_whose_transaction_fails_leaves_the_push_pending(alice):
    flows, push, other = FlowStore(), a_push(alice, "push-4"), a_push(alice, "push-5")
    written(flows.pushing(push), flows.pushing(other))
    with pytest.raises(StaleWrite):  # the answer goes with a write that fails: neither happens
        written(flows.answering(push, alice.clock.now()), flows.pushing(other))
    assert flows.push(push.key).status_at(alice.clock.now()) == PushStatus.PENDING
    alice.clock.advance(120)
    assert flows.push(push.key).status_at(alice.clock.now()) == PushStatus.EXPIRED


# ------------------------------------------------------------------ SendGuardItem

def test_the_send_guard_is_written_only_over_the_version_read(alice):
    throttles, policy, now = ThrottleStore(), alice.services.policy, alice.clock.now()
    never = throttles.guard("alice")
    assert never == SendGuard()  # never written: version 0
    written(throttles.guard_writes("alice", never, now, never.take(now, policy, "push-a")))
    first = throttles.guard("alice")
    assert (first.version, first.issued, first.pushes) == (1, (millis(now),), {"push-a": millis(now)})
    with pytest.raises(StaleWrite):  # read before anyone wrote it: another writer made it meanwhile
        written(throttles.guard_writes("alice", never, now, never.take(now, policy)))
    written(throttles.guard_writes("alice", first, now, first.take(now, policy, "push-b")))
    with pytest.raises(StaleWrite):  # version 1 was read, version 2 is stored
        written(throttles.guard_writes("alice", first, now, first.take(now, policy, "push-c")))
    second = throttles.guard("alice")
    assert second.version == 2 and set(second.pushes) == {"push-a", "push-b"} and len(second.issued) == 2


def test_an_approval_frees_its_place_and_moves_the_guard_on(alice):
    throttles, policy, now = ThrottleStore(), alice.services.policy, alice.clock.now()
    guard = throttles.guard("alice")
    for n in range(policy.pushes_per_window):
        written(throttles.guard_writes("alice", guard, now, guard.take(now, policy, f"push-{n}")))
        guard = throttles.guard("alice")
    with pytest.raises(TooManyPushes):
        guard.take(now, policy, "push-more")
    written(throttles.push_approved_writes("alice", "push-0"))
    freed = throttles.guard("alice")
    assert set(freed.pushes) == {f"push-{n}" for n in range(1, policy.pushes_per_window)}
    assert freed.version == guard.version + 1
    with pytest.raises(StaleWrite):  # whoever read the full guard must read it again
        written(throttles.guard_writes("alice", guard, now, guard.take(now, policy)))
    written(throttles.guard_writes("alice", freed, now, freed.take(now, policy, "push-more")))
    with pytest.raises(StaleWrite):  # an approval needs a guard to give its place back to
        written(throttles.push_approved_writes("nobody", "push-0"))


def test_a_pause_of_pushes_is_kept_with_the_guard(alice):
    throttles, policy, now = ThrottleStore(), alice.services.policy, alice.clock.now()
    for _ in range(policy.push_denials_to_pause):
        guard = throttles.guard("alice")
        changed, pausing = guard.deny(now, policy)
        written(throttles.guard_writes("alice", guard, now, changed))
    assert pausing
    paused = throttles.guard("alice")
    assert paused.paused_until == now + policy.push_pause and len(paused.denials) == policy.push_denials_to_pause
    with pytest.raises(PushesPaused):
        paused.take(now, policy, "push-x")
    paused.take(now, policy)  # other challenges still go


# ------------------------------------------------------------------ a code card's open pair

def test_a_cards_pair_opens_only_over_the_pair_read(alice):
    devices = DeviceStore()
    card = alice.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs").device
    read = device_of(alice, card.device_id)
    assert read.open_pair is None
    written(devices.opening_pair(read, "101,202@1000"))
    assert device_of(alice, card.device_id).open_pair == "101,202@1000"
    with pytest.raises(StaleWrite):  # read while it had none: another challenge drew first
        written(devices.opening_pair(read, "303,404@1001"))
    opened = device_of(alice, card.device_id)
    assert opened.open_pair == "101,202@1000"
    written(devices.opening_pair(opened, "505,606@2000"))  # over the pair read (a day later, say)
    with pytest.raises(StaleWrite):
        written(devices.opening_pair(opened, "707,808@2001"))
    assert device_of(alice, card.device_id).open_pair == "505,606@2000"


def card_challenge(world, device_id):
    login_id = world.services.login.start("alice", PASSWORD, ClientInfo("portal")).login_id
    return login_id, world.services.login.challenge(login_id, device_id, None).public["indices"]


def test_a_right_answer_closes_the_open_pair_and_a_wrong_one_keeps_it(alice):
    issued = alice.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs")
    card_id, values = issued.device.device_id, issued.card
    login_id, (first, second) = card_challenge(alice, card_id)
    opened = device_of(alice, card_id).open_pair
    assert opened.startswith(f"{first},{second}@")
    with pytest.raises(Unauthenticated):
        alice.services.login.verify(login_id, "ZZZZZZ")
    assert device_of(alice, card_id).open_pair == opened
    alice.clock.advance(60)
    again_id, asked = card_challenge(alice, card_id)  # another login asks the same pair
    assert asked == [first, second] and device_of(alice, card_id).open_pair == opened
    alice.services.login.verify(again_id, values[first] + values[second])
    assert device_of(alice, card_id).open_pair is None
    alice.clock.advance(60)
    _, (first, second) = card_challenge(alice, card_id)  # the next challenge draws anew
    reopened = device_of(alice, card_id).open_pair
    assert reopened != opened and reopened.startswith(f"{first},{second}@")


def test_a_right_answer_to_an_old_pair_leaves_the_cards_new_pair_open(alice):
    """One known pair must not discard the pairs drawn after it: once the card asks a new
    pair, a login still showing the old one cannot complete, and the new pair stays."""
    issued = alice.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs")
    card_id, values = issued.device.device_id, issued.card
    first_id, (a, b) = card_challenge(alice, card_id)
    second_id, asked = card_challenge(alice, card_id)
    assert asked == [a, b]
    alice.services.login.verify(first_id, values[a] + values[b])
    card_challenge(alice, card_id)  # the card draws its next pair
    current = device_of(alice, card_id).open_pair
    with pytest.raises(Gone):
        alice.services.login.verify(second_id, values[a] + values[b])
    assert device_of(alice, card_id).open_pair == current


def test_an_open_pair_is_drawn_again_after_a_day(alice):
    issued = alice.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs")
    card_id = issued.device.device_id
    card_challenge(alice, card_id)
    opened = device_of(alice, card_id).open_pair
    alice.clock.advance(24 * 3600 - 60)
    card_challenge(alice, card_id)
    assert device_of(alice, card_id).open_pair == opened
    alice.clock.advance(61)
    before = int(alice.clock.now().timestamp())
    _, (first, second) = card_challenge(alice, card_id)
    drawn = device_of(alice, card_id).open_pair
    pair, _, at = drawn.partition("@")
    assert drawn != opened and pair == f"{first},{second}"
    assert before <= int(at) <= int(alice.clock.now().timestamp())  # drawn now, not a day ago


# ------------------------------------------------------------------ a step-up proves a session anew

def test_proving_a_session_records_when_and_with_what_and_nothing_else(alice):
    sessions = SessionStore()
    sms = next(d for d in alice.services.users.profile("alice")[1] if d.type == DeviceType.SMS)
    granted = alice.services.sessions.new("alice", Scope.FULL, sms, "tws")
    sessions.put(granted.session)
    opened = sessions.get(granted.session.key)
    assert (opened.proved_at, opened.proved_with) == (granted.session.created_at, DeviceType.SMS)
    later = alice.clock.now() + timedelta(minutes=7)
    written(sessions.proving(granted.session.key, later, DeviceType.DSC_PLUS))
    proved = sessions.get(granted.session.key)
    assert (proved.proved_at, proved.proved_with) == (later, DeviceType.DSC_PLUS)
    assert (proved.username, proved.scope, proved.created_at, proved.expires_at, proved.device_id,
            proved.platform) == (opened.username, opened.scope, opened.created_at, opened.expires_at,
                                 opened.device_id, "tws")


def test_a_revoked_session_cannot_be_proved_back(alice):
    sessions = SessionStore()
    granted = alice.services.sessions.new("alice", Scope.FULL, None)
    sessions.put(granted.session)
    sessions.delete(granted.session.key)
    with pytest.raises(StaleWrite):
        written(sessions.proving(granted.session.key, alice.clock.now(), DeviceType.DSC_PLUS))
    assert sessions.get(granted.session.key) is None
