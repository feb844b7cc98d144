"""Sharing a physical device between two usernames of one person, over the fakes: the
same entity is approved at once, another entity waits for Compliance, and cancelling
gives the requester's own devices back."""
from __future__ import annotations

import pytest
from fakes import FakeServices, fake_services

from securelogin.crypto.ocra import ocra
from securelogin.domain.factors.code_card import CARD_ALPHABET, new_card
from securelogin.domain.factors.ocra_card import CARD_SUITE
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import DeviceStatus, DeviceType, IdDocument, Identity, ShareStatus
from securelogin.errors import Conflict, Unauthenticated
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
PIN = "4831"
ME = Identity("1980-01-31", "US", "US", IdDocument("passport", "P7654321"), "078051120")
OWNER_PHONE, TWIN_PHONE = "+15550001111", "+15550002222"


def right(public: dict) -> str:
    return ocra(CARD_SUITE, bytes.fromhex(SEED), public["challenge_code"], pin=PIN)


def pair(new_user, twin_entity: str) -> FakeServices:
    """``owner`` with a DSC+, and ``twin`` (the same person) with a code card of their own."""
    world = fake_services()
    world.users.create(new_user("owner", phones=[OWNER_PHONE], identity=ME, entity_id="E1"), actor="tester")
    world.users.create(new_user("twin", phones=[TWIN_PHONE], identity=ME, entity_id=twin_entity), actor="tester")
    world.add_ocra_card("owner", SEED, PIN)
    world.add_device("twin", DeviceType.SCC, DeviceSecret(card=new_card(60, CARD_ALPHABET)))
    return world


@pytest.fixture
def same_entity(new_user) -> FakeServices:
    return pair(new_user, "E1")


@pytest.fixture
def other_entity(new_user) -> FakeServices:
    return pair(new_user, "E2")


def devices(world, username: str) -> dict[DeviceType, tuple[DeviceStatus, str | None]]:
    return {d.type: (d.status, d.shared_from) for d in world.users.profile(username)[1]}


def shared_and_proven(world):
    started = world.sharing.start("twin", "owner", PASSWORD)
    return started, world.sharing.complete("twin", started.share.share_id, right(started.challenge))


def test_the_same_entity_shares_at_once(same_entity):
    world = same_entity
    started = world.sharing.start("twin", "owner", PASSWORD)
    assert started.device.type == DeviceType.DSC_PLUS and started.share.status == ShareStatus.CHALLENGED
    with pytest.raises(Unauthenticated) as wrong:
        world.sharing.complete("twin", started.share.share_id, "00000000")
    assert wrong.value.extra["attempts_left"] == world.policy.attempts_per_transaction - 1
    assert world.table.devices[("owner", started.device.device_id)].consecutive_failures == 1  # the owner's card
    done = world.sharing.complete("twin", started.share.share_id, right(started.challenge))
    assert done.status == ShareStatus.APPROVED
    assert devices(world, "twin") == {DeviceType.SMS: (DeviceStatus.ACTIVE, None),
                                      DeviceType.SCC: (DeviceStatus.INACTIVE, None),
                                      DeviceType.DSC_PLUS: (DeviceStatus.ACTIVE, "owner")}
    assert devices(world, "owner")[DeviceType.DSC_PLUS] == (DeviceStatus.ACTIVE, None)
    assert world.deliver_outbox() == 2
    for username, phone in (("twin", TWIN_PHONE), ("owner", OWNER_PHONE)):
        assert "sharing.approved" in [e.type for e in world.audit.newest_first(username)]
        assert "may now log in" in world.sender.last("sms", to=phone).body

    login = world.login.start("twin", PASSWORD, ClientInfo("portal"))
    public = world.login.challenge(login.login_id, started.device.device_id, None).public
    assert world.login.verify(login.login_id, right(public)).session.username == "twin"


def test_cancelling_gives_the_requesters_own_devices_back(same_entity):
    world = same_entity
    started, _ = shared_and_proven(world)
    assert world.sharing.cancel("twin", started.share.share_id).status == ShareStatus.CANCELLED
    assert devices(world, "twin")[DeviceType.SCC] == (DeviceStatus.ACTIVE, None)
    assert devices(world, "twin")[DeviceType.DSC_PLUS] == (DeviceStatus.REVOKED, "owner")
    assert devices(world, "owner")[DeviceType.DSC_PLUS] == (DeviceStatus.ACTIVE, None)
    offered = world.login.start("twin", PASSWORD, ClientInfo("portal")).devices
    assert started.device.device_id not in {d.device_id for d in offered}
    with pytest.raises(Conflict) as again:
        world.sharing.cancel("twin", started.share.share_id)
    assert again.value.code == "not_active"


def test_cancelling_leaves_an_own_card_lost_meanwhile_lost_and_gives_the_others_back(same_entity):
    world = same_entity
    world.add_ocra_card("twin", SEED, PIN, DeviceType.DSC)  # a second card of the requester's own
    started, _ = shared_and_proven(world)
    assert devices(world, "twin")[DeviceType.DSC] == devices(world, "twin")[DeviceType.SCC] == (
        DeviceStatus.INACTIVE, None)
    scc = next(d for d in world.users.profile("twin")[1] if d.type == DeviceType.SCC)
    world.backoffice_devices.mark_lost("twin", scc.device_id, "cs", reason="client called")
    assert world.sharing.cancel("twin", started.share.share_id).status == ShareStatus.CANCELLED
    assert devices(world, "twin") == {DeviceType.SMS: (DeviceStatus.ACTIVE, None),
                                      DeviceType.SCC: (DeviceStatus.LOST, None),
                                      DeviceType.DSC: (DeviceStatus.ACTIVE, None),
                                      DeviceType.DSC_PLUS: (DeviceStatus.REVOKED, "owner")}
    assert "sharing.cancelled" in [e.type for e in world.audit.newest_first("twin")]


def test_another_entity_waits_for_compliance(other_entity):
    world = other_entity
    first, proven = shared_and_proven(world)
    assert proven.status == ShareStatus.PENDING_COMPLIANCE
    assert [s.share_id for s in world.sharing.pending()] == [first.share.share_id]
    assert devices(world, "twin")[DeviceType.SCC] == (DeviceStatus.ACTIVE, None)  # nothing moved yet
    assert DeviceType.DSC_PLUS not in devices(world, "twin")
    rejected = world.sharing.decide(first.share.share_id, False, "not verified", "compliance")
    assert rejected.status == ShareStatus.REJECTED and world.sharing.pending() == []

    second, _ = shared_and_proven(world)
    approved = world.sharing.decide(second.share.share_id, True, "verified", "compliance")
    assert approved.status == ShareStatus.APPROVED and world.sharing.pending() == []
    assert devices(world, "twin")[DeviceType.DSC_PLUS] == (DeviceStatus.ACTIVE, "owner")
    assert devices(world, "twin")[DeviceType.SCC] == (DeviceStatus.INACTIVE, None)
    with pytest.raises(Conflict) as decided:
        world.sharing.decide(second.share.share_id, False, "changed my mind", "compliance")
    assert decided.value.code == "not_pending"


def test_a_share_waiting_for_compliance_can_be_cancelled(other_entity):
    world = other_entity
    started, _ = shared_and_proven(world)
    assert world.sharing.cancel("twin", started.share.share_id).status == ShareStatus.CANCELLED
    assert world.sharing.pending() == []
    with pytest.raises(Conflict):
        world.sharing.decide(started.share.share_id, True, "verified", "compliance")
    assert devices(world, "twin")[DeviceType.SCC] == (DeviceStatus.ACTIVE, None)


def test_a_stranger_cannot_share(new_user):
    world = fake_services()
    world.users.create(new_user("owner", identity=ME), actor="tester")
    other = Identity("1970-01-01", "US", "US", IdDocument("passport", "X1"), "123456789")
    world.users.create(new_user("stranger", phones=[TWIN_PHONE], identity=other), actor="tester")
    world.add_ocra_card("owner", SEED, PIN)
    with pytest.raises(Conflict) as refused:
        world.sharing.start("stranger", "owner", PASSWORD)
    assert refused.value.code == "different_identification"
    assert world.table.shares == {} and world.table.flows == {}
