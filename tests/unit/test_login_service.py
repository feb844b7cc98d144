"""Login over the fakes: the password step, an unknown username refused like a wrong
password, a trading session for an opted-out user, and one session per login."""
from __future__ import annotations

import pytest
from fakes import FakeServices, FakeSessionGrants, fake_services

from securelogin.crypto.codes import lookup_key
from securelogin.crypto.ocra import ocra
from securelogin.domain.factors.ocra_card import CARD_SUITE
from securelogin.domain.models import DeviceStatus, DeviceType, FlowStatus, Purpose, Scope, SlsMode
from securelogin.errors import Gone, Unauthenticated
from securelogin.services.login import ClientInfo, LoginService

PASSWORD = "correct horse 1"
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
PIN = "4831"
PORTAL = ClientInfo("portal")


def right(public: dict) -> str:
    return ocra(CARD_SUITE, bytes.fromhex(SEED), public["challenge_code"], pin=PIN)


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice"))


@pytest.fixture
def card(world):
    return world.add_ocra_card("alice", SEED, PIN)


def events(world, username: str) -> list[str]:
    return [e.type for e in world.audit.newest_first(username)]


# ------------------------------------------------------------------ the password step

def test_the_password_step_offers_the_usable_devices_and_the_most_secure_first(world, card):
    spare = world.add_ocra_card("alice", SEED, PIN)
    world.stores.devices.set_status(spare, DeviceStatus.LOST, (DeviceStatus.ACTIVE,))
    started = world.login.start("Alice", PASSWORD, PORTAL)  # usernames are case-insensitive
    assert {d.type for d in started.devices} == {DeviceType.SMS, DeviceType.DSC_PLUS}
    assert spare.device_id not in {d.device_id for d in started.devices}
    assert started.default_device_id == card.device_id
    assert started.trading_session is None and started.expires_at == world.clock.now() + world.policy.login_ttl
    flow = world.stores.flows.get(Purpose.LOGIN, lookup_key(started.login_id))
    assert flow.username == "alice" and set(flow.device_ids) == {d.device_id for d in started.devices}


def test_an_old_trading_platform_is_offered_only_the_default_device(world, card):
    started = world.login.start("alice", PASSWORD, ClientInfo("tws", world.policy.tws_min_version_with_choice - 1))
    assert [d.device_id for d in started.devices] == [card.device_id]


def test_an_unknown_username_is_refused_like_a_wrong_password(world):
    refusals = []
    for username, password in (("alice", "not the password"), ("nobody", PASSWORD)):
        with pytest.raises(Unauthenticated) as refused:
            world.login.start(username, password, PORTAL)
        refusals.append((refused.value.code, refused.value.message, refused.value.extra))
    assert refusals[0] == refusals[1] and refusals[0][0] == "invalid_credentials"
    for username in ("alice", "nobody"):
        assert events(world, username).count("login.password_failed") == 1
        assert world.table.lockouts[username].failures == 1
    assert world.table.flows == {}


def test_an_opted_out_user_gets_a_trading_session_from_the_password(world, card):
    world.sls_mode.change("alice", SlsMode.OPTED_OUT, accept_risk=True)
    started = world.login.start("alice", PASSWORD, PORTAL)
    trading = started.trading_session
    assert trading is not None and trading.session.scope == Scope.TRADING and trading.session.device_id is None
    assert world.sessions.authorize(trading.token) == trading.session
    assert "login.password_only" in events(world, "alice")
    assert started.login_id and started.devices  # a device can still step the session up


# ------------------------------------------------------------------ the second factor

def test_a_right_answer_grants_a_full_session_once(world, card):
    started = world.login.start("alice", PASSWORD, PORTAL)
    public = world.login.challenge(started.login_id, card.device_id, None).public
    granted = world.login.verify(started.login_id, right(public))
    assert (granted.session.username, granted.session.scope, granted.session.device_id) == \
        ("alice", Scope.FULL, card.device_id)
    assert world.sessions.authorize(granted.token) == granted.session
    with pytest.raises(Gone) as again:
        world.login.verify(started.login_id, right(public))
    assert again.value.code == "login_expired"
    assert world.login.status(started.login_id) == (FlowStatus.APPROVED, None)  # handed out already
    assert events(world, "alice").count("login.succeeded") == 1 and len(world.table.sessions) == 1


class RacingGrants(FakeSessionGrants):
    """Lets ``race`` (another right answer to the same login) through just before this
    grant's own write, as two answers at once would."""

    def __init__(self, table, race) -> None:
        super().__init__(table)
        self._race = race

    def approve(self, *args, **kwargs) -> None:
        race, self._race = self._race, None
        if race is not None:
            race()
        super().approve(*args, **kwargs)


def test_of_two_right_answers_at_once_one_gets_the_session(world, card):
    started = world.login.start("alice", PASSWORD, PORTAL)
    response = right(world.login.challenge(started.login_id, card.device_id, None).public)
    won = []
    grants = RacingGrants(world.table, lambda: won.append(world.login.verify(started.login_id, response)))
    racing = LoginService(world.passwords, world.flows, grants, world.sessions, world.factors, world.audit,
                          world.clock, world.policy)
    with pytest.raises(Gone):
        racing.verify(started.login_id, response)
    assert len(won) == 1 and list(world.table.sessions) == [won[0].session.key]
    assert events(world, "alice").count("login.succeeded") == 1  # the loser's event went with its write


def test_a_wrong_answer_opens_nothing(world, card):
    started = world.login.start("alice", PASSWORD, PORTAL)
    world.login.challenge(started.login_id, card.device_id, None)
    with pytest.raises(Unauthenticated) as wrong:
        world.login.verify(started.login_id, "00000000")
    assert wrong.value.extra["attempts_left"] == world.policy.attempts_per_transaction - 1
    assert world.table.sessions == {} and world.login.status(started.login_id) == (FlowStatus.PENDING, None)
