"""Sessions over the fakes: a session lives no longer than its lifetime, or than what
opened it (its device while active, a shared device while shared, an opt-out while it
lasts), and a revoked or forged token opens nothing."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from fakes import FakeServices, fake_services

from securelogin.domain.models import DeviceStatus, DeviceType, Scope, SlsMode
from securelogin.services.sessions import SessionService

SEED = "3132333435363738393031323334353637383930313233343536373839303132"


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice"))


@pytest.fixture
def card(world):
    return world.add_ocra_card("alice", SEED, "4831")


def opened(world, username: str, scope: Scope, device=None):
    granted = world.sessions.new(username, scope, device)
    world.sessions.store(granted)
    return granted


@pytest.mark.parametrize("status", [DeviceStatus.LOST, DeviceStatus.RETURNED, DeviceStatus.REVOKED,
                                    DeviceStatus.INACTIVE])
def test_a_session_ends_when_its_device_is_no_longer_active(world, card, status):
    granted = opened(world, "alice", Scope.FULL, card)
    assert world.sessions.authorize(granted.token) == granted.session
    world.stores.devices.set_status(card, status, (DeviceStatus.ACTIVE,))
    assert world.sessions.authorize(granted.token) is None


def test_a_session_on_a_shared_device_ends_with_the_owners_device(world, card, new_user):
    world.users.create(new_user("twin", phones=["+15550002222"]), actor="tester")
    world.stores.devices.add(replace(card, username="twin", shared_from="alice", sealed_secret=None))  # a link
    granted = opened(world, "twin", Scope.FULL, world.stores.devices.get("twin", card.device_id))
    assert world.sessions.authorize(granted.token) == granted.session
    world.stores.devices.set_status(card, DeviceStatus.LOST, (DeviceStatus.ACTIVE,))  # the owner's card
    assert world.sessions.authorize(granted.token) is None


def test_a_temporary_devices_session_ends_with_its_validity(world):
    now = world.clock.now()
    code = world.add_device("alice", DeviceType.TEMPORARY_CODE, valid_until=now + timedelta(hours=3),
                            full_access_until=now + timedelta(hours=1))
    full, portal = opened(world, "alice", Scope.FULL, code), opened(world, "alice", Scope.PORTAL_ONLY, code)
    assert (full.session.expires_at, portal.session.expires_at) == (now + timedelta(hours=1), now + timedelta(hours=3))
    world.clock.advance(3 * 3600 - 1)
    assert world.sessions.authorize(full.token) is None and world.sessions.authorize(portal.token) is not None
    world.clock.advance(1)
    assert world.sessions.authorize(portal.token) is None


def test_a_trading_session_lasts_while_the_user_stays_opted_out(world):
    world.sls_mode.change("alice", SlsMode.OPTED_OUT, accept_risk=True)
    granted = opened(world, "alice", Scope.TRADING)
    assert world.sessions.authorize(granted.token) == granted.session
    world.sls_mode.change("alice", SlsMode.ALWAYS, accept_risk=False)
    assert world.sessions.authorize(granted.token) is None


def test_a_session_expires_after_its_lifetime_and_can_be_revoked(world, card):
    granted, revoked = opened(world, "alice", Scope.FULL, card), opened(world, "alice", Scope.FULL, card)
    world.sessions.revoke(revoked.session.key)
    assert world.sessions.authorize(revoked.token) is None
    world.clock.advance(world.policy.session_ttl.total_seconds() - 1)
    assert world.sessions.authorize(granted.token) == granted.session
    world.clock.advance(1)
    assert world.sessions.authorize(granted.token) is None


def test_only_a_stored_token_opens_a_session(world, card):
    granted = world.sessions.new("alice", Scope.FULL, card)  # made, not stored
    assert world.sessions.authorize(granted.token) is None
    world.sessions.store(granted)
    for forged in (granted.token.removeprefix(SessionService.TOKEN_PREFIX), granted.token + "x",
                   SessionService.TOKEN_PREFIX + "x" * 300):
        assert world.sessions.authorize(forged) is None
    assert granted.token not in str(world.table.sessions)  # only its lookup key is kept
