"""Push answers over the fakes: an IB Key approves or denies once, with a signature that
must verify with its key; unanswered pushes are capped; a push can authorize a withdrawal."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fakes import FakeServices, fake_services

from securelogin.crypto.codes import lookup_key
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import DeviceType, FlowStatus, Method, Purpose, PushDecision
from securelogin.errors import Gone, Locked, Throttled, Unauthenticated
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
APPROVE, DENY = PushDecision.APPROVE, PushDecision.DENY


class Phone:
    """The app's P-256 key, which signs its decisions."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> str:
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def sign(self, data: dict, decision: PushDecision) -> str:
        message = f"{data['transaction_id']}|{data['nonce']}|{decision.value}".encode()
        return base64.b64encode(self.key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.fixture
def phone() -> Phone:
    return Phone()


@pytest.fixture
def world(new_user, phone) -> FakeServices:
    return fake_services().with_users(new_user("alice", balance_usd=1_000_000))


@pytest.fixture
def ib_key(world, phone):
    return world.add_device("alice", DeviceType.IB_KEY, DeviceSecret(seed_hex="00" * 32), public_key=phone.public_key,
                            push_endpoint="arn:aws:sns:us-east-1:000000000000:endpoint/GCM/app/1",
                            app_instance_id="app-1", platform="android")


def pushed_login(world, ib_key) -> tuple[str, dict]:
    """A login of alice's challenged by push: its id and what the push carried."""
    started = world.login.start("alice", PASSWORD, ClientInfo("portal"))
    issued = world.login.challenge(started.login_id, ib_key.device_id, None)
    assert issued.method == Method.PUSH
    return started.login_id, world.sender.last("push").data


def answer(world, phone: Phone, data: dict, decision: PushDecision, signed: PushDecision | None = None):
    return world.push.answer(data["device_id"], data["transaction_id"], data["nonce"], decision,
                             phone.sign(data, signed or decision))


def events(world) -> list[str]:
    return [e.type for e in world.audit.newest_first("alice")]


def test_an_approval_confirms_the_login_and_its_session_is_handed_out_once(world, phone, ib_key):
    login_id, data = pushed_login(world, ib_key)
    assert world.login.status(login_id) == (FlowStatus.PENDING, None)
    assert answer(world, phone, data, APPROVE) == FlowStatus.APPROVED
    status, granted = world.login.status(login_id)
    assert status == FlowStatus.APPROVED and granted.session.device_id == ib_key.device_id
    assert world.sessions.authorize(granted.token) == granted.session
    assert world.login.status(login_id) == (FlowStatus.APPROVED, None)
    assert events(world).count("login.push_approved") == 1 and events(world).count("login.succeeded") == 1
    assert world.stores.devices.get("alice", ib_key.device_id).last_used_at == world.clock.now()


def test_a_denial_ends_the_login_without_a_session(world, phone, ib_key):
    login_id, data = pushed_login(world, ib_key)
    assert answer(world, phone, data, DENY) == FlowStatus.DENIED
    assert world.login.status(login_id) == (FlowStatus.DENIED, None)
    assert world.table.sessions == {} and "login.push_denied" in events(world)


def test_the_signature_must_verify_with_the_devices_key(world, phone, ib_key):
    login_id, data = pushed_login(world, ib_key)
    for signer, signed in ((Phone(), APPROVE), (phone, DENY)):  # another key; another decision than the one sent
        with pytest.raises(Unauthenticated) as forged:
            answer(world, signer, data, APPROVE, signed=signed)
        assert forged.value.code == "invalid_signature"
    assert events(world).count("push.invalid_signature") == 2
    assert world.login.status(login_id) == (FlowStatus.PENDING, None)
    assert answer(world, phone, data, APPROVE) == FlowStatus.APPROVED


def test_a_push_is_answered_once(world, phone, ib_key):
    _, data = pushed_login(world, ib_key)
    answer(world, phone, data, APPROVE)
    for decision in (APPROVE, DENY):
        with pytest.raises(Gone):
            answer(world, phone, data, decision)


def test_a_locked_device_answers_nothing(world, phone, ib_key):
    login_id, data = pushed_login(world, ib_key)
    world.stores.flows.count_failure(ib_key, world.clock.now(), 1, world.policy.device_lock_duration)
    with pytest.raises(Locked):
        answer(world, phone, data, APPROVE)
    assert world.login.status(login_id) == (FlowStatus.PENDING, None)


def test_unanswered_pushes_are_capped_and_an_answer_frees_one(world, phone, ib_key):
    pushes = [pushed_login(world, ib_key)[1] for _ in range(world.policy.pushes_per_window)]
    with pytest.raises(Throttled):
        pushed_login(world, ib_key)
    answer(world, phone, pushes[0], DENY)
    pushed_login(world, ib_key)
    with pytest.raises(Throttled):
        pushed_login(world, ib_key)
    world.clock.advance(world.policy.push_window.total_seconds())  # a new window
    pushed_login(world, ib_key)


def test_a_push_approval_authorizes_a_withdrawal(world, phone, ib_key):
    started = world.withdrawals.create("alice", 1_000)
    world.withdrawals.challenge("alice", started.withdrawal_id, ib_key.device_id, Method.PUSH)
    data = world.sender.last("push").data
    assert data["purpose"] == Purpose.WITHDRAWAL
    assert answer(world, phone, data, APPROVE) == FlowStatus.APPROVED
    assert world.withdrawals.status("alice", started.withdrawal_id) == "authorized"
    assert world.stores.ledger.totals("alice", world.clock.now().date(), world.clock.now().date()) == \
        {world.clock.now().date(): 1_000}
    assert {"withdrawal.push_approved", "withdrawal.authorized"} <= set(events(world))
    flow = world.stores.flows.get(Purpose.WITHDRAWAL, lookup_key(started.withdrawal_id))
    assert flow.confirmed_by == ib_key.device_id
