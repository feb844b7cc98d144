"""The login flow over moto: password step, SMS challenge, answers, locks, sessions."""
import re
import threading
from datetime import timedelta

import boto3
import pytest
from botocore.config import Config

from securelogin.adapters.messaging import AwsMessageSender
from securelogin.domain.models import Method
from securelogin.errors import Conflict, Gone, Locked, NotFound, Throttled, Unauthenticated, Unavailable
from securelogin.runtime import build_services
from securelogin.services.login import ClientInfo
from securelogin.settings import Settings

PORTAL = ClientInfo("portal")
PASSWORD = "correct horse 1"


def sent_codes(world, phone="+15550001111"):
    """The codes texted to ``phone`` (the embedded AWS's outbox), oldest first."""
    return [re.findall(r"\d{6}", m["body"])[0] for m in world.sent("sms", phone)]


@pytest.fixture
def alice(world_over_http, new_user):
    world_over_http.services.users.create(new_user(), actor="tester")
    return world_over_http


def begin(world, username="alice", password=PASSWORD, client=PORTAL):
    started = world.services.login.start(username, password, client)
    device = started.devices[0]
    world.services.login.challenge(started.login_id, device.device_id, None)
    return started.login_id, sent_codes(world)[-1]


def wrong(code):
    return str((int(code) + 1) % 10**6).zfill(6)


# ------------------------------------------------------------------ password step

def test_wrong_password_and_unknown_user_get_the_same_refusal(alice):
    with pytest.raises(Unauthenticated) as known:
        alice.services.login.start("alice", "wrong", PORTAL)
    with pytest.raises(Unauthenticated) as unknown:
        alice.services.login.start("nobody", "wrong", PORTAL)
    assert (known.value.code, known.value.message) == (unknown.value.code, unknown.value.message)


@pytest.mark.parametrize("username", ["alice", "nobody"])
def test_ten_failures_lock_any_username_for_fifteen_minutes(alice, username):
    for _ in range(10):
        with pytest.raises(Unauthenticated):
            alice.services.login.start(username, "wrong", PORTAL)
    with pytest.raises(Throttled) as locked:
        alice.services.login.start(username, PASSWORD, PORTAL)
    assert locked.value.code == "too_many_attempts" and 0 < locked.value.extra["retry_after_seconds"] <= 900
    alice.clock.advance(15 * 60 - 2)
    with pytest.raises(Throttled) as still:  # locked to the end of the fifteen minutes
        alice.services.login.start(username, PASSWORD, PORTAL)
    assert still.value.code == "too_many_attempts" and still.value.extra["retry_after_seconds"] <= 2
    alice.clock.advance(3)
    # the lock has ended: the password is checked again, for a known and an unknown username alike
    with pytest.raises(Unauthenticated) as refused:
        alice.services.login.start(username, "wrong", PORTAL)
    assert refused.value.code == "invalid_credentials"
    if username == "alice":
        assert [d.type.value for d in alice.services.login.start(username, PASSWORD, PORTAL).devices] == ["sms"]
    else:
        with pytest.raises(Unauthenticated) as unknown:  # no password is right for nobody
            alice.services.login.start(username, PASSWORD, PORTAL)
        assert unknown.value.code == "invalid_credentials"


def test_a_success_forgets_earlier_failures(alice):
    for _ in range(9):
        with pytest.raises(Unauthenticated):
            alice.services.login.start("alice", "wrong", PORTAL)
    alice.services.login.start("alice", PASSWORD, PORTAL)
    for _ in range(9):
        with pytest.raises(Unauthenticated):
            alice.services.login.start("alice", "wrong", PORTAL)
    assert alice.services.login.start("alice", PASSWORD, PORTAL).login_id


def test_the_login_offers_the_active_devices_and_a_default(alice):
    started = alice.services.login.start("alice", PASSWORD, PORTAL)
    assert [d.type.value for d in started.devices] == ["sms"]
    assert started.default_device_id == started.devices[0].device_id
    assert len(started.login_id) >= 22  # 128 random bits


# ------------------------------------------------------------------ SMS answer

def test_the_right_code_gives_a_full_session_once(alice):
    login_id, code = begin(alice)
    granted = alice.services.login.verify(login_id, code)
    assert granted.session.scope.value == "full"
    assert alice.services.sessions.authorize(granted.token).username == "alice"
    with pytest.raises(Gone):
        alice.services.login.verify(login_id, code)
    assert alice.services.login.status(login_id)[0].value == "approved"


def test_wrong_codes_count_down_then_the_login_is_spent(alice):
    login_id, code = begin(alice)
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(Unauthenticated) as refused:
            alice.services.login.verify(login_id, wrong(code))
        assert refused.value.code == "invalid_response" and refused.value.extra["attempts_left"] == left
    with pytest.raises(Throttled):
        alice.services.login.verify(login_id, code)


def test_a_code_expires_with_its_login(alice):
    login_id, code = begin(alice)
    alice.clock.advance(5 * 60 + 1)
    with pytest.raises(Gone) as expired:
        alice.services.login.verify(login_id, code)
    assert expired.value.code == "login_expired"
    assert alice.services.login.status(login_id)[0].value == "expired"


def test_answer_before_challenge(alice):
    started = alice.services.login.start("alice", PASSWORD, PORTAL)
    with pytest.raises(Conflict):
        alice.services.login.verify(started.login_id, "123456")


def test_an_unknown_login_is_gone(alice):
    with pytest.raises(Gone):
        alice.services.login.challenge("x" * 22, "dev_x", None)


def test_only_offered_devices_can_be_challenged(alice, new_user):
    alice.services.users.create(new_user("bob", phones=["+15550002222"]), actor="tester")
    bobs = alice.services.users.profile("bob")[1][0]
    started = alice.services.login.start("alice", PASSWORD, PORTAL)
    with pytest.raises(NotFound):
        alice.services.login.challenge(started.login_id, bobs.device_id, None)


def test_resend_waits_two_minutes_across_logins(alice):
    begin(alice)
    started = alice.services.login.start("alice", PASSWORD, PORTAL)
    with pytest.raises(Throttled) as early:
        alice.services.login.challenge(started.login_id, started.devices[0].device_id, Method.VOICE)
    assert early.value.code == "resend_too_soon" and 0 < early.value.extra["retry_after_seconds"] <= 120
    alice.clock.advance(121)
    alice.services.login.challenge(started.login_id, started.devices[0].device_id, Method.SMS)
    assert len(sent_codes(alice)) == 2


def test_a_failed_sms_leaves_the_login_retryable(alice, monkeypatch):
    unreachable = boto3.client("sns", endpoint_url="http://127.0.0.1:9",
                               config=Config(retries={"max_attempts": 1}, connect_timeout=1))
    broken = build_services(Settings.from_environment(), alice.clock,
                            sender=AwsMessageSender(lambda: unreachable, lambda: None, "+15550009999"))
    started = broken.login.start("alice", PASSWORD, PORTAL)
    device_id = started.devices[0].device_id
    with pytest.raises(Unavailable):
        broken.login.challenge(started.login_id, device_id, None)
    # the throttle was given back: the same login can ask again at once
    alice.services.login.challenge(started.login_id, device_id, None)
    assert alice.services.login.verify(started.login_id, sent_codes(alice)[-1]).token


def fail_until_locked(world):
    """Answers wrongly, three times per login, until the device locks: (failures, the refusal)."""
    failures = 0
    while True:
        world.clock.advance(121)  # past the resend throttle
        login_id, code = begin(world)
        for _ in range(3):
            failures += 1
            try:
                world.services.login.verify(login_id, wrong(code))
            except Locked as locked:
                return failures, locked
            except Unauthenticated:
                pass


def test_ten_wrong_answers_lock_the_device(alice):
    failures, locked = fail_until_locked(alice)
    assert failures == 10 and locked.code == "device_locked"
    started = alice.services.login.start("alice", PASSWORD, PORTAL)
    assert started.devices[0].status_at(alice.clock.now()).value == "locked"
    with pytest.raises(Locked):
        alice.services.login.challenge(started.login_id, started.devices[0].device_id, None)
    assert "device.locked" in [e.type for e in alice.services.audit.newest_first("alice")]


def test_a_device_lock_ends_and_the_next_one_lasts_twice_as_long(alice):
    first = fail_until_locked(alice)[1].extra["retry_after_seconds"]
    alice.clock.advance(first)
    second = fail_until_locked(alice)[1].extra["retry_after_seconds"]
    assert 14 * 60 < first <= 15 * 60 + 1 and 29 * 60 < second <= 30 * 60 + 1


def test_parallel_right_answers_give_exactly_one_session(world_over_http, new_user):
    world = world_over_http
    world.services.users.create(new_user(), actor="tester")
    started = world.services.login.start("alice", PASSWORD, PORTAL)
    world.services.login.challenge(started.login_id, started.devices[0].device_id, None)
    code = outbox_codes(world)[-1]
    outcomes: list[object] = []
    gate = threading.Barrier(8)

    def answer():
        gate.wait()
        try:
            outcomes.append(world.services.login.verify(started.login_id, code))
        except (Gone, Throttled) as exc:  # lost the race, or came after the flow's five answers were taken
            outcomes.append(exc)

    threads = [threading.Thread(target=answer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sessions = [o for o in outcomes if not isinstance(o, Exception)]
    assert len(outcomes) == 8 and len(sessions) == 1


def outbox_codes(world):
    """Codes texted through the embedded AWS, oldest first."""
    return [re.findall(r"\d{6}", m["body"])[0] for m in world.embedded.outbox.snapshot() if m["channel"] == "sms"]


def test_old_trading_platforms_get_only_the_default_device(alice):
    old = alice.services.login.start("alice", PASSWORD, ClientInfo("tws", 965))
    assert [d.device_id for d in old.devices] == [old.default_device_id]


def test_logins_are_audited_without_secrets(alice):
    login_id, code = begin(alice)
    with pytest.raises(Unauthenticated):
        alice.services.login.verify(login_id, wrong(code))
    alice.services.login.verify(login_id, code)
    events = alice.services.audit.newest_first("alice")
    assert [e.type for e in events[:2]] == ["login.succeeded", "login.answer_failed"]
    assert code not in str(events) and wrong(code) not in str(events)


# ------------------------------------------------------------------ sessions

def test_sessions_last_twelve_hours_and_can_be_revoked(alice):
    login_id, code = begin(alice)
    granted = alice.services.login.verify(login_id, code)
    alice.clock.advance(12 * 3600 - 10)
    assert alice.services.sessions.authorize(granted.token) == granted.session
    alice.clock.advance(20)
    assert alice.services.sessions.authorize(granted.token) is None

    login_id, code = (alice.clock.advance(121), begin(alice))[1]
    other = alice.services.login.verify(login_id, code)
    alice.services.sessions.revoke(other.session.key)
    assert alice.services.sessions.authorize(other.token) is None


def test_forged_tokens_are_refused(alice):
    for token in ("", "forged", "sls_" + "a" * 43, "sls_" + "x" * 500):
        assert alice.services.sessions.authorize(token) is None


def test_session_tokens_are_not_stored(alice):
    login_id, code = begin(alice)
    granted = alice.services.login.verify(login_id, code)
    client = boto3.client("dynamodb")
    item = client.get_item(TableName=alice.table, Key={"pk": {"S": f"SESSION#{granted.session.key}"},
                                                       "sk": {"S": "SESSION"}})["Item"]
    assert granted.token not in str(item) and item["expires_ttl"]
    assert granted.session.expires_at - granted.session.created_at == timedelta(hours=12)
