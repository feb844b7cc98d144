"""Lost devices, temporary codes, the online card, and the DSC+ from request to return."""
from __future__ import annotations

import boto3
import pytest

from securelogin.adapters.devices import DeviceStore
from securelogin.crypto.ocra import ocra
from securelogin.domain.models import Device, DeviceStatus, DeviceType
from securelogin.errors import Conflict, Forbidden, InvalidInput, Unauthenticated
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
PORTAL = ClientInfo("portal")
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
DAY = 86400


@pytest.fixture
def alice(world, new_user):
    world.services.users.create(new_user(balance_usd=750_000), actor="tester")
    return world


def devices(world, username="alice"):
    return {d.device_id: d for d in world.services.users.profile(username)[1]}


def login_with(world, type_, answer):
    """Logs in with the user's device of ``type_``; ``answer(public)`` gives the response."""
    started = world.services.login.start("alice", PASSWORD, PORTAL)
    device = next(d for d in started.devices if d.type == type_)
    public = world.services.login.challenge(started.login_id, device.device_id, None).public
    return world.services.login.verify(started.login_id, answer(public))


def give_ib_key(world, username="alice"):
    now = world.clock.now()
    DeviceStore().add(Device("dev_ibkey_" + username, username, DeviceType.IB_KEY, "IB Key",
                                  DeviceStatus.ACTIVE, now))


def test_a_temporary_code_gives_full_then_portal_only_access_then_ends(alice):
    temp = alice.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked")
    assert len(temp.code) >= 10
    assert login_with(alice, DeviceType.TEMPORARY_CODE, lambda _: temp.code.lower()).session.scope.value == "full"
    alice.clock.advance(2 * DAY + 60)
    assert login_with(alice, DeviceType.TEMPORARY_CODE, lambda _: temp.code).session.scope.value == "portal_only"
    alice.clock.advance(10 * DAY)
    offered = alice.services.login.start("alice", PASSWORD, PORTAL).devices
    assert DeviceType.TEMPORARY_CODE not in {d.type for d in offered}


def test_temporary_codes_are_stored_only_as_digests(alice):
    temp = alice.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked")
    items = boto3.client("dynamodb").query(TableName=alice.table, KeyConditionExpression="pk = :pk",
                                           ExpressionAttributeValues={":pk": {"S": "USER#alice"}})["Items"]
    assert temp.code not in str(items)


def test_no_second_temporary_code_until_a_permanent_device_is_back(alice):
    card = alice.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs")
    alice.services.backoffice_devices.mark_lost("alice", card.device.device_id, "cs", reason="client called")
    alice.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked")
    with pytest.raises(Conflict) as refused:
        alice.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked")
    assert refused.value.code == "consecutive_temporary_code"
    alice.services.user_devices.reactivate("alice", card.device.device_id, None)
    assert alice.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked").code


def test_a_lost_device_is_not_offered_and_a_found_one_ends_the_temporary_devices(alice):
    card = alice.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs")
    lost = alice.services.backoffice_devices.mark_lost("alice", card.device.device_id, "cs", reason="client called")
    assert lost.status == DeviceStatus.LOST
    assert card.device.device_id not in {d.device_id for d in alice.services.login.start(
        "alice", PASSWORD, PORTAL).devices}
    temp = alice.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked")
    session = login_with(alice, DeviceType.TEMPORARY_CODE, lambda _: temp.code)
    online = alice.services.user_devices.online_card("alice", session.session.device_id)
    assert all(len(v) == 3 and v.isdigit() for v in online.card.values())
    assert (online.device.valid_until - online.device.created_at).days == 21
    login_with(alice, DeviceType.ONLINE_SCC, lambda p: online.card[p["indices"][0]] + online.card[p["indices"][1]])
    alice.services.user_devices.reactivate("alice", card.device.device_id, None)
    now_devices = devices(alice)
    assert now_devices[card.device.device_id].status == DeviceStatus.ACTIVE
    assert now_devices[temp.device.device_id].status == DeviceStatus.REVOKED
    assert now_devices[online.device.device_id].status == DeviceStatus.REVOKED


def test_the_online_card_needs_a_temporary_code_session(alice):
    with pytest.raises(Forbidden):
        alice.services.user_devices.online_card("alice", next(iter(devices(alice))))


def test_dsc_plus_eligibility(world, new_user):
    world.services.users.create(new_user("poor", balance_usd=10_000), actor="tester")
    give_ib_key(world, "poor")
    with pytest.raises(Forbidden) as refused:
        world.services.user_devices.request_dsc_plus("poor", "4831", "new")
    assert refused.value.code == "not_eligible"
    world.services.users.create(new_user("rich", phones=["+15550003333"], balance_usd=750_000), actor="tester")
    with pytest.raises(Forbidden):  # rich, but no IB Key
        world.services.user_devices.request_dsc_plus("rich", "4831", "new")
    give_ib_key(world, "rich")
    with pytest.raises(InvalidInput):
        world.services.user_devices.request_dsc_plus("rich", "1234", "new")
    requested = world.services.user_devices.request_dsc_plus("rich", "4831", "new")
    assert requested.fee_usd == 0 and requested.request_id.startswith("req_")


def test_a_replacement_costs_a_reserve_until_the_old_card_comes_back(alice):
    old = alice.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                       pin="4831"), "cs")
    broken = alice.services.user_devices.request_dsc_plus("alice", "5902", "broken")
    assert (broken.fee_usd, broken.reserve_usd) == (20, 20)
    assert alice.services.users.profile("alice")[0].reserves == {old.device.device_id: 20}
    with pytest.raises(Conflict) as second:
        alice.services.user_devices.request_dsc_plus("alice", "5902", "battery")
    assert second.value.code == "request_pending"
    alice.services.backoffice_devices.fulfil(broken.request_id, "DSC-0001", SEED, "cs")
    assert alice.services.user_devices.request_dsc_plus("alice", "5902", "battery").fee_usd == 0
    alice.services.user_devices.return_device("alice", old.device.device_id)
    assert alice.services.users.profile("alice")[0].reserves == {}


def test_a_shipped_card_is_activated_by_answering_one_challenge(alice):
    give_ib_key(alice)
    requested = alice.services.user_devices.request_dsc_plus("alice", "4831", "new")
    shipped = alice.services.backoffice_devices.fulfil(requested.request_id, "DSC-7777", SEED, "cs")
    assert shipped.status == DeviceStatus.PENDING
    with pytest.raises(Conflict):
        alice.services.backoffice_devices.fulfil(requested.request_id, "DSC-7777", SEED, "cs")
    question, _ = alice.services.user_devices.activation_challenge("alice", shipped.device_id)
    with pytest.raises(Unauthenticated):
        alice.services.user_devices.activate("alice", shipped.device_id, ocra(SUITE, bytes.fromhex(SEED), question,
                                                                              pin="4832"))
    active = alice.services.user_devices.activate("alice", shipped.device_id,
                                                  ocra(SUITE, bytes.fromhex(SEED), question, pin="4831"))
    assert active.status == DeviceStatus.ACTIVE
    assert alice.services.user_devices.return_device("alice", shipped.device_id).status == DeviceStatus.RETURNED


def test_the_last_active_device_cannot_be_removed(alice):
    (only,) = devices(alice)
    with pytest.raises(Conflict) as refused:
        alice.services.user_devices.deactivate("alice", only)
    assert refused.value.code == "last_device"
    alice.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs")
    alice.services.user_devices.deactivate("alice", only)
    assert devices(alice)[only].status == DeviceStatus.INACTIVE
