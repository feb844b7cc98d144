"""When AWS fails the service answers 503 with Retry-After, writes nothing by halves, and
the same request succeeds when sent again. Faults are armed on the embedded AWS through
/_local/faults (api.md, "Local stack only")."""
from __future__ import annotations

import time

import pytest
from ib_key_app import activate_app
from people import user_body
from test_service import code_sent, login


@pytest.fixture
def user(api):
    body = user_body()
    assert api("POST", "/v1/admin/users", body, signed=True).status == 201
    return body


@pytest.fixture(autouse=True)
def no_faults_left(api):
    yield
    api("DELETE", "/_local/faults")


def arm(api, service, operation, error="InternalServerError", count=20):
    armed = api("POST", "/_local/faults", {"service": service, "operation": operation, "error": error,
                                           "count": count})
    assert armed.status == 200, armed
    return armed.body["faults"]


def assert_unavailable(answer, code="service_unavailable"):
    assert answer.status == 503, answer
    assert answer.code == code, answer
    assert int(answer.headers["retry-after"]) >= 1


def test_faults_are_listed_until_used_or_disarmed(api):
    assert arm(api, "dynamodb", "GetItem", count=2) == [
        {"service": "dynamodb", "operation": "GetItem", "error": "InternalServerError", "count": 2}]
    assert api("GET", "/_local/faults").body["faults"][0]["count"] == 2
    assert api("DELETE", "/_local/faults").status == 204
    assert api("GET", "/_local/faults").body == {"faults": []}


@pytest.mark.parametrize("body", [{"service": "dynamodb", "operation": "GetItem", "error": "Boom"},
                                  {"service": "dynamodb", "operation": "GetItem", "count": 0},
                                  {"operation": "GetItem"}, []])
def test_a_fault_that_makes_no_sense_is_refused(api, body):
    assert api("POST", "/_local/faults", body).status == 400


def start_sms_login(api, user):
    start = api("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                      "client": {"platform": "portal"}})
    assert start.status == 200, start
    return start.body["login_id"], start.body["default_device_id"]


def test_a_single_blip_is_retried_where_the_client_cannot_see_it(api, user):
    arm(api, "dynamodb", "Query", count=1)
    assert start_sms_login(api, user)


def test_a_login_whose_completion_failed_completes_when_sent_again(api, user):
    login_id, sms = start_sms_login(api, user)
    mark = len(api.outbox())
    assert api("POST", f"/v1/login/{login_id}/challenge", {"device_id": sms}).status == 200
    code = code_sent(api, user, mark)
    arm(api, "dynamodb", "TransactWriteItems")
    assert_unavailable(api("POST", f"/v1/login/{login_id}/verify", {"response": code}))
    api("DELETE", "/_local/faults")
    again = api("POST", f"/v1/login/{login_id}/verify", {"response": code})
    assert again.status == 200, again
    assert api("GET", "/v1/me", token=again.body["session_token"]).status == 200


def test_a_failed_text_message_can_be_asked_for_again_at_once(api, user):
    login_id, sms = start_sms_login(api, user)
    arm(api, "sns", "Publish")
    assert_unavailable(api("POST", f"/v1/login/{login_id}/challenge", {"device_id": sms}), "delivery_failed")
    api("DELETE", "/_local/faults")
    assert api("POST", f"/v1/login/{login_id}/challenge", {"device_id": sms}).status == 200  # no resend wait


def test_a_session_that_cannot_be_read_is_a_503_not_a_logout(api, user):
    token, _ = login(api, user)
    arm(api, "dynamodb", "GetItem", error="ThrottlingException")
    assert_unavailable(api("GET", "/v1/me", token=token))
    api("DELETE", "/_local/faults")
    assert api("GET", "/v1/me", token=token).status == 200


def test_a_user_whose_creation_failed_is_created_when_sent_again(api):
    body = user_body()
    arm(api, "dynamodb", "TransactWriteItems", error="ProvisionedThroughputExceededException")
    assert_unavailable(api("POST", "/v1/admin/users", body, signed=True))
    api("DELETE", "/_local/faults")
    assert api("POST", "/v1/admin/users", body, signed=True).status == 201


def test_a_database_that_does_not_answer_gives_a_503_in_time(api, user):
    arm(api, "dynamodb", "*", error="timeout")
    started = time.monotonic()
    assert_unavailable(api("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                                 "client": {"platform": "portal"}}))
    assert time.monotonic() - started < 9  # the functions' timeout is 10 s


def test_a_push_that_could_not_be_sent_holds_no_place(api, user):
    """rules.md, "Retries": a request answered 503 leaves no push count behind. Five pushes that SNS
    refused must not use up the five places a user has in 15 minutes."""
    app = activate_app(api, user)
    for _ in range(5):
        login_id, _ = start_sms_login(api, user)
        arm(api, "sns", "Publish", count=2)  # the call and botocore's one retry
        assert_unavailable(api("POST", f"/v1/login/{login_id}/challenge", {"device_id": app.device_id}),
                           "delivery_failed")
        api("DELETE", "/_local/faults")
    login_id, _ = start_sms_login(api, user)
    pushed = api("POST", f"/v1/login/{login_id}/challenge", {"device_id": app.device_id})
    assert pushed.status == 200, pushed
