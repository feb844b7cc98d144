"""The fault sweep: every DynamoDB call of each main request fails in turn (rules.md "Retries and
answers that were lost", "Failures"; api.md "Local stack only"). How a case runs is in sweep.py;
the matrix of the last run is docs/fault-sweep.md (python tests/e2e/fault_sweep_report.py).

Each flow's request is swept twice:
- 503: from its k-th DynamoDB call on, every call fails. The request succeeds (it did not need
  the call), or answers 503 with Retry-After and succeeds when sent again, disarmed, with the same
  body and Idempotency-Key;
- after: the k-th PutItem, UpdateItem, DeleteItem or TransactWriteItems of the request (each in
  turn) takes effect and loses its answer once. Never a 500; what it did is counted once.
Every case starts from a fresh user and ends with the state checked: the flow can go on, and the
audit trail holds its event exactly once.
"""
from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sweep import (
    REPO,
    RESULTS,
    WRITE_OPERATIONS,
    Flow,
    Sweep,
    SweepApi,
    add_device,
    app_enrolment,
    audit_types,
    card_response,
    card_session,
    device_of,
    devices,
    expect,
    fault_503,
    fault_after,
    ib_key_session,
    index_response,
    latest_code,
    new_user,
    one_event,
    one_notice,
    said,
    sms_session,
    start_activation,
    start_login,
    sweep,
)

pytestmark = pytest.mark.e2e

TEMP_REASON = "identity verified on a video call with the passport on file"
DECISION_REASON = "same person: passport and date of birth match"
WITHDRAWAL_USD = 150_000  # a code card allows 200,000 a day: 50,000 left when it is counted once


@pytest.fixture(scope="module")
def api(local_stack) -> Iterator[SweepApi]:
    """A stack of the module's own with one gateway worker: the AWS call log then shows this
    module's requests (and the outbox consumer's calls) alone, and every request meets a warm
    container (a cold one makes more calls, so positions would move from one case to the next)."""
    with local_stack("--workers", "1") as stack:
        yield SweepApi(stack)


@pytest.fixture(scope="module")
def results() -> Iterator[list[dict[str, Any]]]:
    """Every sweep of the run, written to build/fault-sweep.json when the module ends (the input
    of tests/e2e/fault_sweep_report.py, which renders docs/fault-sweep.md)."""
    swept: list[dict[str, Any]] = []
    started = time.monotonic()
    yield swept
    if swept:
        order = {flow.name: i for i, flow in enumerate(FLOWS)}
        swept.sort(key=lambda s: (order.get(s["flow"], len(order)), s["variant"] != "503"))
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({"run": run_info(time.monotonic() - started), "sweeps": swept}, indent=1)
                           + "\n")


def run_info(seconds: float) -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,  # noqa: S603, S607
                                  timeout=10).stdout.strip()
        except OSError:
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD"), "uncommitted_changes": bool(git("status", "--porcelain",
            "--", "layers", "functions", "tools", "template.yaml")),
            "finished": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), "seconds": round(seconds)}


# ------------------------------------------------------------------ login

def login_body(user: dict[str, Any]) -> dict[str, Any]:
    return {"username": user["username"], "password": user["password"], "client": {"platform": "portal"}}


def no_password_failure(api: SweepApi, user: dict[str, Any]) -> None:
    failed = [t for t in audit_types(api, user["username"]) if t.endswith(".password_failed")]
    expect(not failed, f"a right password recorded as failed: {failed}")


def check_login_started(api: SweepApi, user: dict[str, Any], answer: Any) -> None:
    challenged = api("POST", f"/v1/login/{answer.body['login_id']}/challenge",
                     {"device_id": device_of(answer, "sms")})
    expect(challenged.status == 200, f"the login's challenge then answered {said(challenged)}")
    no_password_failure(api, user)


def prepare_login_challenge(api: SweepApi, card: bool = False) -> dict[str, Any]:
    user = new_user(api)
    card_id = add_device(api, user)["device_id"] if card else None
    started = start_login(api, user)
    return {"user": user, "login_id": started.body["login_id"],
            "device_id": card_id or device_of(started, "sms")}


def send_login_challenge(api: SweepApi, state: dict[str, Any], headers: dict[str, str]) -> Any:
    return api("POST", f"/v1/login/{state['login_id']}/challenge", {"device_id": state["device_id"]},
               headers=headers)


def check_sms_challenge(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    code = latest_code(api, state["user"]["phones"][0], 6)
    verified = api("POST", f"/v1/login/{state['login_id']}/verify", {"response": code})
    expect(verified.status == 200, f"the code sent then answered {said(verified)}")
    one_event(api, state["user"]["username"], "login.succeeded")


def check_card_challenge(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    verified = api("POST", f"/v1/login/{state['login_id']}/verify", {"response": card_response(answer)})
    expect(verified.status == 200, f"the card's answer then answered {said(verified)}")
    one_event(api, state["user"]["username"], "login.succeeded")


def prepare_login_verify(api: SweepApi) -> dict[str, Any]:
    state = prepare_login_challenge(api)
    assert send_login_challenge(api, state, {}).status == 200
    return state | {"code": latest_code(api, state["user"]["phones"][0], 6)}


def check_login_verified(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    me = api("GET", "/v1/me", token=answer.body["session_token"])
    expect(me.status == 200, f"the session then answered {said(me)}")
    one_event(api, state["user"]["username"], "login.succeeded")


# ------------------------------------------------------------------ withdrawals

def prepare_withdrawal(api: SweepApi, step: str) -> dict[str, Any]:
    user = new_user(api, balance_usd=2_000_000)
    card = add_device(api, user, "scc")
    state = {"user": user, "card": card, "token": sms_session(api, user)}
    if step == "create":
        return state
    created = api("POST", "/v1/withdrawals", {"amount_usd": WITHDRAWAL_USD}, token=state["token"])
    assert created.status == 201, created
    state["withdrawal_id"] = created.body["withdrawal_id"]
    if step == "challenge":
        return state
    challenged = api("POST", f"/v1/withdrawals/{state['withdrawal_id']}/challenge",
                     {"device_id": card["device_id"]}, token=state["token"])
    assert challenged.status == 200, challenged
    return state | {"response": index_response(card, challenged)}


def check_withdrawal_created(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    one_event(api, state["user"]["username"], "withdrawal.requested")
    challenged = api("POST", f"/v1/withdrawals/{answer.body['withdrawal_id']}/challenge",
                     {"device_id": state["card"]["device_id"]}, token=state["token"])
    expect(challenged.status == 200, f"its challenge then answered {said(challenged)}")


def check_withdrawal_challenged(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    verified = api("POST", f"/v1/withdrawals/{state['withdrawal_id']}/verify",
                   {"response": index_response(state["card"], answer)}, token=state["token"])
    expect(verified.status == 200, f"the card's answer then answered {said(verified)}")
    check_withdrawal_authorized(api, state, verified)


def check_withdrawal_authorized(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    expect(answer.body["status"] == "authorized", f"status {answer.body['status']}")
    today = answer.body["remaining"]["today"]
    expect(today == 200_000 - WITHDRAWAL_USD, f"{today} left today: not counted once")
    one_event(api, state["user"]["username"], "withdrawal.authorized")


# ------------------------------------------------------------------ IB Key activation by SMS

def prepare_user(api: SweepApi) -> dict[str, Any]:
    return {"user": new_user(api)}


def send_activation_start(api: SweepApi, state: dict[str, Any], headers: dict[str, str]) -> Any:
    user = state["user"]
    return api("POST", "/v1/activation/sms", {"username": user["username"], "password": user["password"],
                                              "phone": user["phones"][0]}, headers=headers)


def check_activation_started(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    code = latest_code(api, state["user"]["phones"][0], 8)
    done = api("POST", f"/v1/activation/{answer.body['activation_id']}/complete",
               {"activation_code": code, **app_enrolment()})
    expect(done.status == 201, f"the code sent then answered {said(done)}")
    no_password_failure(api, state["user"])


def prepare_activation_complete(api: SweepApi) -> dict[str, Any]:
    user = new_user(api)
    activation_id, code = start_activation(api, user)
    return {"user": user, "activation_id": activation_id, "body": {"activation_code": code, **app_enrolment()}}


def check_activated(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    username = state["user"]["username"]
    keys = [d["device_id"] for d in devices(api, username, "ib_key")]
    expect(keys == [answer.body["device_id"]], f"IB Keys {keys}, answered {answer.body['device_id']}")
    one_event(api, username, "device.added", {"device_type": "ib_key"})
    one_notice(api, state["user"]["phones"][0], "ib key was activated")
    login = ib_key_session(api, state["user"], answer.body)
    expect(login.status == 200, f"a login with the secret answered then answered {said(login)}")


# ------------------------------------------------------------------ back office

def send_add_device(api: SweepApi, state: dict[str, Any], headers: dict[str, str]) -> Any:
    return api("POST", f"/v1/admin/users/{state['user']['username']}/devices", {"type": "scc"}, signed=True,
               headers=headers)


def check_device_added(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    username = state["user"]["username"]
    cards = [d["device_id"] for d in devices(api, username, "scc")]
    expect(cards == [answer.body["device_id"]], f"code cards {cards}, answered {answer.body['device_id']}")
    one_event(api, username, "device.added", {"device_type": "scc"})
    one_notice(api, state["user"]["phones"][0], "added to your account")


def prepare_lost_card(api: SweepApi) -> dict[str, Any]:
    user = new_user(api)
    card = add_device(api, user)
    lost = api("POST", f"/v1/admin/users/{user['username']}/devices/{card['device_id']}/lost",
               {"reason": "the client called from the number on file"}, signed=True)
    assert lost.status == 200, lost
    return {"user": user}


def send_temporary_code(api: SweepApi, state: dict[str, Any], headers: dict[str, str]) -> Any:
    return api("POST", f"/v1/admin/users/{state['user']['username']}/temporary-code", {"reason": TEMP_REASON},
               signed=True, headers=headers)


def check_temporary_code(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    username = state["user"]["username"]
    codes = [d["device_id"] for d in devices(api, username, "temporary_code")]
    expect(codes == [answer.body["device_id"]], f"temporary codes {codes}, answered {answer.body['device_id']}")
    event = one_event(api, username, "temporary_code.issued")
    login_id = start_login(api, state["user"]).body["login_id"]
    challenged = api("POST", f"/v1/login/{login_id}/challenge", {"device_id": answer.body["device_id"]})
    verified = api("POST", f"/v1/login/{login_id}/verify", {"response": answer.body["code"]})
    expect(verified.status == 200, f"a login with the code answered then answered {said(challenged)}, "
                                   f"{said(verified)}")
    one_notice(api, state["user"]["phones"][0], "temporary code")
    expect(event.get("reason") == TEMP_REASON, f"temporary_code.issued with reason {event.get('reason')!r}")


# ------------------------------------------------------------------ DSC+ request

def prepare_dsc_plus_request(api: SweepApi) -> dict[str, Any]:
    user = new_user(api, balance_usd=750_000)
    activation_id, code = start_activation(api, user)
    key = api("POST", f"/v1/activation/{activation_id}/complete", {"activation_code": code, **app_enrolment()})
    assert key.status == 201, key
    login = ib_key_session(api, user, key.body)
    assert login.status == 200, login
    return {"user": user, "token": login.body["session_token"]}


def send_dsc_plus_request(api: SweepApi, state: dict[str, Any], headers: dict[str, str]) -> Any:
    return api("POST", "/v1/devices/dsc-plus", {"pin": "4831", "reason": "new"}, token=state["token"],
               headers=headers)


def check_dsc_plus_requested(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    expect(answer.body["status"] == "requested", f"status {answer.body['status']}")
    one_event(api, state["user"]["username"], "device.requested")


# ------------------------------------------------------------------ device sharing

def prepare_share(api: SweepApi, step: str, same_entity: bool = True) -> dict[str, Any]:
    """An owner with a DSC+ and a requester who is the same person (of the owner's entity, or of
    another one: then the share waits for Compliance), with an SMS session."""
    owner = new_user(api)
    add_device(api, owner)
    requester = new_user(api, identity=owner["identity"],
                         **({"entity_id": owner["entity_id"]} if same_entity else {}))
    state = {"owner": owner, "user": requester, "token": sms_session(api, requester)}
    if step == "request":
        return state
    requested = api("POST", "/v1/sharing", {"owner_username": owner["username"],
                                            "owner_password": owner["password"]}, token=state["token"])
    assert requested.status == 201, requested
    state |= {"share_id": requested.body["share_id"], "response": card_response(requested)}
    if step == "complete":
        return state
    completed = api("POST", f"/v1/sharing/{state['share_id']}/complete", {"response": state["response"]},
                    token=state["token"])
    assert completed.status == 200 and completed.body["status"] == "pending_compliance", completed
    return state


def send_share_request(api: SweepApi, state: dict[str, Any], headers: dict[str, str]) -> Any:
    owner = state["owner"]
    return api("POST", "/v1/sharing", {"owner_username": owner["username"], "owner_password": owner["password"]},
               token=state["token"], headers=headers)


def check_share_requested(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    one_event(api, state["user"]["username"], "sharing.requested")
    done = api("POST", f"/v1/sharing/{answer.body['share_id']}/complete", {"response": card_response(answer)},
               token=state["token"])
    expect(done.status == 200, f"the owner's card's answer then answered {said(done)}")


def check_share_approved(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    expect(answer.body["status"] == "approved", f"status {answer.body['status']}")
    one_event(api, state["user"]["username"], "sharing.approved")
    one_notice(api, state["user"]["phones"][0], "may now log in with a security device")


def check_share_decided(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    expect(answer.body["status"] == "approved", f"status {answer.body['status']}")
    event = one_event(api, state["user"]["username"], "sharing.approved")
    one_notice(api, state["user"]["phones"][0], "may now log in with a security device")
    expect(event.get("reason") == DECISION_REASON, f"sharing.approved with reason {event.get('reason')!r}")


# ------------------------------------------------------------------ logout and step-up

def prepare_session(api: SweepApi) -> dict[str, Any]:
    user = new_user(api)
    return {"user": user, "token": sms_session(api, user)}


def check_logged_out(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    me = api("GET", "/v1/me", token=state["token"])
    expect(me.status == 401, f"the session still answers {said(me)}")
    one_event(api, state["user"]["username"], "logout")


def prepare_step_up(api: SweepApi) -> dict[str, Any]:
    user = new_user(api)
    card_id = add_device(api, user)["device_id"]
    token = card_session(api, user, card_id)
    started = api("POST", "/v1/step-up", token=token)
    assert started.status == 201, started
    step_up_id = started.body["step_up_id"]
    challenged = api("POST", f"/v1/step-up/{step_up_id}/challenge", {"device_id": card_id}, token=token)
    assert challenged.status == 200, challenged
    return {"user": user, "token": token, "step_up_id": step_up_id, "response": card_response(challenged)}


def check_stepped_up(api: SweepApi, state: dict[str, Any], answer: Any) -> None:
    expect(answer.body.get("stepped_up_until"), "no stepped_up_until")
    one_event(api, state["user"]["username"], "step_up.succeeded")


# ------------------------------------------------------------------ the catalogue

FLOWS = [
    Flow("login-start", "Login: password step", "POST /v1/login",
         prepare_user,
         lambda api, s, h: api("POST", "/v1/login", login_body(s["user"]), headers=h), 200,
         lambda api, s, a: check_login_started(api, s["user"], a)),
    Flow("login-challenge-sms", "Login: challenge by SMS", "POST /v1/login/{login_id}/challenge (sms)",
         prepare_login_challenge, send_login_challenge, 200, check_sms_challenge),
    Flow("login-challenge-card", "Login: challenge by a DSC+ card", "POST /v1/login/{login_id}/challenge (dsc_plus)",
         lambda api: prepare_login_challenge(api, card=True), send_login_challenge, 200, check_card_challenge),
    Flow("login-verify", "Login: a right answer (SMS code)", "POST /v1/login/{login_id}/verify",
         prepare_login_verify,
         lambda api, s, h: api("POST", f"/v1/login/{s['login_id']}/verify", {"response": s["code"]}, headers=h),
         200, check_login_verified),
    Flow("withdrawal-create", "Withdrawal: create", "POST /v1/withdrawals",
         lambda api: prepare_withdrawal(api, "create"),
         lambda api, s, h: api("POST", "/v1/withdrawals", {"amount_usd": WITHDRAWAL_USD}, token=s["token"],
                               headers=h),
         201, check_withdrawal_created),
    Flow("withdrawal-challenge", "Withdrawal: challenge (code card)", "POST /v1/withdrawals/{id}/challenge",
         lambda api: prepare_withdrawal(api, "challenge"),
         lambda api, s, h: api("POST", f"/v1/withdrawals/{s['withdrawal_id']}/challenge",
                               {"device_id": s["card"]["device_id"]}, token=s["token"], headers=h),
         200, check_withdrawal_challenged),
    Flow("withdrawal-verify", "Withdrawal: a right answer", "POST /v1/withdrawals/{id}/verify",
         lambda api: prepare_withdrawal(api, "verify"),
         lambda api, s, h: api("POST", f"/v1/withdrawals/{s['withdrawal_id']}/verify", {"response": s["response"]},
                               token=s["token"], headers=h),
         200, check_withdrawal_authorized),
    Flow("activation-start", "IB Key activation by SMS: start", "POST /v1/activation/sms",
         prepare_user, send_activation_start, 202, check_activation_started),
    Flow("activation-complete", "IB Key activation by SMS: completion", "POST /v1/activation/{id}/complete",
         prepare_activation_complete,
         lambda api, s, h: api("POST", f"/v1/activation/{s['activation_id']}/complete", s["body"], headers=h),
         201, check_activated),
    Flow("admin-add-device", "Back office: add a device (code card)", "POST /v1/admin/users/{u}/devices",
         prepare_user, send_add_device, 201, check_device_added),
    Flow("temporary-code", "Back office: temporary code for a lost device",
         "POST /v1/admin/users/{u}/temporary-code",
         prepare_lost_card, send_temporary_code, 201, check_temporary_code),
    Flow("dsc-plus-request", "DSC+ request", "POST /v1/devices/dsc-plus",
         prepare_dsc_plus_request, send_dsc_plus_request, 201, check_dsc_plus_requested),
    Flow("sharing-request", "Device sharing: request", "POST /v1/sharing",
         lambda api: prepare_share(api, "request"), send_share_request, 201, check_share_requested),
    Flow("sharing-complete", "Device sharing: complete (same entity: approved)", "POST /v1/sharing/{id}/complete",
         lambda api: prepare_share(api, "complete"),
         lambda api, s, h: api("POST", f"/v1/sharing/{s['share_id']}/complete", {"response": s["response"]},
                               token=s["token"], headers=h),
         200, check_share_approved),
    Flow("sharing-decision", "Device sharing: Compliance decision", "POST /v1/admin/sharing/{id}/decision",
         lambda api: prepare_share(api, "decision", same_entity=False),
         lambda api, s, h: api("POST", f"/v1/admin/sharing/{s['share_id']}/decision",
                               {"decision": "approve", "reason": DECISION_REASON}, signed=True, headers=h),
         200, check_share_decided),
    Flow("logout", "Logout", "POST /v1/logout",
         prepare_session,
         lambda api, s, h: api("POST", "/v1/logout", token=s["token"], headers=h), 204, check_logged_out),
    Flow("step-up-verify", "Step-up: a right answer (DSC+)", "POST /v1/step-up/{id}/verify",
         prepare_step_up,
         lambda api, s, h: api("POST", f"/v1/step-up/{s['step_up_id']}/verify", {"response": s["response"]},
                               token=s["token"], headers=h),
         200, check_stepped_up),
]
assert len({f.name for f in FLOWS}) == len(FLOWS)


def report(sweeps: list[Sweep]) -> str:
    return "\n".join(dict.fromkeys(c.line() for s in sweeps for c in s.failures))  # each line once


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_every_dynamodb_call_failing_in_turn_answers_503_and_a_retry_succeeds(api, results, flow):
    swept = sweep(api, flow, "503", fault_503())
    results.append(swept.to_json())
    assert not swept.failures, f"{flow.request}:\n{report([swept])}"
    assert swept.cases, f"{flow.request} reached no DynamoDB fault"


@pytest.mark.parametrize("flow", FLOWS, ids=lambda f: f.name)
def test_every_write_whose_answer_is_lost_never_answers_500_and_counts_once(api, results, flow):
    sweeps = []
    for operation in WRITE_OPERATIONS:
        swept = sweep(api, flow, f"after {operation}", fault_after(operation))
        results.append(swept.to_json())
        sweeps.append(swept)
    assert not any(s.failures for s in sweeps), f"{flow.request}:\n{report(sweeps)}"
    assert any(s.cases for s in sweeps), f"{flow.request} wrote nothing"
