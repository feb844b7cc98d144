"""The Secure Login setting over the fakes: only the account's primary user changes it,
some regulators allow no opt-out, and opting out takes the risk accepted and a restriction."""
from __future__ import annotations

import pytest
from fakes import FakeServices, fake_services

from securelogin.domain.models import SlsMode
from securelogin.errors import Forbidden, InvalidInput
from securelogin.services.sls_mode import OPT_OUT_RESTRICTION


@pytest.fixture
def world() -> FakeServices:
    return fake_services()


def changes(world, username: str) -> list[str]:
    return [e.type for e in world.audit.newest_first(username) if e.type == "settings.mode_changed"]


def test_only_the_primary_user_changes_the_mode(world, new_user):
    world.users.create(new_user("alice"), actor="tester")
    world.users.create(new_user("bob", phones=["+15550002222"], primary=False), actor="tester")
    seen = world.sls_mode.view("bob")
    assert (seen.mode, seen.can_change, seen.primary_username) == (SlsMode.ALWAYS, False, "alice")
    with pytest.raises(Forbidden) as refused:
        world.sls_mode.change("bob", SlsMode.OPTED_OUT, accept_risk=True)
    assert refused.value.code == "not_primary_user" and refused.value.extra["primary_username"] == "alice"
    assert world.stores.users.get_user("bob").sls_mode == SlsMode.ALWAYS and changes(world, "bob") == []
    assert world.sls_mode.change("alice", SlsMode.OPTED_OUT, accept_risk=True).mode == SlsMode.OPTED_OUT


@pytest.mark.parametrize("jurisdiction", ["HK", "IN"])
def test_some_regulators_allow_no_opt_out(world, new_user, jurisdiction):
    world.users.create(new_user("alice", jurisdiction=jurisdiction), actor="tester")
    with pytest.raises(Forbidden) as refused:
        world.sls_mode.change("alice", SlsMode.OPTED_OUT, accept_risk=True)
    assert refused.value.code == "opt_out_not_allowed"
    assert world.stores.users.get_user("alice").sls_mode == SlsMode.ALWAYS and changes(world, "alice") == []


def test_opting_out_takes_the_risk_accepted_and_adds_a_restriction(world, new_user):
    world.users.create(new_user("alice", jurisdiction="GB"), actor="tester")
    with pytest.raises(InvalidInput) as unaccepted:
        world.sls_mode.change("alice", SlsMode.OPTED_OUT, accept_risk=False)
    assert unaccepted.value.code == "accept_risk_required"
    out = world.sls_mode.change("alice", SlsMode.OPTED_OUT, accept_risk=True)
    stored = world.stores.users.get_user("alice")
    assert out.restrictions == stored.restrictions == [OPT_OUT_RESTRICTION] and stored.sls_mode == SlsMode.OPTED_OUT
    assert world.deliver_outbox() == 1
    assert "you opted out" in world.sender.last("sms", to="+15550001111").body
    back = world.sls_mode.change("alice", SlsMode.ALWAYS, accept_risk=False)
    assert back.restrictions == world.stores.users.get_user("alice").restrictions == []
    assert len(changes(world, "alice")) == 2
