"""Step-up over the fakes: a change to the account's protection needs a session that proved
possession in the last 10 minutes with a device as strong as the user's strongest; a
session that did not steps up in place (a challenge and an answer, counted like any other,
or an approved push), and the same token is then strong for 10 minutes."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fakes import FakeServices, fake_services

from securelogin.crypto.codes import lookup_key
from securelogin.crypto.ocra import ocra
from securelogin.domain import statements
from securelogin.domain.factors.ocra_card import CARD_SUITE
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import DeviceStatus, DeviceType, FlowStatus, Method, Purpose, PushDecision
from securelogin.domain.proof import Origin, Proof
from securelogin.errors import Forbidden, Gone, NotFound, StepUpRequired, Unauthenticated
from securelogin.services.login import ClientInfo
from securelogin.services.sessions import GrantedSession

PASSWORD = "correct horse 1"
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
PIN = "4831"
ORIGIN = Origin("203.0.113.7", "Safari on iOS")
PORTAL = ClientInfo("portal", ip="203.0.113.7", browser="Safari on iOS")


def right(public: dict) -> str:
    return ocra(CARD_SUITE, bytes.fromhex(SEED), public["challenge_code"], pin=PIN)


@pytest.fixture
def world(new_user) -> FakeServices:
    return fake_services().with_users(new_user("alice"), new_user("bob", phones=["+15550002222"]))


@pytest.fixture
def card(world):
    return world.add_ocra_card("alice", SEED, PIN)


def sms_of(world, username: str = "alice"):
    return next(d for d in world.stores.users.partition(username).devices if d.type == DeviceType.SMS)


def logged_in_by_sms(world, username: str = "alice") -> GrantedSession:
    started = world.login.start(username, PASSWORD, PORTAL)
    world.login.challenge(started.login_id, sms_of(world, username).device_id, None)
    code = statements.code_in_text(world.sender.last("sms").body)
    return world.login.verify(started.login_id, code)


def logged_in_by_card(world, card) -> GrantedSession:
    started = world.login.start("alice", PASSWORD, PORTAL)
    public = world.login.challenge(started.login_id, card.device_id, None).public
    return world.login.verify(started.login_id, right(public))


def proof_of(world, granted: GrantedSession) -> Proof:
    """What the authorizer reads of the session for the next request."""
    session = world.sessions.authorize(granted.token)
    assert session is not None
    return Proof(session.key, session.username, session.platform, session.proved_at, session.proved_with)


def events(world, username: str = "alice") -> list[str]:
    return [e.type for e in world.audit.newest_first(username)]


def test_a_session_opened_with_a_weaker_device_must_step_up(world, card):
    granted = logged_in_by_sms(world)
    with pytest.raises(StepUpRequired) as required:
        world.step_up.require(proof_of(world, granted))
    assert required.value.code == "step_up_required" and isinstance(required.value, Forbidden)
    assert [d.device_id for d in required.value.devices] == [card.device_id]


def test_a_session_opened_with_the_strongest_device_is_strong_for_ten_minutes(world, card):
    proof = proof_of(world, logged_in_by_card(world, card))
    world.step_up.require(proof)
    world.clock.advance(world.policy.step_up_lifetime.total_seconds() - 1)
    world.step_up.require(proof)
    world.clock.advance(1)
    with pytest.raises(StepUpRequired):
        world.step_up.require(proof)


def test_an_sms_only_user_is_strong_with_sms(world):
    world.step_up.require(proof_of(world, logged_in_by_sms(world)))


def test_stepping_up_makes_the_same_session_strong_for_ten_minutes(world, card):
    granted = logged_in_by_sms(world)
    proof = proof_of(world, granted)
    started = world.step_up.start(proof, ORIGIN)
    assert [d.device_id for d in started.devices] == [card.device_id]
    assert started.expires_at == world.clock.now() + world.policy.login_ttl
    flow = world.stores.flows.get(Purpose.STEP_UP, lookup_key(started.step_up_id))
    assert flow.statement == ("Confirm a change to your security settings as alice from portal "
                              "(203.0.113.7, Safari on iOS)")
    assert world.step_up.status(proof, started.step_up_id) == (FlowStatus.PENDING, None)

    issued = world.step_up.challenge(proof, started.step_up_id, card.device_id, None)
    assert issued.public["statement"] == flow.statement
    world.clock.advance(30)
    until = world.step_up.verify(proof, started.step_up_id, right(issued.public))
    assert until == world.clock.now() + world.policy.step_up_lifetime

    stepped = world.sessions.authorize(granted.token)
    assert stepped.key == granted.session.key and stepped.expires_at == granted.session.expires_at
    assert (stepped.proved_at, stepped.proved_with) == (world.clock.now(), DeviceType.DSC_PLUS)
    after = proof_of(world, granted)
    world.step_up.require(after)
    assert world.step_up.status(after, started.step_up_id) == (FlowStatus.APPROVED, until)
    assert "step_up.succeeded" in events(world)
    world.clock.advance(world.policy.step_up_lifetime.total_seconds())
    with pytest.raises(StepUpRequired):
        world.step_up.require(proof_of(world, granted))


def test_only_a_strong_enough_device_is_challenged(world, card):
    proof = proof_of(world, logged_in_by_sms(world))
    started = world.step_up.start(proof, ORIGIN)
    with pytest.raises(NotFound):
        world.step_up.challenge(proof, started.step_up_id, sms_of(world).device_id, None)


def test_a_wrong_answer_counts_like_any_other(world, card):
    granted = logged_in_by_sms(world)
    proof = proof_of(world, granted)
    started = world.step_up.start(proof, ORIGIN)
    world.step_up.challenge(proof, started.step_up_id, card.device_id, None)
    with pytest.raises(Unauthenticated) as wrong:
        world.step_up.verify(proof, started.step_up_id, "00000000")
    assert wrong.value.code == "invalid_response" and wrong.value.extra["attempts_left"] == 4
    assert world.stores.devices.get("alice", card.device_id).consecutive_failures == 1
    assert "step_up.answer_failed" in events(world)
    with pytest.raises(StepUpRequired):
        world.step_up.require(proof_of(world, granted))


def test_a_step_up_belongs_to_its_session(world, card):
    proof = proof_of(world, logged_in_by_sms(world))
    started = world.step_up.start(proof, ORIGIN)
    world.clock.advance(world.policy.resend_interval.total_seconds())  # alice's next login code may be sent
    other_session = proof_of(world, logged_in_by_sms(world))
    bob = proof_of(world, logged_in_by_sms(world, "bob"))
    for stranger in (other_session, bob):
        with pytest.raises(Gone) as unknown:
            world.step_up.challenge(stranger, started.step_up_id, card.device_id, None)
        assert unknown.value.code == "step_up_expired"
        with pytest.raises(Gone):
            world.step_up.status(stranger, started.step_up_id)
    world.step_up.challenge(proof, started.step_up_id, card.device_id, None)


def test_a_login_id_is_no_step_up_id(world, card):
    proof = proof_of(world, logged_in_by_sms(world))
    started = world.login.start("alice", PASSWORD, PORTAL)
    with pytest.raises(Gone):
        world.step_up.challenge(proof, started.login_id, card.device_id, None)


def test_a_user_with_no_usable_device_cannot_step_up(world, card):
    proof = proof_of(world, logged_in_by_sms(world))
    for device in world.stores.users.partition("alice").devices:
        world.stores.devices.set_status(device, DeviceStatus.LOST, (device.status,))
    with pytest.raises(NotFound):
        world.step_up.start(proof, ORIGIN)


def test_an_approved_push_steps_the_session_up(world):
    key = ec.generate_private_key(ec.SECP256R1())
    public_key = base64.b64encode(key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    ib_key = world.add_device("alice", DeviceType.IB_KEY, DeviceSecret(seed_hex="00" * 32), public_key=public_key,
                              push_endpoint="arn:aws:sns:us-east-1:000000000000:endpoint/APNS/app/1",
                              app_instance_id="app-1", platform="ios")
    granted = logged_in_by_sms(world)
    proof = proof_of(world, granted)
    started = world.step_up.start(proof, ORIGIN)
    issued = world.step_up.challenge(proof, started.step_up_id, ib_key.device_id, None)
    assert issued.method == Method.PUSH
    data, number = world.sender.last("push").data, issued.public["match_number"]
    assert data["purpose"] == "step_up" and data["statement"] == issued.public["statement"]
    message = f"{data['push_id']}|{data['nonce']}|approve|{number}|{data['statement']}".encode()
    signature = base64.b64encode(key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()
    world.clock.advance(5)
    assert world.push.answer(ib_key.device_id, data["push_id"], data["nonce"], PushDecision.APPROVE, number,
                             signature) == FlowStatus.APPROVED
    after = proof_of(world, granted)
    assert (after.proved_at, after.proved_with) == (world.clock.now(), DeviceType.IB_KEY)
    world.step_up.require(after)
    assert world.step_up.status(after, started.step_up_id) == (
        FlowStatus.APPROVED, world.clock.now() + world.policy.step_up_lifetime)
    assert {"push.approved", "step_up.succeeded"} <= set(events(world))
