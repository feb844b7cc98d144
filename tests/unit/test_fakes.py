"""What the service tests take from tests/fakes.py: a transaction applies all its writes
or none (an audit event with them), one item is written once per transaction, the secret
box opens only under the context a value was sealed in, and the writes that issue a
challenge, answer a push, open a card's pair or step a session up hold the adapters'
conditions."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from fakes import FakeSecretBox, FakeServices, fake_services, transaction

from securelogin.crypto.envelope import SealedValueError
from securelogin.domain.models import (
    AuditEvent,
    Challenge,
    DeviceStatus,
    DeviceType,
    Flow,
    Method,
    Purpose,
    Push,
    Scope,
    Session,
    SlsMode,
)
from securelogin.ports import NoSuchUser, Reservation, StaleWrite, together


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice"))


def event(world, kind: str) -> AuditEvent:
    return AuditEvent(world.clock.now(), kind, {})


def trail(world, username: str) -> list[str]:
    return [e.type for e in world.audit.newest_first(username)]


def test_an_event_written_with_a_change_is_recorded_if_and_only_if_the_change_is(world):
    keep = timedelta(days=1)
    world.stores.users.set_mode("alice", SlsMode.OPTED_OUT, [], world.stores.audit.writes("alice", event(world, "x"),
                                                                                          keep))
    with pytest.raises(StaleWrite):
        world.stores.users.set_mode("nobody", SlsMode.OPTED_OUT, [],
                                    world.stores.audit.writes("nobody", event(world, "y"), keep))
    assert trail(world, "alice").count("x") == 1 and trail(world, "nobody") == []
    assert world.stores.users.get_user("nobody") is None


def test_a_failed_condition_applies_nothing_and_names_its_position(world):
    card = world.add_device("alice", DeviceType.SCC)
    new = replace(card, device_id="dev_new")
    with pytest.raises(StaleWrite) as stale:  # the set of devices is still at version 0
        world.stores.devices.add(new, revoke=(card,), devices_version=1)
    assert stale.value.failed_items == (0,)
    assert world.stores.devices.get("alice", card.device_id).status == DeviceStatus.ACTIVE  # not revoked
    assert world.stores.devices.get("alice", new.device_id) is None
    world.stores.devices.add(new, revoke=(card,), devices_version=0)
    assert world.stores.devices.get("alice", card.device_id).status == DeviceStatus.REVOKED
    assert world.stores.users.get_user("alice").devices_version == 1
    with pytest.raises(NoSuchUser):
        world.stores.devices.add(replace(new, username="nobody", device_id="dev_other"))


def test_one_item_is_written_once_per_transaction(world):
    sms = world.users.profile("alice")[1][0]
    with pytest.raises(ValueError, match="two writes"), transaction("x") as tx:
        world.table.stage_revoke(tx, [sms, sms])
    assert world.stores.devices.get("alice", sms.device_id).status == DeviceStatus.ACTIVE


def test_the_secret_box_opens_only_under_its_context():
    box = FakeSecretBox()
    sealed = box.seal(b"seed", "device-secret|dev_1")
    assert box.open(sealed, "device-secret|dev_1") == b"seed"
    for context in ("device-secret|dev_2", "device-secret|dev_1x", ""):
        with pytest.raises(SealedValueError):
            box.open(sealed, context)
    with pytest.raises(SealedValueError):
        box.open("v1.not.a.value", "device-secret|dev_1")


# ------------------------------------------------------------------ the writes of issue 21

def a_push(world, flow_key: str = "flow-key") -> Push:
    return Push(key="push-key", username="alice", holder="alice", device_id="dev_k", purpose=Purpose.LOGIN,
                flow_key=flow_key, nonce="n", statement="s", number_digest=None,
                expires_at=world.clock.now() + timedelta(minutes=2))


def test_a_challenge_and_what_issuing_it_writes_are_all_or_none(world):
    flows, throttles = world.stores.flows, world.stores.throttles
    flow = flows.create(Flow(Purpose.LOGIN, "flow-key", "alice", world.clock.now() + timedelta(minutes=5)))
    now = world.clock.now()
    read = throttles.guard("alice")
    moved = read.take(now, world.policy)
    flows.run("x", throttles.guard_writes("alice", read, now, moved))  # someone else wrote the guard meanwhile
    challenge = Challenge("dev_k", Method.PUSH, now, now + timedelta(minutes=2), {"push_key": "push-key"})
    with pytest.raises(StaleWrite):
        flows.set_challenge(flow, challenge, together(throttles.guard_writes("alice", read, now, moved),
                                                      flows.pushing(a_push(world))))
    assert flows.get(Purpose.LOGIN, "flow-key").challenge is None and flows.push("push-key") is None
    assert throttles.guard("alice").version == 1
    fresh = throttles.guard("alice")
    flows.set_challenge(flow, challenge, together(throttles.guard_writes("alice", fresh, now, fresh.take(
        now, world.policy, "push-key")), flows.pushing(a_push(world))))
    assert flows.get(Purpose.LOGIN, "flow-key").version == 1 and flows.push("push-key") is not None
    assert throttles.guard("alice").version == 2 and set(throttles.guard("alice").pushes) == {"push-key"}
    with pytest.raises(StaleWrite):  # the flow moved on since it was read
        flows.set_challenge(flow, challenge)
    flows.run("x", throttles.push_approved_writes("alice", "push-key"))
    assert throttles.guard("alice").pushes == {} and throttles.guard("alice").version == 3


def test_a_push_takes_one_answer_and_none_once_withdrawn(world):
    flows, now = world.stores.flows, world.clock.now()
    flows.run("x", flows.pushing(a_push(world)))
    with pytest.raises(StaleWrite):
        flows.run("x", flows.pushing(a_push(world)))  # a push id is never made twice
    pushed = flows.push("push-key")
    flows.run("x", flows.answering(pushed, now))
    assert flows.push("push-key").answered_at == now
    with pytest.raises(StaleWrite):
        flows.run("x", flows.answering(pushed, now))
    world.table.pushes.clear()
    flows.run("x", flows.pushing(a_push(world)))
    flows.run("x", flows.withdrawing("push-key", now))
    with pytest.raises(StaleWrite):
        flows.run("x", flows.answering(pushed, now))
    with pytest.raises(StaleWrite):
        flows.run("x", flows.withdrawing("never-pushed", now))


def test_a_cards_pair_opens_only_over_the_pair_read_and_a_forgiven_answer_keeps_it(world):
    devices = world.stores.devices
    card = world.add_device("alice", DeviceType.SCC)
    world.stores.flows.run("x", devices.opening_pair(card, "001,002@1"))
    with pytest.raises(StaleWrite):  # read with no pair: another challenge drew meanwhile
        world.stores.flows.run("x", devices.opening_pair(card, "003,004@1"))
    opened = devices.get("alice", card.device_id)
    assert opened.open_pair == "001,002@1"
    reservation = Reservation("alice", "0", 0, 1)
    world.table.answer_slots["alice"]["0"] = 0
    world.stores.flows.forgive(opened, reservation, world.clock.now())
    # a right answer refused for another reason (a limit) completed nothing: the card asks it again
    assert devices.get("alice", card.device_id).open_pair == "001,002@1"


def test_a_step_up_proves_an_existing_session_only(world):
    now = world.clock.now()
    session = Session("session-key", "alice", Scope.FULL, now, now + timedelta(hours=1))
    world.stores.sessions.put(session)
    world.stores.flows.run("x", world.stores.sessions.proving("session-key", now, DeviceType.DSC_PLUS))
    proved = world.stores.sessions.get("session-key")
    assert (proved.proved_at, proved.proved_with) == (now, DeviceType.DSC_PLUS)
    with pytest.raises(StaleWrite):
        world.stores.flows.run("x", world.stores.sessions.proving("gone", now, DeviceType.DSC_PLUS))
