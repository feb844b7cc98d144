"""What follows a change, over the fakes: notices are written with the change (so a change
that fails tells nobody), and each goes out once, however often its delivery is tried."""
from __future__ import annotations

import pytest
from fakes import FakeServices, fake_services

from securelogin.domain.models import DeviceStatus, DeviceType
from securelogin.errors import Conflict
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.outbox import sent_by_the_request

PHONE = "+15550001111"


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice", phones=[PHONE]))


def notices(world) -> list[str]:
    return [m.body for m in world.sender.sent if m.channel == "sms" and m.to == PHONE]


def pending(world) -> list[str]:
    return [i for i, entry in world.table.outbox.items() if entry.sent_at is None]


def test_a_notice_is_recorded_with_its_change_and_sent_only_by_delivery(world):
    world.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), actor="cs")
    assert notices(world) == [] and len(pending(world)) == 1  # nothing is sent by the request itself
    assert world.deliver_outbox() == 1
    assert len(notices(world)) == 1 and "Security Code Card was added" in notices(world)[0]
    assert world.deliver_outbox() == 0 and len(notices(world)) == 1


def test_a_delivery_that_fails_lets_the_message_go_and_a_later_one_sends_it_once(world):
    world.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), actor="cs")
    [outbox_id] = pending(world)
    world.sender.failing = True
    assert world.outbox.deliver(outbox_id) is False
    assert world.table.outbox[outbox_id].claimed_until is None and world.table.outbox[outbox_id].failures == 1
    world.sender.failing = False
    assert world.outbox.deliver(outbox_id) is True
    assert world.outbox.deliver(outbox_id) is True  # the stream's record delivered twice: sent once
    assert len(notices(world)) == 1


def test_a_message_held_by_another_delivery_waits_until_that_hold_lapses(world):
    world.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), actor="cs")
    [outbox_id] = pending(world)
    assert world.stores.outbox.claim(outbox_id, world.clock.now(), world.policy.outbox_hold).message is not None
    assert world.outbox.deliver(outbox_id) is False and notices(world) == []  # a delivery that died holds it
    world.clock.advance(world.policy.outbox_hold.total_seconds() + 1)
    assert world.outbox.deliver(outbox_id) is True and len(notices(world)) == 1


def test_a_change_that_does_not_happen_records_no_notice_and_no_event(world):
    card = world.add_device("alice", DeviceType.SCC)
    world.backoffice_devices.mark_lost("alice", card.device_id, actor="cs", reason="client called")
    assert len(pending(world)) == 1
    with pytest.raises(Conflict):  # already lost: the transaction's condition fails
        world.backoffice_devices.mark_lost("alice", card.device_id, actor="cs", reason="client called")
    assert len(pending(world)) == 1
    assert [e.type for e in world.audit.newest_first("alice")].count("device.lost") == 1


def test_a_temporary_code_keeps_who_gave_it_and_why_with_the_code_itself(world):
    card = world.add_device("alice", DeviceType.SCC)
    world.backoffice_devices.mark_lost("alice", card.device_id, actor="cs", reason="client called")
    issued = world.backoffice_devices.issue_temporary_code("alice", actor="cs", reason="passport seen on video")
    [event] = [e for e in world.audit.newest_first("alice") if e.type == "temporary_code.issued"]
    assert event.details == {"device_id": issued.device.device_id, "device_type": "temporary_code", "by": "cs",
                             "reason": "passport seen on video"}
    with pytest.raises(Conflict) as twice:
        world.backoffice_devices.issue_temporary_code("alice", actor="cs", reason="again")
    assert twice.value.code == "consecutive_temporary_code"
    events = [e.type for e in world.audit.newest_first("alice")]
    assert events.count("temporary_code.issued") == 1 and len(pending(world)) == 2  # lost + code, not the refused
    assert world.stores.devices.get("alice", issued.device.device_id).status == DeviceStatus.ACTIVE


def test_the_request_that_made_the_change_sends_its_notice_and_the_consumer_finds_it_out(world):
    with sent_by_the_request() as committed:
        world.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), actor="cs")
    [(outbox_id, _)] = committed
    assert world.table.outbox[outbox_id].claimed_until is not None  # held for the request
    assert world.outbox.deliver(outbox_id) is False and notices(world) == []  # the consumer waits for it
    world.outbox.send_committed(committed)
    assert len(notices(world)) == 1
    assert world.outbox.deliver(outbox_id) is True and len(notices(world)) == 1


def test_a_notice_the_request_could_not_send_is_let_go_for_the_consumer_at_once(world):
    with sent_by_the_request() as committed:
        world.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), actor="cs")
    world.sender.failing = True
    world.outbox.send_committed(committed)  # never raises: the change has happened
    world.sender.failing = False
    assert notices(world) == [] and world.deliver_outbox() == 1 and len(notices(world)) == 1


def test_a_change_that_fails_gives_the_request_nothing_to_send(world):
    card = world.add_device("alice", DeviceType.SCC)
    world.backoffice_devices.mark_lost("alice", card.device_id, actor="cs", reason="client called")
    with sent_by_the_request() as committed, pytest.raises(Conflict):
        world.backoffice_devices.mark_lost("alice", card.device_id, actor="cs", reason="again")
    assert committed == []


def test_a_request_with_no_time_left_leaves_its_notice_held_for_the_consumer(world):
    with sent_by_the_request() as committed:
        world.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), actor="cs")
    world.outbox.send_committed(committed, seconds_left=lambda: 2.0)  # an SMS could take 6 s: not now
    assert notices(world) == [] and world.deliver_outbox() == 0  # held by the request, for its hold
    world.clock.advance(world.policy.outbox_hold.total_seconds() + 1)
    assert world.deliver_outbox() == 1 and len(notices(world)) == 1
