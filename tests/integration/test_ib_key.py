"""IB Key over the embedded AWS: activation by SMS and QR, Add user, push and fallback."""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from securelogin.crypto.ocra import ocra
from securelogin.domain.models import DeviceStatus, DeviceType, Method, PushDecision
from securelogin.errors import Conflict, Gone, InvalidInput, Locked, NotFound, Throttled, Unauthenticated, Unavailable
from securelogin.services.enrolment import AppEnrolment
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
PHONE = "+15550001111"
PORTAL = ClientInfo("portal")


@dataclass
class PhoneApp:
    """The IBKR Mobile app as the service sees it: a P-256 key and what enrolment gave it."""
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    app_instance_id: str | None = None
    enrolled: dict = field(default_factory=dict)

    def enrolment(self, pin: str = "7Q!x2", push: bool = True) -> AppEnrolment:
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return AppEnrolment(pin=pin, public_key=base64.b64encode(der).decode(), platform="android",
                            app_instance_id=self.app_instance_id, push_token="token-1" if push else None)

    def remember(self, username, done):
        self.enrolled[username] = done
        self.app_instance_id = done.app_instance_id

    def sign(self, data, decision, number=""):
        """What the app signs (rules.md "Cryptography"): the push it showed, the decision,
        the number the person typed and the statement."""
        message = f"{data['push_id']}|{data['nonce']}|{decision}|{number}|{data['statement']}".encode()
        return base64.b64encode(self.key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()


@pytest.fixture
def world(world_over_http, new_user):
    world_over_http.services.users.create(new_user(), actor="tester")
    return world_over_http


def last(world, channel, since=0):
    return [m for m in world.embedded.outbox.snapshot()[since:] if m["channel"] == channel][-1]


def activate(world, app, pin="7Q!x2", username="alice", password=PASSWORD, phone=PHONE):
    mark = len(world.embedded.outbox.snapshot())
    started = world.services.activation.start_by_sms(username, password, phone)
    code = re.findall(r"\d{8}", last(world, "sms", mark)["body"])[0]
    done = world.services.activation.complete_by_sms(started.activation_id, code, app.enrolment(pin))
    app.remember(username, done)
    return done


def push_login(world, app, username="alice"):
    """A login challenged by push: its id, and the push's data with the number that only
    the asking client was shown (``match_number``, which the push itself never carries)."""
    started = world.services.login.start(username, PASSWORD, PORTAL)
    key = next(d for d in started.devices if d.type == DeviceType.IB_KEY)
    mark = len(world.embedded.outbox.snapshot())
    issued = world.services.login.challenge(started.login_id, key.device_id, None)
    assert issued.method == "push"
    data = last(world, "push", mark)["data"]
    assert "match_number" not in data and issued.public["match_number"] not in data.values()
    return started.login_id, {**data, "match_number": issued.public["match_number"]}


def answer(world, app, data, decision=PushDecision.APPROVE, signer=None, number=None):
    """The app's answer; an approval types the number the asking client showed, unless told another."""
    if number is None:
        number = data["match_number"] if decision == PushDecision.APPROVE else ""
    signature = (signer or app).sign(data, decision, number)
    return world.services.push.answer(data["device_id"], data["push_id"], data["nonce"], decision, number or None,
                                      signature)


# ------------------------------------------------------------------ activation by SMS

def test_sms_activation_gives_a_secret_once_and_keeps_other_devices(world):
    done = activate(world, PhoneApp())
    assert done.ocra_suite == "OCRA-1:HOTP-SHA256-8:QN06" and re.fullmatch(r"[0-9a-f]{64}", done.ocra_secret_hex)
    devices = world.services.users.profile("alice")[1]
    assert {d.type.value for d in devices if d.status == DeviceStatus.ACTIVE} == {"sms", "ib_key"}
    assert not any("IB Key was activated" in m["body"] for m in world.embedded.outbox.snapshot())  # not yet
    world.deliver_outbox()  # the notice goes out after the change, from the outbox
    assert any("IB Key was activated" in m["body"] for m in world.embedded.outbox.snapshot())


def test_a_used_activation_token_does_not_work_again(world):
    app = PhoneApp()
    mark = len(world.embedded.outbox.snapshot())
    started = world.services.activation.start_by_sms("alice", PASSWORD, PHONE)
    code = re.findall(r"\d{8}", last(world, "sms", mark)["body"])[0]
    world.services.activation.complete_by_sms(started.activation_id, code, app.enrolment())
    with pytest.raises(Gone) as reused:
        world.services.activation.complete_by_sms(started.activation_id, code, PhoneApp().enrolment())
    assert reused.value.code == "activation_expired"


def test_wrong_tokens_count_down_and_a_weak_pin_spends_nothing(world):
    mark = len(world.embedded.outbox.snapshot())
    started = world.services.activation.start_by_sms("alice", PASSWORD, PHONE)
    code = re.findall(r"\d{8}", last(world, "sms", mark)["body"])[0]
    for pin in ("1111", "1234", "abcd", "1980"):
        with pytest.raises(InvalidInput):
            world.services.activation.complete_by_sms(started.activation_id, "00000000", PhoneApp().enrolment(pin))
    wrong = str((int(code) + 1) % 10**8).zfill(8)
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(Unauthenticated) as refused:
            world.services.activation.complete_by_sms(started.activation_id, wrong, PhoneApp().enrolment())
        assert refused.value.extra["attempts_left"] == left
    with pytest.raises(Gone):
        world.services.activation.complete_by_sms(started.activation_id, code, PhoneApp().enrolment())


def test_an_activation_token_expires_after_ten_minutes(world):
    mark = len(world.embedded.outbox.snapshot())
    started = world.services.activation.start_by_sms("alice", PASSWORD, PHONE)
    code = re.findall(r"\d{8}", last(world, "sms", mark)["body"])[0]
    world.clock.advance(601)
    with pytest.raises(Gone):
        world.services.activation.complete_by_sms(started.activation_id, code, PhoneApp().enrolment())


def test_activation_needs_the_password_and_a_p256_key(world):
    with pytest.raises(Unauthenticated):
        world.services.activation.start_by_sms("alice", "wrong", PHONE)
    mark = len(world.embedded.outbox.snapshot())
    started = world.services.activation.start_by_sms("alice", PASSWORD, PHONE)
    code = re.findall(r"\d{8}", last(world, "sms", mark)["body"])[0]
    bad = AppEnrolment(pin="7Q!x2", public_key="bm90IGEga2V5IGF0IGFsbA==", platform="ios")
    with pytest.raises(InvalidInput) as refused:
        world.services.activation.complete_by_sms(started.activation_id, code, bad)
    assert refused.value.code == "invalid_public_key"


def test_a_new_activation_revokes_the_previous_ib_key(world):
    first = activate(world, PhoneApp())
    world.clock.advance(121)
    second = activate(world, PhoneApp())
    keys = {d.device_id: d.status for d in world.services.users.profile("alice")[1] if d.type == DeviceType.IB_KEY}
    assert keys == {first.device_id: DeviceStatus.REVOKED, second.device_id: DeviceStatus.ACTIVE}


# ------------------------------------------------------------------ QR and Add user

def test_a_qr_session_works_once(world):
    session = world.services.activation.start_by_qr("alice")
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{16}", session.session_id)  # Crockford's base32
    world.services.activation.complete_by_qr(session.session_id, PhoneApp().enrolment())
    with pytest.raises(Gone) as reused:
        world.services.activation.complete_by_qr(session.session_id, PhoneApp().enrolment())
    assert reused.value.code == "qr_expired_or_used"


def test_a_typed_qr_session_id_enrols_and_the_portal_sees_the_device_it_enrolled(world):
    session = world.services.activation.start_by_qr("alice")
    typed = "-".join(session.session_id[i:i + 4] for i in range(0, 16, 4)).lower()
    assert world.services.activation.qr_status("alice", typed).status == "pending"
    recovery_id = world.services.recovery.start("alice", PASSWORD, False, None).recovery_id
    with pytest.raises(NotFound) as other_flow:
        world.services.activation.complete_by_qr(recovery_id, PhoneApp().enrolment())
    assert other_flow.value.code == "unknown_session_id"
    done = world.services.activation.complete_by_qr(typed, PhoneApp().enrolment())
    assert done.username == "alice"
    state = world.services.activation.qr_status("alice", session.session_id)
    assert (state.status, state.device_id) == ("used", done.device_id)


def test_an_expired_qr_session_is_refused(world):
    session = world.services.activation.start_by_qr("alice")
    world.clock.advance(601)
    with pytest.raises(Gone) as expired:
        world.services.activation.complete_by_qr(session.session_id, PhoneApp().enrolment())
    assert expired.value.code == "qr_expired_or_used"


def test_add_user_needs_the_apps_pin_and_refuses_a_second_enrolment(world, new_user):
    world.services.users.create(new_user("bob", phones=["+15550002222"]), actor="tester")
    app = PhoneApp()
    activate(world, app, pin="7Q!x2")
    with pytest.raises(Unauthenticated) as wrong_pin:
        world.services.activation.complete_by_qr(world.services.activation.start_by_qr("bob").session_id,
                                                 app.enrolment("8W@y3"))
    assert wrong_pin.value.code == "invalid_pin"
    bobs = world.services.activation.complete_by_qr(world.services.activation.start_by_qr("bob").session_id,
                                                    app.enrolment("7Q!x2"))
    assert bobs.app_instance_id == app.app_instance_id
    with pytest.raises(Conflict) as again:
        world.services.activation.complete_by_qr(world.services.activation.start_by_qr("alice").session_id,
                                                 app.enrolment("7Q!x2"))
    assert again.value.code == "already_enrolled"


def test_five_wrong_pins_lock_an_apps_pin_whatever_flow_asks(world, new_user):
    world.services.users.create(new_user("bob", phones=["+15550002222"]), actor="tester")
    app = PhoneApp()
    activate(world, app, pin="7Q!x2")
    session_id = world.services.activation.start_by_qr("bob").session_id
    for guess in range(5):  # a wrong PIN does not spend the QR session
        with pytest.raises(Unauthenticated) as wrong:
            world.services.activation.complete_by_qr(session_id, app.enrolment(f"g{guess}x9"))
        assert wrong.value.code == "invalid_pin"
    with pytest.raises(Locked) as locked:
        world.services.activation.complete_by_qr(session_id, app.enrolment("7Q!x2"))
    assert locked.value.code == "pin_locked" and 0 < locked.value.extra["retry_after_seconds"] <= 900
    world.clock.advance(901)  # the lock ends (and the QR session with it)
    session_id = world.services.activation.start_by_qr("bob").session_id
    assert world.services.activation.complete_by_qr(session_id, app.enrolment("7Q!x2")).app_instance_id


# ------------------------------------------------------------------ push and fallback

def test_an_approved_push_hands_the_session_out_once(world):
    app = PhoneApp()
    activate(world, app)
    login_id, data = push_login(world, app)
    assert world.services.login.status(login_id)[0].value == "pending"
    assert answer(world, app, data) == "approved"
    status, granted = world.services.login.status(login_id)
    assert status.value == "approved" and granted is not None
    assert world.services.sessions.authorize(granted.token).username == "alice"
    assert world.services.login.status(login_id)[1] is None


def test_a_denied_push_denies(world):
    app = PhoneApp()
    activate(world, app)
    login_id, data = push_login(world, app)
    assert answer(world, app, data, PushDecision.DENY) == "denied"
    status, granted = world.services.login.status(login_id)
    assert status.value == "denied" and granted is None


def test_a_forged_signature_changes_nothing(world):
    app = PhoneApp()
    activate(world, app)
    login_id, data = push_login(world, app)
    with pytest.raises(Unauthenticated) as forged:
        answer(world, app, data, signer=PhoneApp())
    assert forged.value.code == "invalid_signature"
    assert world.services.login.status(login_id)[0].value == "pending"


def test_a_replayed_answer_is_refused(world):
    app = PhoneApp()
    activate(world, app)
    _, data = push_login(world, app)
    answer(world, app, data)
    with pytest.raises(Gone):
        answer(world, app, data)
    with pytest.raises(Gone):
        answer(world, app, data, PushDecision.DENY)


def test_a_push_expires_after_two_minutes(world):
    app = PhoneApp()
    activate(world, app)
    _, data = push_login(world, app)
    world.clock.advance(121)
    with pytest.raises(Gone):
        answer(world, app, data)


def test_a_push_names_what_it_confirms_but_never_the_login(world):
    app = PhoneApp()
    activate(world, app)
    login_id, data = push_login(world, app)
    assert data["purpose"] == "login" and data["has_number"] is True
    assert data["statement"].startswith("Log in to IBKR as alice from portal")
    assert login_id not in str(data) and data["push_id"] != login_id
    assert world.services.push.status(data["push_id"]).value == "pending"
    with pytest.raises(NotFound) as unknown:
        world.services.push.status(login_id)
    assert unknown.value.code == "push_not_found"


def test_a_wrong_number_ends_the_push_and_counts_but_the_login_goes_on(world):
    app = PhoneApp()
    activate(world, app)
    login_id, data = push_login(world, app)
    wrong = f"{(int(data['match_number']) + 1) % 1000:03d}"
    with pytest.raises(Unauthenticated) as mismatch:
        answer(world, app, data, number=wrong)
    assert mismatch.value.code == "number_mismatch" and mismatch.value.extra["attempts_left"] == 4
    assert world.services.push.status(data["push_id"]).value == "answered"
    with pytest.raises(Gone):  # that push is over, even with the right number
        answer(world, app, data)
    assert world.services.login.status(login_id)[0].value == "pending"
    key = app.enrolled["alice"].device_id
    mark = len(world.embedded.outbox.snapshot())
    number = world.services.login.challenge(login_id, key, Method.PUSH).public["match_number"]
    again = {**last(world, "push", mark)["data"], "match_number": number}
    assert answer(world, app, again) == "approved"


def test_an_approval_signed_over_another_statement_changes_nothing(world):
    app = PhoneApp()
    activate(world, app)
    login_id, data = push_login(world, app)
    shown = {**data, "statement": data["statement"].replace("portal", "mobile")}
    signature = app.sign(shown, PushDecision.APPROVE, data["match_number"])
    with pytest.raises(Unauthenticated) as forged:
        world.services.push.answer(data["device_id"], data["push_id"], data["nonce"], PushDecision.APPROVE,
                                   data["match_number"], signature)
    assert forged.value.code == "invalid_signature"
    assert world.services.push.status(data["push_id"]).value == "pending"
    assert answer(world, app, data) == "approved"
    assert world.services.login.status(login_id)[1] is not None


def test_a_push_is_withdrawn_when_its_login_moves_to_another_method(world):
    app = PhoneApp()
    done = activate(world, app)
    login_id, data = push_login(world, app)
    question = world.services.login.challenge(login_id, done.device_id, Method.CHALLENGE_RESPONSE)
    assert world.services.push.status(data["push_id"]).value == "withdrawn"
    with pytest.raises(Gone) as withdrawn:
        answer(world, app, data)
    assert withdrawn.value.code == "expired"
    response = ocra(done.ocra_suite, bytes.fromhex(done.ocra_secret_hex), question.public["challenge_code"])
    assert world.services.login.verify(login_id, response).session.username == "alice"


def test_at_most_five_unanswered_pushes_in_fifteen_minutes(world):
    app = PhoneApp()
    activate(world, app)
    for _ in range(5):
        push_login(world, app)
    with pytest.raises(Throttled):
        push_login(world, app)
    world.clock.advance(15 * 60 + 1)
    push_login(world, app)


def test_a_push_that_could_not_be_sent_holds_no_place(world):
    app = PhoneApp()
    activate(world, app)
    world.embedded.faults.arm({"service": "sns", "operation": "Publish", "error": "InternalServerError",
                               "count": 2})  # the call and botocore's retry
    with pytest.raises(Unavailable):
        push_login(world, app)
    for _ in range(5):  # the push that never left takes none of the five places
        push_login(world, app)


def test_an_app_without_push_is_challenged_by_code_by_default(world):
    app = PhoneApp()
    mark = len(world.embedded.outbox.snapshot())
    started = world.services.activation.start_by_sms("alice", PASSWORD, PHONE)
    code = re.findall(r"\d{8}", last(world, "sms", mark)["body"])[0]
    done = world.services.activation.complete_by_sms(started.activation_id, code, app.enrolment(push=False))
    login = world.services.login.start("alice", PASSWORD, PORTAL)
    issued = world.services.login.challenge(login.login_id, done.device_id, None)
    assert issued.method == "challenge_response" and len(issued.public["challenge_code"]) == 6
    with pytest.raises(InvalidInput):
        world.services.login.challenge(login.login_id, done.device_id, Method.PUSH)


def test_the_offline_challenge_response(world):
    app = PhoneApp()
    done = activate(world, app)
    started = world.services.login.start("alice", PASSWORD, PORTAL)
    issued = world.services.login.challenge(started.login_id, done.device_id, Method.CHALLENGE_RESPONSE)
    question = issued.public["challenge_code"]
    response = ocra(done.ocra_suite, bytes.fromhex(done.ocra_secret_hex), question)
    assert world.services.login.verify(started.login_id, response).session.scope.value == "full"


def test_a_locked_ib_key_approves_no_push(world):
    app = PhoneApp()
    activate(world, app)
    _, data = push_login(world, app)  # a push sent before the lock
    key = app.enrolled["alice"].device_id
    for _ in range(2):
        started = world.services.login.start("alice", PASSWORD, PORTAL)
        world.services.login.challenge(started.login_id, key, Method.CHALLENGE_RESPONSE)
        for _ in range(5):
            with pytest.raises((Unauthenticated, Locked)):
                world.services.login.verify(started.login_id, "00000000")
    with pytest.raises(Locked):
        answer(world, app, data)


def test_outages_after_a_right_answer_never_spend_its_attempts(world):
    """AWS failing as a right answer completes (the write that makes the session) answers 503
    five times over; each time the answer gives back its attempt and its slot of the cap, so
    the sixth try, with AWS back, still completes the login."""
    app = PhoneApp()
    activate(world, app)
    login = world.services.login.start("alice", PASSWORD, PORTAL)
    issued = world.services.login.challenge(login.login_id, app.enrolled["alice"].device_id,
                                            Method.CHALLENGE_RESPONSE)
    done = app.enrolled["alice"]
    response = ocra(done.ocra_suite, bytes.fromhex(done.ocra_secret_hex), issued.public["challenge_code"])
    for _ in range(5):
        # the second transaction (the session's) fails, with botocore's one retry; the first (the
        # answer counted) and the third (what it took, given back) go through
        world.embedded.faults.arm({"service": "dynamodb", "operation": "TransactWriteItems",
                                   "error": "InternalServerError", "count": 2, "skip": 1})
        with pytest.raises(Exception) as outage:  # botocore's error: the API answers it 503
            world.services.login.verify(login.login_id, response)
        assert not isinstance(outage.value, (Throttled, Gone)), outage.value
        world.embedded.faults.clear()
    assert world.services.login.verify(login.login_id, response).session.username == "alice"
