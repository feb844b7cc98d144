"""What the service tests take from tests/fakes.py: a transaction applies all its writes
or none (an audit event with them), one item is written once per transaction, and the
secret box opens only under the context a value was sealed in."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from fakes import FakeSecretBox, FakeServices, fake_services, transaction

from securelogin.crypto.envelope import SealedValueError
from securelogin.domain.models import AuditEvent, DeviceStatus, DeviceType, SlsMode
from securelogin.ports import NoSuchUser, StaleWrite


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
