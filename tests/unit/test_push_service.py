"""Push answers over the fakes. The app signs what it showed (the push, its nonce, the
decision, the number typed and the statement); a signature over anything else counts
nothing. An approval is an answer like any other: its number must be the one the asking
client was shown, and a wrong one is a wrong answer that ends the push. A denial ends the
flow and keeps the push's place; three pause pushes. A push is withdrawn when its flow
moves on, and the app can ask what became of it."""
from __future__ import annotations

import base64
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fakes import FakeServices, fake_services

from securelogin.crypto.codes import lookup_key
from securelogin.domain.factors.secrets import DeviceSecret
from securelogin.domain.models import DeviceType, FlowStatus, Method, Purpose, PushDecision, PushStatus
from securelogin.errors import Gone, Locked, NotFound, Throttled, Unauthenticated
from securelogin.policy import Policy
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
PHONE_NUMBER = "+15550001111"
APPROVE, DENY = PushDecision.APPROVE, PushDecision.DENY
PORTAL = ClientInfo("portal", ip="203.0.113.7", browser="Firefox on macOS")
SHOWN = object()  # the number the asking client was shown


class Phone:
    """The app's P-256 key, which signs ``"{push_id}|{nonce}|{decision}|{number}|{statement}"``."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())

    @property
    def public_key(self) -> str:
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def sign(self, push_id: str, nonce: str, decision: str, number: str, statement: str) -> str:
        message = f"{push_id}|{nonce}|{decision}|{number}|{statement}".encode()
        return base64.b64encode(self.key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()


@dataclass(frozen=True)
class Pushed:
    flow_id: str  # stays with the client that asked: the app never sees it
    data: dict  # what the notification carried
    number: str | None  # what the asking client was shown

    @property
    def key(self) -> str:
        return lookup_key(self.data["push_id"])


@pytest.fixture
def phone() -> Phone:
    return Phone()


def a_world(new_user, policy: Policy | None = None) -> FakeServices:
    return fake_services(policy=policy).with_users(new_user("alice", balance_usd=1_000_000))


@pytest.fixture
def world(new_user) -> FakeServices:
    return a_world(new_user)


def add_ib_key(world, phone):
    return world.add_device("alice", DeviceType.IB_KEY, DeviceSecret(seed_hex="00" * 32), public_key=phone.public_key,
                            push_endpoint="arn:aws:sns:us-east-1:000000000000:endpoint/GCM/app/1",
                            app_instance_id="app-1", platform="android")


@pytest.fixture
def ib_key(world, phone):
    return add_ib_key(world, phone)


def pushed_login(world, ib_key) -> Pushed:
    """A login of alice's challenged by push."""
    started = world.login.start("alice", PASSWORD, PORTAL)
    issued = world.login.challenge(started.login_id, ib_key.device_id, None)
    assert issued.method == Method.PUSH
    data = world.sender.last("push").data
    assert data["statement"] == issued.public["statement"]
    return Pushed(started.login_id, data, issued.public.get("match_number"))


def answer(world, phone: Phone, pushed: Pushed, decision: PushDecision, number: object = SHOWN,
           signer: Phone | None = None, signed: dict[str, str] | None = None):
    """The app's answer: ``number`` as typed (by default the one shown, for an approval, and
    none for a denial), signed by ``signer`` (the phone) over what was sent, but for the
    fields that ``signed`` gives otherwise."""
    if number is SHOWN:
        number = pushed.number if decision == APPROVE else None
    assert number is None or isinstance(number, str)
    fields = {"push_id": pushed.data["push_id"], "nonce": pushed.data["nonce"], "decision": decision.value,
              "number": number or "", "statement": pushed.data["statement"], **(signed or {})}
    signature = (signer or phone).sign(**fields)
    return world.push.answer(pushed.data["device_id"], pushed.data["push_id"], pushed.data["nonce"], decision,
                             number, signature)


def another(number: str) -> str:
    return str((int(number) + 1) % 1000).zfill(3)


def events(world) -> list[str]:
    return [e.type for e in world.audit.newest_first("alice")]


def login_flow(world, pushed: Pushed):
    return world.stores.flows.get(Purpose.LOGIN, lookup_key(pushed.flow_id))


def push_status(world, pushed: Pushed) -> PushStatus:
    return world.push.status(pushed.data["push_id"])


def places(world) -> set[str]:
    """The pushes that hold a place in alice's send guard."""
    return set(world.stores.throttles.guard("alice").pushes)


def nothing_counted(world, pushed: Pushed, ib_key) -> None:
    assert login_flow(world, pushed).attempts == 0
    assert world.stores.devices.get("alice", ib_key.device_id).consecutive_failures == 0
    assert world.table.answer_slots["alice"] == {}
    assert push_status(world, pushed) == PushStatus.PENDING


def sms_notices(world) -> list[str]:
    world.deliver_outbox()
    return [m.body for m in world.sender.sent if m.channel == "sms" and m.to == PHONE_NUMBER]


# ------------------------------------------------------------------ approving

def test_the_push_carries_the_statement_and_the_client_the_number(world, ib_key):
    pushed = pushed_login(world, ib_key)
    assert pushed.data["statement"] == "Log in to IBKR as alice from portal (203.0.113.7, Firefox on macOS)"
    assert pushed.data["purpose"] == "login" and pushed.data["has_number"] is True
    assert pushed.number is not None and len(pushed.number) == 3 and pushed.number.isdigit()
    assert pushed.flow_id not in str(pushed.data) and lookup_key(pushed.flow_id) not in str(pushed.data)
    stored = world.stores.flows.push(pushed.key)
    assert stored.flow_key == lookup_key(pushed.flow_id) and stored.number_digest != pushed.number


def test_an_approval_with_the_number_shown_confirms_the_login_and_its_session_is_handed_out_once(world, phone,
                                                                                                 ib_key):
    pushed = pushed_login(world, ib_key)
    assert world.login.status(pushed.flow_id) == (FlowStatus.PENDING, None)
    assert places(world) == {pushed.key}
    assert answer(world, phone, pushed, APPROVE) == FlowStatus.APPROVED
    status, granted = world.login.status(pushed.flow_id)
    assert status == FlowStatus.APPROVED and granted.session.device_id == ib_key.device_id
    assert granted.session.proved_with == DeviceType.IB_KEY and granted.session.proved_at == world.clock.now()
    assert world.sessions.authorize(granted.token) == granted.session
    assert world.login.status(pushed.flow_id) == (FlowStatus.APPROVED, None)
    assert events(world).count("push.approved") == 1 and events(world).count("login.succeeded") == 1
    assert world.stores.devices.get("alice", ib_key.device_id).last_used_at == world.clock.now()
    assert push_status(world, pushed) == PushStatus.ANSWERED
    assert places(world) == set()  # an approval gives its place back
    assert world.table.answer_slots["alice"] == {}  # and the slot of the cap it took


def test_a_push_is_answered_once(world, phone, ib_key):
    pushed = pushed_login(world, ib_key)
    answer(world, phone, pushed, APPROVE)
    for decision in (APPROVE, DENY):
        with pytest.raises(Gone) as again:
            answer(world, phone, pushed, decision)
        assert again.value.code == "expired"


def test_a_locked_device_answers_nothing(world, phone, ib_key):
    pushed = pushed_login(world, ib_key)
    world.stores.flows.count_failure(ib_key, world.clock.now(), 1, world.policy.device_lock_duration)
    with pytest.raises(Locked):
        answer(world, phone, pushed, APPROVE)
    assert world.login.status(pushed.flow_id) == (FlowStatus.PENDING, None)


def test_an_expired_push_answers_gone(world, phone, ib_key):
    pushed = pushed_login(world, ib_key)
    world.clock.advance(world.policy.challenge_ttl.total_seconds())
    with pytest.raises(Gone) as late:
        answer(world, phone, pushed, APPROVE)
    assert late.value.code == "expired" and login_flow(world, pushed).attempts == 0


def test_a_push_approval_authorizes_a_withdrawal(world, phone, ib_key):
    started = world.withdrawals.create("alice", 1_000, "ACME Bank 0001")
    issued = world.withdrawals.challenge("alice", started.withdrawal_id, ib_key.device_id, Method.PUSH)
    data = world.sender.last("push").data
    assert data["purpose"] == Purpose.WITHDRAWAL and data["statement"] == started.statement
    assert started.statement == "Withdraw USD 1,000.00 to ACME Bank 0001"
    pushed = Pushed(started.withdrawal_id, data, issued.public["match_number"])
    assert answer(world, phone, pushed, APPROVE) == FlowStatus.APPROVED
    assert world.withdrawals.status("alice", started.withdrawal_id) == "authorized"
    assert world.stores.ledger.totals("alice", world.clock.now().date(), world.clock.now().date()) == \
        {world.clock.now().date(): 1_000}
    assert {"push.approved", "withdrawal.authorized"} <= set(events(world))
    flow = world.stores.flows.get(Purpose.WITHDRAWAL, lookup_key(started.withdrawal_id))
    assert flow.confirmed_by == ib_key.device_id
    assert places(world) == set() and push_status(world, pushed) == PushStatus.ANSWERED


# ------------------------------------------------------------------ what the signature covers

@pytest.mark.parametrize("forgery", ["another key", "another decision", "another statement", "another number",
                                     "another push", "another nonce"])
def test_a_signature_over_anything_else_is_refused_and_counts_nothing(world, phone, ib_key, forgery):
    pushed = pushed_login(world, ib_key)
    assert pushed.number is not None
    signer, signed = (Phone(), None) if forgery == "another key" else (phone, {
        "another decision": {"decision": DENY.value},
        "another statement": {"statement": pushed.data["statement"].replace("203.0.113.7", "198.51.100.9")},
        "another number": {"number": another(pushed.number)},
        "another push": {"push_id": "someone-elses-push"},
        "another nonce": {"nonce": "another-nonce"}}[forgery])
    with pytest.raises(Unauthenticated) as refused:
        answer(world, phone, pushed, APPROVE, signer=signer, signed=signed)
    assert refused.value.code == "invalid_signature" and "attempts_left" not in refused.value.extra
    assert events(world).count("push.invalid_signature") == 1 and "login.answer_failed" not in events(world)
    nothing_counted(world, pushed, ib_key)
    assert answer(world, phone, pushed, APPROVE) == FlowStatus.APPROVED


def test_an_approval_of_another_amount_or_destination_is_refused(world, phone, ib_key):
    started = world.withdrawals.create("alice", 1_000, "ACME Bank 0001")
    issued = world.withdrawals.challenge("alice", started.withdrawal_id, ib_key.device_id, Method.PUSH)
    pushed = Pushed(started.withdrawal_id, world.sender.last("push").data, issued.public["match_number"])
    for statement in ("Withdraw USD 9,000.00 to ACME Bank 0001", "Withdraw USD 1,000.00 to Mallory Bank 6666"):
        with pytest.raises(Unauthenticated) as refused:
            answer(world, phone, pushed, APPROVE, signed={"statement": statement})
        assert refused.value.code == "invalid_signature"
    assert world.withdrawals.status("alice", started.withdrawal_id) == "pending"
    assert answer(world, phone, pushed, APPROVE) == FlowStatus.APPROVED


# ------------------------------------------------------------------ number matching

@pytest.mark.parametrize("typed", ["another", None])
def test_a_wrong_or_missing_number_is_a_wrong_answer_that_ends_that_push(world, phone, ib_key, typed):
    pushed = pushed_login(world, ib_key)
    number = another(pushed.number) if typed == "another" else None
    with pytest.raises(Unauthenticated) as refused:
        answer(world, phone, pushed, APPROVE, number=number)  # signed as sent: the signature holds
    assert refused.value.code == "number_mismatch" and refused.value.extra["attempts_left"] == 4
    flow = login_flow(world, pushed)
    assert flow.status == FlowStatus.PENDING and flow.attempts == 1
    assert world.stores.devices.get("alice", ib_key.device_id).consecutive_failures == 1
    assert len(world.table.answer_slots["alice"]) == 1
    assert "login.answer_failed" in events(world)
    assert push_status(world, pushed) == PushStatus.ANSWERED and pushed.key in places(world)
    with pytest.raises(Gone):  # that push is over, even with the right number
        answer(world, phone, pushed, APPROVE)
    again = pushed_login_again(world, pushed, ib_key)  # the flow goes on, and may ask again
    assert answer(world, phone, again, APPROVE) == FlowStatus.APPROVED
    assert world.stores.devices.get("alice", ib_key.device_id).consecutive_failures == 0


def pushed_login_again(world, pushed: Pushed, ib_key) -> Pushed:
    """A new push in the same login."""
    issued = world.login.challenge(pushed.flow_id, ib_key.device_id, Method.PUSH)
    return Pushed(pushed.flow_id, world.sender.last("push").data, issued.public["match_number"])


def test_wrong_numbers_spend_the_flows_attempts(new_user, phone):
    world = a_world(new_user, Policy().with_overrides({"attempts_per_transaction": 2}))
    ib_key = add_ib_key(world, phone)
    pushed = pushed_login(world, ib_key)
    lefts = []
    for _ in range(2):
        with pytest.raises(Unauthenticated) as refused:
            answer(world, phone, pushed, APPROVE, number=another(pushed.number))
        lefts.append(refused.value.extra["attempts_left"])
        pushed = pushed_login_again(world, pushed, ib_key)
    assert lefts == [1, 0]
    with pytest.raises(Throttled) as spent:  # even the right number, now
        answer(world, phone, pushed, APPROVE)
    assert spent.value.code == "too_many_attempts"


def test_wrong_numbers_lock_the_device(new_user, phone):
    world = a_world(new_user, Policy().with_overrides({"device_lock_after": 3}))
    ib_key = add_ib_key(world, phone)
    refusals = []
    for _ in range(3):
        pushed = pushed_login(world, ib_key)
        with pytest.raises((Unauthenticated, Locked)) as refused:
            answer(world, phone, pushed, APPROVE, number=another(pushed.number))
        refusals.append(refused.value)
    assert [type(r) for r in refusals] == [Unauthenticated, Unauthenticated, Locked]
    assert refusals[-1].code == "device_locked"
    assert refusals[-1].extra["retry_after_seconds"] == world.policy.device_lock_duration.total_seconds()
    assert "device.locked" in events(world)
    with pytest.raises(Locked):
        pushed_login(world, ib_key)


# ------------------------------------------------------------------ denying

def test_a_denial_ends_the_login_without_a_session_and_keeps_its_place(world, phone, ib_key):
    pushed = pushed_login(world, ib_key)
    assert answer(world, phone, pushed, DENY) == FlowStatus.DENIED
    assert world.login.status(pushed.flow_id) == (FlowStatus.DENIED, None)
    assert world.table.sessions == {} and "push.denied" in events(world)
    assert push_status(world, pushed) == PushStatus.ANSWERED
    assert places(world) == {pushed.key}  # a denied push keeps its place
    assert login_flow(world, pushed).attempts == 0  # a denial is no wrong answer
    assert world.stores.devices.get("alice", ib_key.device_id).consecutive_failures == 0
    assert sms_notices(world) == []


def test_three_denials_pause_pushes_and_tell_the_user(world, phone, ib_key):
    sms = next(d for d in world.stores.users.partition("alice").devices if d.type == DeviceType.SMS)
    for n in range(3):
        world.clock.advance(60)
        answer(world, phone, pushed_login(world, ib_key), DENY)
        if n < 2:
            assert "push.paused" not in events(world) and sms_notices(world) == []
    assert events(world).count("push.paused") == 1 and events(world).count("push.denied") == 3
    notices = sms_notices(world)
    assert len(notices) == 1 and "paused" in notices[0]

    with pytest.raises(Throttled) as paused:
        pushed_login(world, ib_key)
    assert paused.value.code == "push_paused"
    assert paused.value.extra["retry_after_seconds"] == world.policy.push_pause.total_seconds()
    started = world.login.start("alice", PASSWORD, PORTAL)  # the other devices still work
    assert world.login.challenge(started.login_id, sms.device_id, None).method == Method.SMS
    assert world.login.challenge(started.login_id, ib_key.device_id, Method.CHALLENGE_RESPONSE).public[
        "challenge_code"]  # and so does the app's offline code

    world.clock.advance(world.policy.push_pause.total_seconds())
    pushed_login(world, ib_key)


# ------------------------------------------------------------------ the send guard on pushes

def test_pushes_hold_their_place_until_approved(world, phone, ib_key):
    pushes = [pushed_login(world, ib_key) for _ in range(world.policy.pushes_per_window)]
    with pytest.raises(Throttled) as full:
        pushed_login(world, ib_key)
    assert full.value.code == "resend_too_soon"
    assert full.value.extra["retry_after_seconds"] == world.policy.push_window.total_seconds()
    answer(world, phone, pushes[0], DENY)  # a denial frees nothing
    with pytest.raises(Throttled):
        pushed_login(world, ib_key)
    answer(world, phone, pushes[1], APPROVE)  # an approval does
    pushed_login(world, ib_key)
    with pytest.raises(Throttled):
        pushed_login(world, ib_key)
    world.clock.advance(world.policy.push_window.total_seconds())  # the first ones leave the window
    pushed_login(world, ib_key)


# ------------------------------------------------------------------ withdrawn, expired, and what the app asks

def test_a_push_is_withdrawn_when_its_flow_moves_to_another_challenge(world, phone, ib_key):
    first = pushed_login(world, ib_key)
    second = pushed_login_again(world, first, ib_key)  # another push in the same flow
    assert push_status(world, first) == PushStatus.WITHDRAWN and push_status(world, second) == PushStatus.PENDING
    with pytest.raises(Gone) as withdrawn:
        answer(world, phone, first, APPROVE)
    assert withdrawn.value.code == "expired" and login_flow(world, first).attempts == 0
    sms = next(d for d in world.stores.users.partition("alice").devices if d.type == DeviceType.SMS)
    world.login.challenge(first.flow_id, sms.device_id, None)  # another device
    assert push_status(world, second) == PushStatus.WITHDRAWN
    with pytest.raises(Gone):
        answer(world, phone, second, DENY)
    assert login_flow(world, first).status == FlowStatus.PENDING


def test_a_push_that_was_answered_or_expired_is_not_withdrawn(world, phone, ib_key):
    first = pushed_login(world, ib_key)
    with pytest.raises(Unauthenticated):
        answer(world, phone, first, APPROVE, number=another(first.number))
    second = pushed_login_again(world, first, ib_key)
    assert push_status(world, first) == PushStatus.ANSWERED
    world.clock.advance(world.policy.challenge_ttl.total_seconds())
    pushed_login_again(world, second, ib_key)
    assert push_status(world, second) == PushStatus.EXPIRED


def test_the_app_learns_what_became_of_a_push(world, phone, ib_key):
    approved, denied, left = (pushed_login(world, ib_key) for _ in range(3))
    assert {push_status(world, p) for p in (approved, denied, left)} == {PushStatus.PENDING}
    answer(world, phone, approved, APPROVE)
    answer(world, phone, denied, DENY)
    assert push_status(world, approved) == push_status(world, denied) == PushStatus.ANSWERED
    assert push_status(world, left) == PushStatus.PENDING
    world.clock.advance(world.policy.challenge_ttl.total_seconds())
    assert push_status(world, left) == PushStatus.EXPIRED
    for unknown in ("never-issued", approved.flow_id):  # nor is a flow's id a push's
        with pytest.raises(NotFound) as missing:
            world.push.status(unknown)
        assert missing.value.code == "push_not_found"


def test_an_answer_from_another_device_is_refused(world, phone, ib_key):
    pushed = pushed_login(world, ib_key)
    other = add_ib_key(world, phone)
    with pytest.raises(Gone):
        world.push.answer(other.device_id, pushed.data["push_id"], pushed.data["nonce"], APPROVE, pushed.number,
                          phone.sign(pushed.data["push_id"], pushed.data["nonce"], "approve", pushed.number,
                                     pushed.data["statement"]))
    nothing_counted(world, pushed, ib_key)
