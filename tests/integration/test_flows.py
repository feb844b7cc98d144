"""The flow engine's promises over moto: an id is honoured only by its own flow, every
answer counts toward every limit in every flow, a shared device is one device, and a
session ends with what opened it."""
from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from securelogin.api.http import Caller
from securelogin.crypto.ocra import ocra
from securelogin.domain.models import DeviceStatus, DeviceType, IdDocument, Identity, Scope, SlsMode
from securelogin.errors import (
    Conflict,
    Forbidden,
    Gone,
    InvalidInput,
    Locked,
    NotFound,
    StepUpRequired,
    Throttled,
    Unauthenticated,
)
from securelogin.runtime import build_services
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.enrolment import AppEnrolment
from securelogin.services.login import ClientInfo
from securelogin.settings import Settings

PASSWORD = "correct horse 1"
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
ME = Identity("1980-01-31", "US", "US", IdDocument("passport", "P7654321"), "078051120")
PORTAL = ClientInfo("portal")
APP = AppEnrolment(pin="7Q!x2", platform="ios", public_key=base64.b64encode(
    ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode())


def with_alice(world, new_user):
    """alice, with an SMS device and a DSC+ (PIN 4831)."""
    world.services.users.create(new_user("alice", identity=ME, balance_usd=900_000), actor="tester")
    world.card = world.services.backoffice_devices.issue(  # type: ignore[attr-defined]
        "alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED, pin="4831"), "cs").device
    return world


@pytest.fixture
def alice(world, new_user):
    return with_alice(world, new_user)


@pytest.fixture
def alice_over_http(world_over_http, new_user):
    """The same, over the embedded AWS, whose outbox shows what was sent."""
    return with_alice(world_over_http, new_user)


def card(public, pin="4831"):
    return ocra(SUITE, bytes.fromhex(SEED), public["challenge_code"], pin=pin)


def card_login(world, username="alice", device_id=None):
    started = world.services.login.start(username, PASSWORD, PORTAL)
    device_id = device_id or world.card.device_id
    return started.login_id, world.services.login.challenge(started.login_id, device_id, None).public


# ------------------------------------------------------------------ ids stay in their flow

def test_a_flow_id_is_unknown_to_every_other_flow(alice):
    login_id, public = card_login(alice)
    recovery = alice.services.recovery.start("alice", PASSWORD, same_phone=False, app_instance_id=None)
    assert recovery.method == "device"
    with pytest.raises(NotFound) as never_issued:  # api.md: any id never issued as a QR session
        alice.services.activation.complete_by_qr(recovery.recovery_id, APP)
    assert never_issued.value.code == "unknown_session_id"
    attempts = {
        "a recovery id as a login": lambda: alice.services.login.verify(recovery.recovery_id, card(public)),
        "a recovery id polled as a login": lambda: alice.services.login.status(recovery.recovery_id),
        "a login id as a recovery": lambda: alice.services.recovery.complete(login_id, APP, None, card(public)),
        "a login id as a withdrawal": lambda: alice.services.withdrawals.verify("alice", login_id, card(public)),
        "a login id as an SMS activation": lambda: alice.services.activation.complete_by_sms(login_id, "1", APP),
    }
    for name, attempt in attempts.items():
        with pytest.raises(Gone):
            attempt()
            pytest.fail(name)
    assert alice.services.login.verify(login_id, card(public)).session.scope == Scope.FULL  # still its own


def test_an_authorized_withdrawal_opens_no_login_session(alice):
    login_id, public = card_login(alice)
    alice.services.login.verify(login_id, card(public))
    started = alice.services.withdrawals.create("alice", 25)
    public = alice.services.withdrawals.challenge("alice", started.withdrawal_id, alice.card.device_id, None).public
    alice.services.withdrawals.verify("alice", started.withdrawal_id, card(public))
    with pytest.raises(Gone):
        alice.services.login.status(started.withdrawal_id)


# ------------------------------------------------------------------ a new phone is a new authenticator

def proof_of(granted):
    """What a route's session proves, as the authorizer hands it over (api/http.py)."""
    return Caller.of(granted.session).proof


def sms_login(world, username, phone):
    started = world.services.login.start(username, PASSWORD, PORTAL)
    sms = next(d for d in started.devices if d.type == DeviceType.SMS)
    world.services.login.challenge(started.login_id, sms.device_id, None)
    return world.services.login.verify(started.login_id, world.sent("sms", phone)[-1]["code"])


def test_a_number_not_on_file_needs_the_same_users_full_session(alice_over_http, new_user):
    alice = alice_over_http
    alice.services.users.create(new_user("mallory", phones=["+15550003333"]), actor="tester")
    stranger = "+15559990000"
    mallorys = proof_of(sms_login(alice, "mallory", "+15550003333"))  # strong for mallory: SMS is all she has
    for session in (None, mallorys):
        with pytest.raises(Forbidden) as refused:
            alice.services.activation.start_by_sms("alice", PASSWORD, stranger, session)
        assert refused.value.code == "phone_not_on_file"
    alice.clock.advance(121)  # the login's resend interval
    by_sms = proof_of(sms_login(alice, "alice", "+15550001111"))  # alice has a DSC+: an SMS is not enough
    with pytest.raises(StepUpRequired) as weak:
        alice.services.activation.start_by_sms("alice", PASSWORD, stranger, by_sms)
    assert weak.value.code == "step_up_required"
    assert [d.device_id for d in weak.value.devices] == [alice.card.device_id]
    login_id, public = card_login(alice)
    by_card = proof_of(alice.services.login.verify(login_id, card(public)))
    alice.clock.advance(601)  # the card's proof is no longer recent
    with pytest.raises(StepUpRequired):
        alice.services.activation.start_by_sms("alice", PASSWORD, stranger, by_card)
    assert alice.sent("sms", stranger) == []
    login_id, public = card_login(alice)
    by_card = proof_of(alice.services.login.verify(login_id, card(public)))
    assert alice.services.activation.start_by_sms("alice", PASSWORD, stranger, by_card).sent_to.endswith("000")
    assert len(alice.sent("sms", stranger)) == 1
    alice.clock.advance(121)  # the resend interval
    assert alice.services.activation.start_by_sms("alice", PASSWORD, "+15550001111").activation_id  # on file


# ------------------------------------------------------------------ every answer counts, in every flow

def test_wrong_answers_during_recovery_count_toward_the_device_lock(alice):
    for _ in range(2):
        recovery = alice.services.recovery.start("alice", PASSWORD, same_phone=False, app_instance_id=None)
        for _ in range(5):
            with pytest.raises((Unauthenticated, Locked)):  # the tenth locks
                alice.services.recovery.complete(recovery.recovery_id, APP, None, "00000000")
        alice.clock.advance(1)
    with pytest.raises(Locked) as locked:
        card_login(alice)
    assert locked.value.code == "device_locked"


def test_a_flow_takes_five_answers_then_is_spent(alice):
    recovery = alice.services.recovery.start("alice", PASSWORD, same_phone=False, app_instance_id=None)
    lefts = []
    for _ in range(5):
        with pytest.raises(Unauthenticated) as wrong:
            alice.services.recovery.complete(recovery.recovery_id, APP, None, "00000000")
        lefts.append(wrong.value.extra["attempts_left"])
    assert lefts == [4, 3, 2, 1, 0]
    with pytest.raises(Gone):
        alice.services.recovery.complete(recovery.recovery_id, APP, None, card(recovery.challenge))


def test_the_cap_on_answers_holds_over_any_sixty_minutes(aws, monkeypatch, new_user):
    """Three answers per hour here (the policy says 100): two wrong at 0:00, one at 0:30.
    At 0:59 nothing may answer, not even rightly; at 1:00:01 the two slots of 0:00 are free."""
    monkeypatch.setenv("POLICY_OVERRIDES", '{"user_failures_per_hour": 3}')
    from securelogin.clock import Clock

    clock = Clock()
    services = build_services(Settings.from_environment(), clock)
    services.users.create(new_user("alice"), actor="tester")
    device = services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                    pin="4831"), "cs").device

    def login():
        started = services.login.start("alice", PASSWORD, PORTAL)
        return started.login_id, services.login.challenge(started.login_id, device.device_id, None).public

    login_id, _ = login()
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            services.login.verify(login_id, "00000000")
    clock.advance(30 * 60)
    login_id, _ = login()
    with pytest.raises(Unauthenticated):
        services.login.verify(login_id, "00000000")
    clock.advance(29 * 60)
    login_id, public = login()
    with pytest.raises(Throttled) as capped:
        services.login.verify(login_id, card(public))
    assert 0 < capped.value.extra["retry_after_seconds"] <= 60
    clock.advance(61)
    login_id, public = login()
    assert services.login.verify(login_id, card(public)).session.username == "alice"


def test_a_right_answer_gives_its_slot_back(aws, monkeypatch, new_user):
    monkeypatch.setenv("POLICY_OVERRIDES", '{"user_failures_per_hour": 2}')
    from securelogin.clock import Clock

    services = build_services(Settings.from_environment(), Clock())
    services.users.create(new_user("alice"), actor="tester")
    device = services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                    pin="4831"), "cs").device
    for _ in range(5):
        started = services.login.start("alice", PASSWORD, PORTAL)
        public = services.login.challenge(started.login_id, device.device_id, None).public
        services.login.verify(started.login_id, card(public))


# ------------------------------------------------------------------ a shared device is one device

@pytest.fixture
def shared(alice, new_user):
    """twin: the same person as alice, using alice's DSC+ through an approved share."""
    alice.services.users.create(new_user("twin", phones=["+15550002222"], identity=ME), actor="tester")
    started = alice.services.sharing.start("twin", "alice", PASSWORD)
    assert alice.services.sharing.complete("twin", started.share.share_id, card(started.challenge)).status == \
        "approved"
    alice.share_id = started.share.share_id  # type: ignore[attr-defined]
    return alice


def test_a_lost_shared_card_stops_for_every_username_at_once(shared):
    shared.services.backoffice_devices.mark_lost("alice", shared.card.device_id, "cs", reason="client called")
    twin = {d.device_id: d for d in shared.services.users.profile("twin")[1]}
    assert twin[shared.card.device_id].status == DeviceStatus.LOST
    offered = shared.services.login.start("twin", PASSWORD, PORTAL).devices
    assert shared.card.device_id not in {d.device_id for d in offered}


def test_wrong_answers_through_a_share_lock_the_card_for_its_owner(shared):
    for _ in range(2):
        login_id, _ = card_login(shared, "twin")
        for _ in range(5):
            with pytest.raises((Unauthenticated, Locked)):
                shared.services.login.verify(login_id, "00000000")
    with pytest.raises(Locked):
        card_login(shared, "alice")


def test_wrong_sharing_answers_count_toward_the_owners_card(alice, new_user):
    alice.services.users.create(new_user("twin", phones=["+15550002222"], identity=ME), actor="tester")
    for _ in range(2):
        started = alice.services.sharing.start("twin", "alice", PASSWORD)
        for _ in range(5):
            with pytest.raises((Unauthenticated, Locked)):
                alice.services.sharing.complete("twin", started.share.share_id, "00000000")
    with pytest.raises(Locked):
        card_login(alice)


def test_a_changed_pin_holds_for_everyone_sharing_the_card(shared):
    code, _ = shared.services.user_devices.pin_challenge("twin", shared.card.device_id)
    shared.services.user_devices.change_pin("twin", shared.card.device_id, card({"challenge_code": code}), "7391")
    login_id, public = card_login(shared, "alice")
    assert shared.services.login.verify(login_id, card(public, pin="7391")).session.username == "alice"


# ------------------------------------------------------------------ changing a DSC+ PIN (KB1018)

def test_changing_the_pin_is_answered_with_the_current_one(alice):
    code, _ = alice.services.user_devices.pin_challenge("alice", alice.card.device_id)
    with pytest.raises(InvalidInput):  # a weak PIN is refused before the answer is counted
        alice.services.user_devices.change_pin("alice", alice.card.device_id, card({"challenge_code": code}), "1234")
    with pytest.raises(Unauthenticated) as wrong:
        alice.services.user_devices.change_pin("alice", alice.card.device_id,
                                               card({"challenge_code": code}, pin="0000"), "7391")
    assert wrong.value.extra["attempts_left"] == 4
    alice.services.user_devices.change_pin("alice", alice.card.device_id, card({"challenge_code": code}), "7391")
    with pytest.raises(Gone):  # the challenge is spent
        alice.services.user_devices.change_pin("alice", alice.card.device_id, card({"challenge_code": code}), "7391")
    login_id, public = card_login(alice)
    with pytest.raises(Unauthenticated):
        alice.services.login.verify(login_id, card(public))
    assert alice.services.login.verify(login_id, card(public, pin="7391")).session.username == "alice"


def test_only_an_active_dsc_plus_has_a_pin_to_change(alice):
    sms = next(d for d in alice.services.users.profile("alice")[1] if d.type == DeviceType.SMS)
    with pytest.raises(Conflict):
        alice.services.user_devices.pin_challenge("alice", sms.device_id)


# ------------------------------------------------------------------ a shipped card

def test_a_shipped_card_takes_five_answers_per_challenge(alice):
    world = alice
    request = world.services.user_devices.request_dsc_plus("alice", "4831", "lost")
    shipped = world.services.backoffice_devices.fulfil(request.request_id, "DSC-1", SEED, "cs")
    question, _ = world.services.user_devices.activation_challenge("alice", shipped.device_id)
    for _ in range(5):
        with pytest.raises(Unauthenticated):
            world.services.user_devices.activate("alice", shipped.device_id, "00000000")
    with pytest.raises(Gone):
        world.services.user_devices.activate("alice", shipped.device_id, card({"challenge_code": question}))
    question, _ = world.services.user_devices.activation_challenge("alice", shipped.device_id)
    for _ in range(4):
        with pytest.raises(Unauthenticated):
            world.services.user_devices.activate("alice", shipped.device_id, "00000000")
    with pytest.raises(Locked):  # the tenth wrong answer in a row locks the card
        world.services.user_devices.activate("alice", shipped.device_id, "00000000")


# ------------------------------------------------------------------ sessions end with what opened them

def test_a_temporary_code_session_ends_with_its_full_access(world, new_user):
    world.services.users.create(new_user("alice"), actor="tester")
    issued = world.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked")
    world.clock.advance(2 * 86400 - 1800)
    started = world.services.login.start("alice", PASSWORD, PORTAL)
    world.services.login.challenge(started.login_id, issued.device.device_id, None)
    granted = world.services.login.verify(started.login_id, issued.code)
    assert granted.session.scope == Scope.FULL and granted.session.expires_at == issued.device.full_access_until
    world.clock.advance(1700)
    assert world.services.sessions.authorize(granted.token) is not None
    world.clock.advance(200)
    assert world.services.sessions.authorize(granted.token) is None


def test_a_permanent_device_from_the_back_office_ends_the_temporary_period(world, new_user):
    world.services.users.create(new_user("alice"), actor="tester")
    temporary = world.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked").device
    world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs")
    statuses = {d.device_id: d.status for d in world.services.users.profile("alice")[1]}
    assert statuses[temporary.device_id] == DeviceStatus.REVOKED
    again = world.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked")
    assert again.code  # no longer "two in a row"


# ------------------------------------------------------------------ names and devices

def test_usernames_that_differ_only_in_case_or_width_are_one(world, new_user):
    world.services.users.create(new_user("Trader.X"), actor="tester")
    for again in ("trader.x", "\uff34\uff32\uff21\uff24\uff25\uff32.\uff38"):  # full-width letters
        with pytest.raises(Conflict) as taken:
            world.services.users.create(new_user(again), actor="tester")
        assert taken.value.code == "username_taken"
    assert world.services.login.start("TRADER.x", PASSWORD, PORTAL).login_id


def test_the_last_device_cannot_be_returned_and_an_sms_device_never(alice):
    sms = next(d for d in alice.services.users.profile("alice")[1] if d.type == DeviceType.SMS)
    with pytest.raises(Conflict) as refused:
        alice.services.user_devices.return_device("alice", sms.device_id)
    assert refused.value.code == "not_returnable"
    alice.services.user_devices.deactivate("alice", sms.device_id)
    with pytest.raises(Conflict) as last:
        alice.services.user_devices.return_device("alice", alice.card.device_id)
    assert last.value.code == "last_device"


# ------------------------------------------------------------------ a session lives no longer than its opener

def test_a_session_ends_when_its_device_is_lost_and_cannot_bring_it_back(alice):
    login_id, public = card_login(alice)
    granted = alice.services.login.verify(login_id, card(public))
    with pytest.raises(Forbidden):  # reactivating needs another device's session
        alice.services.user_devices.reactivate("alice", alice.card.device_id, alice.card.device_id)
    alice.services.backoffice_devices.mark_lost("alice", alice.card.device_id, "cs", reason="client called")
    assert alice.services.sessions.authorize(granted.token) is None


def test_a_session_through_a_share_ends_when_the_share_does(shared):
    login_id, public = card_login(shared, "twin")
    granted = shared.services.login.verify(login_id, card(public))
    assert shared.services.sessions.authorize(granted.token) is not None
    shared.services.sharing.cancel("twin", shared.share_id)
    assert shared.services.sessions.authorize(granted.token) is None


def test_a_trading_session_ends_when_the_user_opts_back_in(world, new_user):
    world.services.users.create(new_user("alice", jurisdiction="US"), actor="tester")
    world.services.sls_mode.change("alice", SlsMode.OPTED_OUT, accept_risk=True)
    trading = world.services.login.start("alice", PASSWORD, PORTAL).trading_session
    assert trading is not None and world.services.sessions.authorize(trading.token) is not None
    world.services.sls_mode.change("alice", SlsMode.ALWAYS, accept_risk=False)
    assert world.services.sessions.authorize(trading.token) is None


# ------------------------------------------------------------------ a shared device is its owner's to manage

def test_whoever_uses_a_shared_card_cannot_remove_return_or_work_around_it(shared):
    with pytest.raises(Conflict) as removing:
        shared.services.user_devices.deactivate("twin", shared.card.device_id)
    with pytest.raises(Conflict) as returning:
        shared.services.user_devices.return_device("twin", shared.card.device_id)
    assert removing.value.code == returning.value.code == "shared_device"
    own = shared.services.backoffice_devices.issue("twin", DeviceOrder(type=DeviceType.SCC), "cs").device
    shared.services.user_devices.deactivate("twin", own.device_id)
    with pytest.raises(Conflict) as reviving:
        shared.services.user_devices.reactivate("twin", own.device_id, None)
    assert reviving.value.code == "shared_device_in_use"
    shared.services.backoffice_devices.mark_lost("alice", shared.card.device_id, "cs", reason="client called")
    with pytest.raises(Conflict):  # the owner's lost card comes back only by its owner
        shared.services.user_devices.reactivate("twin", shared.card.device_id, None)


# ------------------------------------------------------------------ the device as challenged

def test_a_pin_changed_after_the_challenge_is_the_pin_that_answers(alice):
    login_id, public = card_login(alice)
    code, _ = alice.services.user_devices.pin_challenge("alice", alice.card.device_id)
    alice.services.user_devices.change_pin("alice", alice.card.device_id, card({"challenge_code": code}), "2957")
    with pytest.raises(Unauthenticated):  # the challenge's copy of the card still has the old PIN
        alice.services.login.verify(login_id, card(public, pin="4831"))
    assert alice.services.login.verify(login_id, card(public, pin="2957")).session.scope == Scope.FULL


def test_a_device_marked_lost_after_the_challenge_cannot_answer_it(alice):
    login_id, public = card_login(alice)
    alice.services.backoffice_devices.mark_lost("alice", alice.card.device_id, actor="cs", reason="client called")
    with pytest.raises(NotFound):
        alice.services.login.verify(login_id, card(public))


def test_a_device_locked_after_the_challenge_cannot_answer_it(alice):
    login_id, public = card_login(alice)
    for _ in range(2):
        other_id, _ = card_login(alice)
        for _ in range(5):
            with pytest.raises((Unauthenticated, Locked)):
                alice.services.login.verify(other_id, "00000000")
    with pytest.raises(Locked):
        alice.services.login.verify(login_id, card(public))


def test_an_answer_whose_random_slot_is_in_use_takes_a_free_one(alice, monkeypatch):
    import securelogin.adapters.flows as flows_adapter
    import securelogin.ports as ports

    login_id, _ = card_login(alice)
    with pytest.raises(Unauthenticated):
        alice.services.login.verify(login_id, "00000000")  # holds its slot for an hour
    [used] = flows_adapter.FlowStore().slots("alice")
    monkeypatch.setattr(ports.secrets, "randbelow", lambda _: int(used))  # the first pick collides
    login_id, public = card_login(alice)
    assert alice.services.login.verify(login_id, card(public)).session.scope == Scope.FULL
    assert list(flows_adapter.FlowStore().slots("alice")) == [used]  # the right answer gave back its own


def test_a_login_and_its_audit_event_are_written_together(alice):
    login_id, public = card_login(alice)
    before = [e.type for e in alice.services.audit.newest_first("alice")]
    alice.services.login.verify(login_id, card(public))
    after = [e.type for e in alice.services.audit.newest_first("alice")]
    assert after[0] == "login.succeeded" and len(after) == len(before) + 1


def test_a_user_made_before_the_cap_existed_can_answer_and_gets_the_slots_item(alice):
    from securelogin.adapters.flows import FlowStore
    from securelogin.adapters.table import AnswerSlotsItem

    AnswerSlotsItem(pk="USER#alice", sk="ANSWERS").delete()
    login_id, public = card_login(alice)
    assert alice.services.login.verify(login_id, card(public)).session.scope == Scope.FULL
    assert FlowStore().slots("alice") == {}  # made on the way, and the right answer gave its slot back
