"""One-time things happen once when 16 requests race, through the embedded AWS over HTTP
(whose conditional writes are atomic, as DynamoDB's are); no race ends in a 5xx."""
from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from test_ib_key import PhoneApp, activate, answer, push_login

from securelogin.adapters.table import SessionItem
from securelogin.api.errors import STATUS
from securelogin.api.http import Caller
from securelogin.crypto.ocra import ocra
from securelogin.domain.models import DeviceStatus, DeviceType, FlowStatus, Method, PushStatus
from securelogin.domain.proof import Origin
from securelogin.errors import DomainError, StepUpRequired
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.login import ClientInfo

PASSWORD = "correct horse 1"
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
RACERS = 16


def race(action: Callable[[int], object], n: int = RACERS) -> list[object]:
    """``action(i)`` in ``n`` threads released at once: each result, or the domain error
    it raised. Anything else (a 5xx-to-be) fails the test."""
    gate, outcomes, unexpected = threading.Barrier(n), [None] * n, []

    def run(i: int) -> None:
        gate.wait()
        try:
            outcomes[i] = action(i)
        except DomainError as refused:
            outcomes[i] = refused
        except Exception as exc:
            unexpected.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not unexpected, unexpected
    assert all(STATUS[type(o)] < 500 for o in outcomes if isinstance(o, DomainError)), outcomes
    return outcomes


def winners(outcomes: list[object]) -> list[object]:
    return [o for o in outcomes if not isinstance(o, DomainError)]


def codes(outcomes: list[object]) -> Counter:
    return Counter(o.code for o in outcomes if isinstance(o, DomainError))


@pytest.fixture
def world(world_over_http, new_user):
    world_over_http.services.users.create(new_user("alice", balance_usd=3_000_000), actor="tester")
    return world_over_http


def texted(world, digits: int, since: int = 0) -> str:
    sms = [m for m in world.embedded.outbox.snapshot()[since:] if m["channel"] == "sms"]
    return re.findall(rf"\d{{{digits}}}", sms[-1]["body"])[0]


def card_login(world):
    card = next(d for d in world.services.users.profile("alice")[1] if d.type == DeviceType.DSC_PLUS)
    started = world.services.login.start("alice", PASSWORD, ClientInfo("portal"))
    public = world.services.login.challenge(started.login_id, card.device_id, None).public
    return started.login_id, ocra(SUITE, bytes.fromhex(SEED), public["challenge_code"], pin="4831")


def test_sixteen_right_answers_open_one_session(world):
    started = world.services.login.start("alice", PASSWORD, ClientInfo("portal"))
    mark = len(world.embedded.outbox.snapshot())
    world.services.login.challenge(started.login_id, started.devices[0].device_id, None)
    code = texted(world, 6, mark)
    outcomes = race(lambda _: world.services.login.verify(started.login_id, code))
    assert len(winners(outcomes)) == 1


def test_sixteen_guesses_are_counted_as_sixteen_and_checked_at_most_five_times(world):
    world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                 pin="4831"), "cs")
    login_id, _ = card_login(world)
    outcomes = race(lambda i: world.services.login.verify(login_id, f"{i:08d}"))
    assert codes(outcomes)["invalid_response"] == 5 and not winners(outcomes), codes(outcomes)
    checked = [e for e in world.services.audit.newest_first("alice", 100) if e.type == "login.answer_failed"]
    assert len(checked) == 5


def test_racing_guesses_lock_a_device_once(world):
    world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                 pin="4831"), "cs")
    logins = [card_login(world)[0] for _ in range(4)]
    outcomes = race(lambda i: world.services.login.verify(logins[i % 4], f"{i:08d}"))
    assert set(codes(outcomes)) <= {"invalid_response", "device_locked"} and not winners(outcomes)
    card = next(d for d in world.services.users.profile("alice")[1] if d.type == DeviceType.DSC_PLUS)
    assert card.status_at(world.clock.now()) == DeviceStatus.LOCKED and card.lock_count == 1


def test_racing_right_answers_never_lock_a_device(world):
    world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                 pin="4831"), "cs")
    ready = [card_login(world) for _ in range(RACERS)]
    outcomes = race(lambda i: world.services.login.verify(*ready[i]))
    assert len(winners(outcomes)) == RACERS, codes(outcomes)


def test_sixteen_activations_with_one_token_enrol_one_app(world):
    mark = len(world.embedded.outbox.snapshot())
    started = world.services.activation.start_by_sms("alice", PASSWORD, "+15550001111")
    code = texted(world, 8, mark)
    apps = [PhoneApp() for _ in range(RACERS)]
    outcomes = race(lambda i: world.services.activation.complete_by_sms(started.activation_id, code,
                                                                        apps[i].enrolment()))
    assert len(winners(outcomes)) == 1
    keys = [d for d in world.services.users.profile("alice")[1] if d.type == DeviceType.IB_KEY]
    assert len(keys) == 1


def test_sixteen_completions_of_one_qr_session_enrol_one_app(world):
    session = world.services.activation.start_by_qr("alice")
    apps = [PhoneApp() for _ in range(RACERS)]
    outcomes = race(lambda i: world.services.activation.complete_by_qr(session.session_id, apps[i].enrolment()))
    assert len(winners(outcomes)) == 1 and set(codes(outcomes)) == {"qr_expired_or_used"}


def test_sixteen_back_office_requests_give_one_temporary_code(world):
    outcomes = race(lambda _: world.services.backoffice_devices.issue_temporary_code("alice", "cs",
                                                                                     reason="identity checked"))
    assert len(winners(outcomes)) == 1 and set(codes(outcomes)) == {"consecutive_temporary_code"}


def test_sixteen_dsc_plus_requests_open_one(world):
    app = PhoneApp()
    mark = len(world.embedded.outbox.snapshot())
    started = world.services.activation.start_by_sms("alice", PASSWORD, "+15550001111")
    world.services.activation.complete_by_sms(started.activation_id, texted(world, 8, mark), app.enrolment())
    outcomes = race(lambda _: world.services.user_devices.request_dsc_plus("alice", "5820", "new"))
    assert len(winners(outcomes)) == 1 and set(codes(outcomes)) == {"request_pending"}


def _ready_withdrawals(world, amount: float) -> list[tuple[str, str]]:
    world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC, seed_hex=SEED, pin="4831",
                                                                 legacy_import=True), "cs")
    card = next(d for d in world.services.users.profile("alice")[1] if d.type == DeviceType.DSC)
    ready = []
    for _ in range(RACERS):
        started = world.services.withdrawals.create("alice", amount)
        public = world.services.withdrawals.challenge("alice", started.withdrawal_id, card.device_id, None).public
        ready.append((started.withdrawal_id, ocra(SUITE, bytes.fromhex(SEED), public["challenge_code"], pin="4831")))
    return ready


def test_sixteen_withdrawals_that_fit_together_all_pass(world):
    ready = _ready_withdrawals(world, 60_000)  # 960,000 of the legacy DSC's 1,000,000 a day
    outcomes = race(lambda i: world.services.withdrawals.verify("alice", *ready[i]))
    assert len(winners(outcomes)) == RACERS, codes(outcomes)


def test_sixteen_withdrawals_that_do_not_fit_pass_up_to_the_limit(world):
    ready = _ready_withdrawals(world, 100_000)  # ten fit in the day's 1,000,000
    outcomes = race(lambda i: world.services.withdrawals.verify("alice", *ready[i]))
    assert len(winners(outcomes)) == 10 and codes(outcomes) == Counter({"limit_exceeded": 6})
    left = world.services.withdrawals.limits(*world.services.users.profile("alice"))["dsc"]
    assert left["remaining_today"] == 0


def test_two_devices_removed_at_once_leave_one(world):
    scc = world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs").device
    sms = next(d for d in world.services.users.profile("alice")[1] if d.type == DeviceType.SMS)
    targets = [scc.device_id, sms.device_id]
    outcomes = race(lambda i: world.services.user_devices.deactivate("alice", targets[i % 2]))
    assert len(winners(outcomes)) == 1
    active = [d for d in world.services.users.profile("alice")[1] if d.status == DeviceStatus.ACTIVE]
    assert len(active) == 1


def test_sixteen_enrolments_at_once_leave_one_active_ib_key(world):
    sessions = [world.services.activation.start_by_qr("alice").session_id for _ in range(RACERS)]
    apps = [PhoneApp() for _ in range(RACERS)]
    race(lambda i: world.services.activation.complete_by_qr(sessions[i], apps[i].enrolment()))
    keys = [d for d in world.services.users.profile("alice")[1]
            if d.type == DeviceType.IB_KEY and d.status == DeviceStatus.ACTIVE]
    assert len(keys) == 1


def test_sixteen_online_cards_at_once_leave_one(world):
    issued = world.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked")
    outcomes = race(lambda _: world.services.user_devices.online_card("alice", issued.device.device_id))
    assert len(winners(outcomes)) >= 1 and set(codes(outcomes)) <= {"devices_changed"}
    cards = [d for d in world.services.users.profile("alice")[1]
             if d.type == DeviceType.ONLINE_SCC and d.status == DeviceStatus.ACTIVE]
    assert len(cards) == 1


def test_sixteen_wrong_passwords_at_once_are_checked_at_most_ten_times(world):
    outcomes = race(lambda i: world.services.login.start("alice", f"wrong-{i}", ClientInfo("portal")))
    found = codes(outcomes)
    assert found["invalid_credentials"] == 10 and found["too_many_attempts"] == 6, found
    with pytest.raises(DomainError) as locked:
        world.services.login.start("alice", PASSWORD, ClientInfo("portal"))
    assert locked.value.code == "too_many_attempts"


# ------------------------------------------------------------------ confirmations (issue 21): one-time things

def _sms_session(world):
    """A session opened with alice's SMS device: weaker than any card she also has."""
    started = world.services.login.start("alice", PASSWORD, ClientInfo("portal"))
    sms = next(d for d in started.devices if d.type == DeviceType.SMS)
    mark = len(world.embedded.outbox.snapshot())
    world.services.login.challenge(started.login_id, sms.device_id, None)
    return world.services.login.verify(started.login_id, texted(world, 6, mark))


def _events(world, kind: str) -> list[object]:
    return [e for e in world.services.audit.newest_first("alice", 500) if e.type == kind]


def _sixteen_approvals(world):
    """Alice's IB Key gets one login push, approved 16 times at once, each with the number
    the browser showed: the login's id, the push's data and what each approval got."""
    app = PhoneApp()
    activate(world, app)
    login_id, data = push_login(world, app)
    return login_id, data, race(lambda _: answer(world, app, data))


def test_sixteen_approvals_of_one_push_approve_it_once_and_open_one_session(world):
    login_id, data, outcomes = _sixteen_approvals(world)
    assert winners(outcomes) == [FlowStatus.APPROVED], codes(outcomes)
    assert world.services.push.status(data["push_id"]) == PushStatus.ANSWERED
    status, granted = world.services.login.status(login_id)
    assert status == FlowStatus.APPROVED and granted is not None
    assert world.services.login.status(login_id)[1] is None
    assert len(_events(world, "push.approved")) == len(_events(world, "login.succeeded")) == 1
    assert [s.username for s in SessionItem.scan(SessionItem.username == "alice")] == ["alice"]


def test_the_approvals_that_lose_the_race_are_told_the_push_was_answered(world):
    _, _, outcomes = _sixteen_approvals(world)
    assert len(winners(outcomes)) == 1
    assert all(STATUS[type(o)] == 410 for o in outcomes if isinstance(o, DomainError)), codes(outcomes)
    assert codes(outcomes) == Counter({"expired": RACERS - 1})


def test_sixteen_right_step_up_answers_make_the_session_strong_once(world):
    card = world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                        pin="4831"), "cs").device
    granted = _sms_session(world)
    proof = Caller.of(granted.session).proof
    with pytest.raises(StepUpRequired):  # alice's DSC+ is stronger than her SMS
        world.services.step_up.require(proof)
    started = world.services.step_up.start(proof, Origin("203.0.113.7", "Firefox on macOS"))
    public = world.services.step_up.challenge(proof, started.step_up_id, card.device_id, None).public
    response = ocra(SUITE, bytes.fromhex(SEED), public["challenge_code"], pin="4831")
    outcomes = race(lambda _: world.services.step_up.verify(proof, started.step_up_id, response))
    assert len(winners(outcomes)) == 1, codes(outcomes)
    assert all(400 <= STATUS[type(o)] < 500 for o in outcomes if isinstance(o, DomainError)), codes(outcomes)
    assert len(_events(world, "step_up.succeeded")) == 1
    session = world.services.sessions.authorize(granted.token)
    assert session is not None and session.proved_with == DeviceType.DSC_PLUS
    assert session.proved_at is not None and winners(outcomes)[0] == session.proved_at + timedelta(minutes=10)
    world.services.step_up.require(Caller.of(session).proof)  # the same token is strong now
    assert world.services.step_up.status(proof, started.step_up_id)[0] == FlowStatus.APPROVED


def test_sixteen_challenges_of_a_code_card_in_sixteen_logins_ask_one_pair(world):
    issued = world.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.SCC), "cs")
    logins = [world.services.login.start("alice", PASSWORD, ClientInfo("portal")).login_id for _ in range(RACERS)]
    outcomes = race(lambda i: world.services.login.challenge(logins[i], issued.device.device_id, None))
    assert len(winners(outcomes)) == RACERS, codes(outcomes)
    pairs = {tuple(o.public["indices"]) for o in winners(outcomes)}
    assert len(pairs) == 1, pairs  # one draw: every login asks it
    [(first, second)] = pairs
    card = next(d for d in world.services.users.profile("alice")[1] if d.device_id == issued.device.device_id)
    assert card.open_pair is not None and card.open_pair.startswith(f"{first},{second}@")
    session = world.services.login.verify(logins[RACERS - 1], issued.card[first] + issued.card[second]).session
    assert session.device_id == issued.device.device_id


def test_sixteen_push_challenges_at_once_send_at_most_five_pushes(world):
    app = PhoneApp()
    key = activate(world, app).device_id
    logins = [world.services.login.start("alice", PASSWORD, ClientInfo("portal")).login_id for _ in range(RACERS)]
    mark = len(world.embedded.outbox.snapshot())
    outcomes = race(lambda i: world.services.login.challenge(logins[i], key, Method.PUSH))
    pushes = [m for m in world.embedded.outbox.snapshot()[mark:] if m["channel"] == "push"]
    assert len(pushes) <= 5
    assert len(winners(outcomes)) == len(pushes) == 5, codes(outcomes)
    assert codes(outcomes) == Counter({"resend_too_soon": RACERS - 5})
    assert all(0 < o.extra["retry_after_seconds"] <= 900 for o in outcomes if isinstance(o, DomainError))
    assert len(world.services.flows._throttles.guard("alice").pushes) == 5
    with pytest.raises(DomainError) as sixth:  # the window holds after the race too
        world.services.login.challenge(logins[0], key, Method.PUSH)
    assert sixth.value.code == "resend_too_soon"
