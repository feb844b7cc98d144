"""Step-up and push confirmations over HTTP, through the gateway as template.yaml wires it
(api.md "Step-up", "IB Key app"; rules.md "Step-up", "What a confirmation shows and proves"):
which routes the session authorizer guards, a step-up id honoured only by the session that
started it, and a push approved only with the number the asking client was shown."""
from __future__ import annotations

import re
import secrets

import pytest
from ib_key_app import activate_app, pushes
from people import user_body
from test_service import code_sent

from securelogin.crypto.ocra import ocra

pytestmark = pytest.mark.e2e

SEED = "31" * 32
PIN = "4831"
DSC_SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
STEP_UP_ROUTES = [("POST", "/v1/step-up/{id}/challenge", {"device_id": "d"}),
                  ("POST", "/v1/step-up/{id}/verify", {"response": "12345678"}),
                  ("GET", "/v1/step-up/{id}", None)]


@pytest.fixture
def user(api):
    body = user_body("stepup")
    assert api("POST", "/v1/admin/users", body, signed=True).status == 201
    return body


def add_card(api, user) -> str:
    card = api("POST", f"/v1/admin/users/{user['username']}/devices",
               {"type": "dsc_plus", "seed_hex": SEED, "pin": PIN}, signed=True)
    assert card.status == 201, card
    return card.body["device_id"]


def card_response(challenge) -> str:
    return ocra(DSC_SUITE, bytes.fromhex(SEED), challenge.body["challenge"]["challenge_code"], pin=PIN)


def sms_login(api, user) -> str:
    """A session opened with the SMS device (not the default device, which is the strongest)."""
    start = api("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                      "client": {"platform": "portal"}})
    sms_id = next(d["device_id"] for d in start.body["devices"] if d["type"] == "sms")
    mark = len(api.outbox())
    assert api("POST", f"/v1/login/{start.body['login_id']}/challenge", {"device_id": sms_id}).status == 200
    verify = api("POST", f"/v1/login/{start.body['login_id']}/verify", {"response": code_sent(api, user, mark)})
    assert verify.status == 200, verify
    return verify.body["session_token"]


def card_login(api, user, card_id) -> str:
    start = api("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                      "client": {"platform": "portal"}})
    challenge = api("POST", f"/v1/login/{start.body['login_id']}/challenge", {"device_id": card_id})
    verify = api("POST", f"/v1/login/{start.body['login_id']}/verify", {"response": card_response(challenge)})
    assert verify.status == 200, verify
    return verify.body["session_token"]


def path_of(template: str, step_up_id: str) -> str:
    return template.replace("{id}", step_up_id)


# ------------------------------------------------------------------ the template's routes


def test_the_step_up_routes_are_behind_the_session_authorizer(api, user):
    """No token, a token that is no session, or an admin signature: the gateway's session
    authorizer refuses before any function runs. With a session, LoginFunction answers."""
    unknown = secrets.token_urlsafe(16)
    for method, template, body in [("POST", "/v1/step-up", None), *STEP_UP_ROUTES]:
        path = path_of(template, unknown)
        for credentials in ({}, {"token": f"sls_{secrets.token_urlsafe(32)}"}, {"signed": True}):
            refused = api(method, path, body, **credentials)
            assert (refused.status, refused.code) == (401, "unauthorized"), (method, path, credentials, refused)
    token = sms_login(api, user)
    started = api("POST", "/v1/step-up", token=token)
    assert started.status == 201 and started.body["step_up_id"], started
    for method, template, body in STEP_UP_ROUTES:
        gone = api(method, path_of(template, unknown), body, token=token)
        assert (gone.status, gone.code) == (410, "step_up_expired"), (method, template, gone)


def test_the_push_state_route_needs_no_session_and_tells_unknown_pushes_apart(api):
    """GET /v1/authenticator/pushes/{push_id} has no authorizer (the push id is the capability):
    without any credentials the function itself answers."""
    unknown = api("GET", f"/v1/authenticator/pushes/{secrets.token_urlsafe(16)}")
    assert (unknown.status, unknown.code) == (404, "push_not_found"), unknown
    malformed = api("GET", "/v1/authenticator/pushes/not-an-id")
    assert (malformed.status, malformed.code) == (400, "invalid_request"), malformed


# ------------------------------------------------------------------ step-up with a card


def test_a_protecting_action_waits_for_a_step_up_with_the_strongest_device(api, user):
    card_id = add_card(api, user)
    token = sms_login(api, user)  # by SMS: the DSC+ is stronger
    sms_id = next(d["device_id"] for d in api("GET", "/v1/me", token=token).body["devices"] if d["type"] == "sms")

    refused = api("DELETE", f"/v1/devices/{card_id}", token=token)
    assert (refused.status, refused.code) == (403, "step_up_required"), refused
    assert [d["device_id"] for d in refused.body["error"]["devices"]] == [card_id], refused

    started = api("POST", "/v1/step-up", token=token)
    assert [d["device_id"] for d in started.body["devices"]] == [card_id], started
    step_up_id = started.body["step_up_id"]
    weak = api("POST", f"/v1/step-up/{step_up_id}/challenge", {"device_id": sms_id}, token=token)
    assert (weak.status, weak.code) == (404, "device_not_found"), weak
    challenge = api("POST", f"/v1/step-up/{step_up_id}/challenge", {"device_id": card_id}, token=token)
    assert challenge.status == 200 and challenge.body["challenge"]["statement"].startswith(
        f"Confirm a change to your security settings as {user['username']} from portal ("), challenge
    wrong = api("POST", f"/v1/step-up/{step_up_id}/verify", {"response": "00000000"}, token=token)
    assert (wrong.status, wrong.code) == (401, "invalid_response") and wrong.body["error"]["attempts_left"] == 4
    assert api("GET", f"/v1/step-up/{step_up_id}", token=token).body == {"status": "pending"}
    assert api("DELETE", f"/v1/devices/{card_id}", token=token).code == "step_up_required"

    done = api("POST", f"/v1/step-up/{step_up_id}/verify", {"response": card_response(challenge)}, token=token)
    assert done.status == 200 and done.body["stepped_up_until"], done
    state = api("GET", f"/v1/step-up/{step_up_id}", token=token)
    assert state.body == {"status": "approved", "stepped_up_until": done.body["stepped_up_until"]}, state
    again = api("POST", f"/v1/step-up/{step_up_id}/verify", {"response": card_response(challenge)}, token=token)
    assert (again.status, again.code) == (410, "step_up_expired"), again

    assert api("DELETE", f"/v1/devices/{card_id}", token=token).status == 204  # the same token, now strong


def test_a_step_up_refuses_another_sessions_step_up_id(api, user):
    """A step-up id is the session's that started it: another session of the same user, or of
    someone else, gets what an unknown id gets, on every step-up route and on the login's; the
    owner's step-up is untouched by their tries."""
    card_id = add_card(api, user)
    token = sms_login(api, user)
    same_user = card_login(api, user, card_id)
    stranger = user_body("stepup")
    assert api("POST", "/v1/admin/users", stranger, signed=True).status == 201
    someone_else = sms_login(api, stranger)

    step_up_id = api("POST", "/v1/step-up", token=token).body["step_up_id"]
    for other in (same_user, someone_else):
        for method, template, body in STEP_UP_ROUTES:
            answer = api(method, path_of(template, step_up_id), body if "challenge" not in template
                         else {"device_id": card_id}, token=other)
            assert (answer.status, answer.code) == (410, "step_up_expired"), (method, template, answer)
    for path in (f"/v1/login/{step_up_id}", f"/v1/login/{step_up_id}/verify"):
        answer = api("POST" if path.endswith("verify") else "GET", path,
                     {"response": "12345678"} if path.endswith("verify") else None)
        assert (answer.status, answer.code) == (410, "login_expired"), (path, answer)

    challenge = api("POST", f"/v1/step-up/{step_up_id}/challenge", {"device_id": card_id}, token=token)
    assert challenge.status == 200, challenge
    stolen = api("POST", f"/v1/step-up/{step_up_id}/verify", {"response": card_response(challenge)},
                 token=someone_else)
    assert (stolen.status, stolen.code) == (410, "step_up_expired"), stolen
    done = api("POST", f"/v1/step-up/{step_up_id}/verify", {"response": card_response(challenge)}, token=token)
    assert done.status == 200, done
    assert api("GET", f"/v1/step-up/{step_up_id}", token=same_user).code == "step_up_expired"


# ------------------------------------------------------------------ step-up by push, number matching


def test_a_push_step_up_is_approved_only_with_the_number_the_portal_shows(api, user):
    app = activate_app(api, user)
    token = sms_login(api, user)  # by SMS: the IB Key is stronger
    refused = api("POST", "/v1/activation/qr", token=token)
    assert (refused.status, refused.code) == (403, "step_up_required"), refused
    step_up_id = api("POST", "/v1/step-up", token=token).body["step_up_id"]

    def push():
        mark = len(api.outbox())
        challenge = api("POST", f"/v1/step-up/{step_up_id}/challenge", {"device_id": app.device_id}, token=token)
        assert challenge.status == 200, challenge
        return challenge.body["challenge"], pushes(api.outbox(), mark)[-1]

    shown, first = push()
    assert re.fullmatch(r"\d{3}", shown["match_number"]), shown
    assert first["purpose"] == "step_up" and first["has_number"] is True and first["statement"] == shown["statement"]
    assert step_up_id not in str(first) and shown["match_number"] not in (first["push_id"], first["nonce"])

    forged = api("POST", "/v1/authenticator/push-responses",
                 app.answer(first, number=shown["match_number"], statement="Withdraw USD 1.00 to Mallory"))
    assert (forged.status, forged.code) == (401, "invalid_signature"), forged
    wrong_number = f"{(int(shown['match_number']) + 1) % 1000:03d}"
    mismatch = api("POST", "/v1/authenticator/push-responses", app.answer(first, number=wrong_number))
    assert (mismatch.status, mismatch.code) == (401, "number_mismatch"), mismatch
    assert mismatch.body["error"]["attempts_left"] == 4, mismatch  # the forged one was not counted
    assert api("GET", f"/v1/authenticator/pushes/{first['push_id']}").body == {"status": "answered"}
    assert api("GET", f"/v1/step-up/{step_up_id}", token=token).body == {"status": "pending"}
    late = api("POST", "/v1/authenticator/push-responses", app.answer(first, number=shown["match_number"]))
    assert (late.status, late.code) == (410, "expired"), late

    _, second = push()
    shown, third = push()  # asking again withdraws the push still pending
    assert api("GET", f"/v1/authenticator/pushes/{second['push_id']}").body == {"status": "withdrawn"}
    assert api("GET", f"/v1/authenticator/pushes/{third['push_id']}").body == {"status": "pending"}
    withdrawn = api("POST", "/v1/authenticator/push-responses", app.answer(second, number=shown["match_number"]))
    assert (withdrawn.status, withdrawn.code) == (410, "expired"), withdrawn

    approved = api("POST", "/v1/authenticator/push-responses", app.answer(third, number=shown["match_number"]))
    assert approved.status == 200 and approved.body == {"status": "approved"}, approved
    state = api("GET", f"/v1/step-up/{step_up_id}", token=token)
    assert state.body["status"] == "approved" and state.body["stepped_up_until"], state
    assert api("POST", "/v1/activation/qr", token=token).status == 201  # the same token, now strong
