"""Sharing a physical device between two usernames of one person, over moto."""
from __future__ import annotations

import pytest

from securelogin.adapters.devices import DeviceStore
from securelogin.crypto.ocra import ocra
from securelogin.domain.models import Device, DeviceStatus, DeviceType, IdDocument, Identity
from securelogin.errors import Conflict, Unauthenticated
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
ME = Identity("1980-01-31", "US", "US", IdDocument("passport", "P7654321"), "078051120")


@pytest.fixture
def pair(world, new_user):
    """``owner`` and ``twin``: one person, one entity; ``owner`` has a DSC+."""
    world.services.users.create(new_user("owner", identity=ME), actor="tester")
    world.services.users.create(new_user("twin", phones=["+15550002222"], identity=ME), actor="tester")
    world.services.backoffice_devices.issue("owner", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                 pin="4831"), "cs")
    return world


def answer(public):
    return ocra(SUITE, bytes.fromhex(SEED), public["challenge_code"], pin="4831")


def statuses(world, username):
    return {d.device_id: (d.type.value, d.status) for d in world.services.users.profile(username)[1]}


def test_same_entity_shares_at_once_and_cancelling_gives_the_own_card_back(pair):
    own = pair.services.backoffice_devices.issue("twin", DeviceOrder(type=DeviceType.SCC), "cs").device
    started = pair.services.sharing.start("twin", "owner", PASSWORD)
    assert started.device.type == DeviceType.DSC_PLUS
    with pytest.raises(Unauthenticated) as wrong:
        pair.services.sharing.complete("twin", started.share.share_id, "00000000")
    assert wrong.value.extra["attempts_left"] == 4
    done = pair.services.sharing.complete("twin", started.share.share_id, answer(started.challenge))
    assert done.status == "approved"
    twin = statuses(pair, "twin")
    assert twin[own.device_id] == ("scc", DeviceStatus.INACTIVE)
    assert twin[started.device.device_id] == ("dsc_plus", DeviceStatus.ACTIVE)
    login = pair.services.login.start("twin", PASSWORD, ClientInfo("portal"))
    public = pair.services.login.challenge(login.login_id, started.device.device_id, None).public
    assert pair.services.login.verify(login.login_id, answer(public)).session.username == "twin"
    assert pair.services.sharing.cancel("twin", started.share.share_id).status == "cancelled"
    twin = statuses(pair, "twin")
    assert twin[own.device_id] == ("scc", DeviceStatus.ACTIVE)
    assert twin[started.device.device_id] == ("dsc_plus", DeviceStatus.REVOKED)
    assert statuses(pair, "owner")[started.device.device_id] == ("dsc_plus", DeviceStatus.ACTIVE)


def test_cancelling_brings_back_the_own_cards_still_inactive_and_leaves_a_lost_one_lost(pair):
    scc = pair.services.backoffice_devices.issue("twin", DeviceOrder(type=DeviceType.SCC), "cs").device
    dsc = pair.services.backoffice_devices.issue("twin", DeviceOrder(type=DeviceType.DSC, seed_hex=SEED, pin="4831",
                                                                     legacy_import=True), "cs").device
    started = pair.services.sharing.start("twin", "owner", PASSWORD)
    assert pair.services.sharing.complete("twin", started.share.share_id, answer(started.challenge)).status == \
        "approved"
    assert statuses(pair, "twin")[scc.device_id] == ("scc", DeviceStatus.INACTIVE)
    pair.services.backoffice_devices.mark_lost("twin", scc.device_id, "cs", reason="client called")
    assert pair.services.sharing.cancel("twin", started.share.share_id).status == "cancelled"
    twin = statuses(pair, "twin")
    assert twin[scc.device_id] == ("scc", DeviceStatus.LOST)
    assert twin[dsc.device_id] == ("dsc", DeviceStatus.ACTIVE)
    assert twin[started.device.device_id] == ("dsc_plus", DeviceStatus.REVOKED)


def test_another_entity_waits_for_compliance(world, new_user):
    world.services.users.create(new_user("owner", identity=ME, entity_id="E1"), actor="tester")
    world.services.users.create(new_user("twin", phones=["+15550002222"], identity=ME, entity_id="E2"), "tester")
    world.services.backoffice_devices.issue("owner", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                 pin="4831"), "cs")
    first = world.services.sharing.start("twin", "owner", PASSWORD)
    assert world.services.sharing.complete("twin", first.share.share_id, answer(first.challenge)).status == \
        "pending_compliance"
    assert [s.share_id for s in world.services.sharing.pending()] == [first.share.share_id]
    assert world.services.sharing.decide(first.share.share_id, False, "not the same person", "compliance").status \
        == "rejected"
    assert world.services.sharing.pending() == []
    second = world.services.sharing.start("twin", "owner", PASSWORD)
    world.services.sharing.complete("twin", second.share.share_id, answer(second.challenge))
    assert world.services.sharing.decide(second.share.share_id, True, "verified", "compliance").status == "approved"
    assert "dsc_plus" in {t for t, s in statuses(world, "twin").values() if s == DeviceStatus.ACTIVE}


def test_a_stranger_cannot_share(world, new_user):
    world.services.users.create(new_user("owner", identity=ME), actor="tester")
    other = Identity("1970-01-01", "US", "US", IdDocument("passport", "X1"), "123456789")
    world.services.users.create(new_user("stranger", phones=["+15550002222"], identity=other), "tester")
    world.services.backoffice_devices.issue("owner", DeviceOrder(type=DeviceType.SCC), "cs")
    with pytest.raises(Conflict) as refused:
        world.services.sharing.start("stranger", "owner", PASSWORD)
    assert refused.value.code == "different_identification"


def test_the_owners_password_is_checked(pair):
    with pytest.raises(Unauthenticated) as refused:
        pair.services.sharing.start("twin", "owner", "wrong")
    assert refused.value.code == "invalid_credentials"


def test_only_the_most_secure_device_can_be_shared(world, new_user):
    world.services.users.create(new_user("owner", identity=ME), actor="tester")
    world.services.users.create(new_user("twin", phones=["+15550002222"], identity=ME), actor="tester")
    world.services.backoffice_devices.issue("owner", DeviceOrder(type=DeviceType.SCC), "cs")
    world.services.backoffice_devices.issue("twin", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                pin="4831"), "cs")
    with pytest.raises(Conflict) as refused:
        world.services.sharing.start("twin", "owner", PASSWORD)
    assert refused.value.code == "less_secure_device"


def test_no_sharing_while_a_temporary_device_is_assigned(pair):
    pair.services.backoffice_devices.issue_temporary_code("twin", "cs", reason="identity checked")
    with pytest.raises(Conflict) as refused:
        pair.services.sharing.start("twin", "owner", PASSWORD)
    assert refused.value.code == "temporary_device_assigned"


def test_nothing_to_share(world, new_user):
    world.services.users.create(new_user("owner", identity=ME), actor="tester")
    world.services.users.create(new_user("twin", phones=["+15550002222"], identity=ME), actor="tester")
    with pytest.raises(Conflict) as refused:
        world.services.sharing.start("twin", "owner", PASSWORD)
    assert refused.value.code == "no_shareable_device"


def test_ib_key_owners_are_pointed_to_add_user(world, new_user):
    world.services.users.create(new_user("owner", identity=ME), actor="tester")
    world.services.users.create(new_user("twin", phones=["+15550002222"], identity=ME), actor="tester")
    DeviceStore().add(Device("dev_owner_ibkey", "owner", DeviceType.IB_KEY, "IB Key", DeviceStatus.ACTIVE,
                                  world.clock.now()))
    with pytest.raises(Conflict) as refused:
        world.services.sharing.start("twin", "owner", PASSWORD)
    assert refused.value.code == "ib_key_use_add_user"
