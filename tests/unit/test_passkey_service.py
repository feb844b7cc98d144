"""Passkeys over the fakes: registration (once, within 5 minutes, at most 10), and a passkey's
answers through the flow engine: the counter written with the completing transaction, and
a counter going backwards locking the passkey, audited and told to the user."""
from __future__ import annotations

import pytest
from fakes import FakeServices, fake_services
from test_passkey_factor import Key, assertion, new_key, registration

from securelogin.domain.factors.base import Answer
from securelogin.domain.factors.passkey import b64u, unb64u
from securelogin.domain.models import DeviceStatus, DeviceType
from securelogin.errors import Conflict, Gone, InvalidInput, Locked, Unauthenticated
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
PORTAL = ClientInfo("portal", ip="203.0.113.7", browser="Firefox on Linux")


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice"))


def registered(world: FakeServices, key: Key, label: str = "Laptop"):
    started = world.passkeys.begin("alice")
    challenge = unb64u(started.options["challenge"])
    return world.passkeys.complete("alice", started.registration_id, label, registration(key, challenge))


def audit_types(world) -> list[str]:
    return [e.type for e in world.audit.newest_first("alice")]


def passkey_login(world, device, key: Key, **kw):
    started = world.login.start("alice", PASSWORD, PORTAL)
    public = world.login.challenge(started.login_id, device.device_id, None).public
    raw = unb64u(public["options"]["challenge"])
    return world.login.verify(started.login_id, world_answer(key, raw, **kw))


def world_answer(key: Key, raw: bytes, **kw):
    return Answer(assertion=assertion(key, raw, **kw))


def stored(world, device):
    return world.stores.devices.get("alice", device.device_id)


def test_a_passkey_is_registered_once_audited_and_told(world):
    key = new_key()
    started = world.passkeys.begin("alice")
    credential = registration(key, unb64u(started.options["challenge"]))
    device = world.passkeys.complete("alice", started.registration_id, "Laptop", credential)
    assert device.type == DeviceType.PASSKEY and device.status == DeviceStatus.ACTIVE and device.label == "Laptop"
    assert stored(world, device).credential_id == b64u(key.credential_id)
    assert "passkey.registered" in audit_types(world)
    world.deliver_outbox()
    assert "passkey (Laptop)" in world.sender.last("sms").body
    with pytest.raises(Gone) as gone:
        world.passkeys.complete("alice", started.registration_id, "Again", credential)
    assert gone.value.code == "registration_expired"
    excluded = world.passkeys.begin("alice").options["excludeCredentials"]
    assert [unb64u(c["id"]) for c in excluded] == [key.credential_id]


def test_a_refused_or_late_registration_adds_nothing(world):
    started = world.passkeys.begin("alice")
    with pytest.raises(InvalidInput) as refused:
        world.passkeys.complete("alice", started.registration_id, "Laptop", registration(new_key(), b"x" * 32))
    assert refused.value.code == "invalid_registration"
    world.clock.advance(world.policy.passkey_registration_ttl.total_seconds())
    with pytest.raises(Gone):
        world.passkeys.complete("alice", started.registration_id, "Laptop",
                                registration(new_key(), unb64u(started.options["challenge"])))
    assert not [d for d in world.stores.users.partition("alice").devices if d.type == DeviceType.PASSKEY]


def test_at_most_ten_passkeys(world):
    for n in range(world.policy.passkeys_per_user):
        registered(world, new_key(), f"key {n}")
    with pytest.raises(Conflict) as full:
        world.passkeys.begin("alice")
    assert full.value.code == "too_many_passkeys"


def test_the_counter_is_written_with_the_login_and_a_backwards_one_locks(world):
    key = new_key()
    device = registered(world, key)
    assert passkey_login(world, device, key, count=10).session.device_id == device.device_id
    assert stored(world, device).sign_count == 10
    with pytest.raises(Locked):
        passkey_login(world, device, key, count=4)
    assert stored(world, device).status == DeviceStatus.LOCKED
    assert "passkey.clone_suspected" in audit_types(world)
    world.deliver_outbox()
    assert "went backwards" in world.sender.last("sms").body
    started = world.login.start("alice", PASSWORD, PORTAL)
    with pytest.raises(Locked):
        world.login.challenge(started.login_id, device.device_id, None)


def test_a_wrong_assertion_is_counted_like_any_answer(world):
    key = new_key()
    device = registered(world, key)
    started = world.login.start("alice", PASSWORD, PORTAL)
    public = world.login.challenge(started.login_id, device.device_id, None).public
    raw = unb64u(public["options"]["challenge"])
    with pytest.raises(Unauthenticated) as wrong:
        world.login.verify(started.login_id, world_answer(key, raw, signer=new_key()))
    assert wrong.value.code == "invalid_response" and wrong.value.extra["attempts_left"] == 4
    assert stored(world, device).consecutive_failures == 1
    assert world.login.verify(started.login_id, world_answer(key, raw)).session.scope.value == "full"
