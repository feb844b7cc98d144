"""The service over HTTP, as a client sees it: login, sessions, back office, errors."""
from __future__ import annotations

import re

import pytest
from people import user_body


@pytest.fixture
def user(api):
    body = user_body()
    assert api("POST", "/v1/admin/users", body, signed=True).status == 201
    return body


def code_sent(api, user, since, channel="sms"):
    bodies = [m["body"] for m in api.outbox()[since:] if m["channel"] == channel and m["to"] == user["phones"][0]]
    return re.findall(r"\d{6}", bodies[-1])[0]


def login(api, user, method=None):
    start = api("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                      "client": {"platform": "portal"}})
    mark = len(api.outbox())
    body = {"device_id": start.body["default_device_id"], **({"method": method} if method else {})}
    challenge = api("POST", f"/v1/login/{start.body['login_id']}/challenge", body)
    assert challenge.status == 200, challenge
    verify = api("POST", f"/v1/login/{start.body['login_id']}/verify",
                 {"response": code_sent(api, user, mark, method or "sms")})
    assert verify.status == 200, verify
    return verify.body["session_token"], start.body["login_id"]


def test_password_and_sms_give_a_session_that_logout_ends(api, user):
    token, login_id = login(api, user)
    me = api("GET", "/v1/me", token=token)
    assert me.status == 200 and me.body["username"] == user["username"]
    assert me.body["withdrawal_limits"]["sms"] == {"per_day": 200000, "per_five_business_days": 600000,
                                                   "remaining_today": 200000, "remaining_five_business_days": 600000}
    assert api("GET", f"/v1/login/{login_id}").body == {"status": "approved"}
    assert api("POST", "/v1/logout", token=token).status == 204
    refused = api("GET", "/v1/me", token=token)
    assert refused.status == 401 and refused.code == "unauthorized"


def test_a_voice_call_carries_the_code(api, user):
    token, _ = login(api, user, method="voice")
    assert token.startswith("sls_")


def test_expired_logins_answer_410(api, user):
    start = api("POST", "/v1/login", {"username": user["username"], "password": user["password"]})
    assert api("POST", "/_local/clock", {"advance_seconds": 301}).status == 200
    late = api("POST", f"/v1/login/{start.body['login_id']}/challenge", {"device_id": start.body["default_device_id"]})
    assert late.status == 410 and late.code == "login_expired"


def test_back_office_needs_a_signature_and_hides_secrets(api, user):
    assert api("GET", f"/v1/admin/users/{user['username']}").status == 403
    seen = api("GET", f"/v1/admin/users/{user['username']}", signed=True)
    assert seen.status == 200 and seen.body["devices"][0]["type"] == "sms"
    assert user["password"] not in str(seen.body) and user["identity"]["id_document"]["number"] not in str(seen.body)
    again = api("POST", "/v1/admin/users", user, signed=True)
    assert again.status == 409 and again.code == "username_taken"
    audit = api("GET", f"/v1/admin/users/{user['username']}/audit", signed=True)
    assert [e["type"] for e in audit.body["events"]][-1] == "user.created"
    assert api("GET", "/v1/admin/users/nobody-here", signed=True).status == 404


def test_errors_have_the_contract_shape(api):
    missing = api("GET", "/v1/nowhere")
    assert missing.status == 404 and missing.code == "not_found"
    wrong_method = api("PUT", "/v1/me")
    assert wrong_method.status == 401  # the session is checked before the route, as API Gateway does
    assert api("DELETE", "/v1/login").code == "method_not_allowed"
    undecodable = api("POST", "/v1/login", raw=b"\xff\xfe")
    assert undecodable.status == 400 and undecodable.code == "invalid_request"


def test_no_malformed_request_gets_a_5xx(api):
    """Every operation of the OpenAPI document, fed bodies and ids of the wrong shape."""
    paths = api("GET", "/openapi.json").body["paths"]
    bad_bodies = [b"{not json", b"[]", b'"text"', b"{}", b'{"username": 1, "device_id": [], "response": {}}',
                  b"\x00\x01", b"\xff\xfe"]
    for path, operations in paths.items():
        concrete = re.sub(r"\{[^}]+\}", "%20%2F..%00", path)
        for method in operations:
            for raw in bad_bodies:
                answer = api(method.upper(), concrete, raw=raw, signed=path.startswith("/v1/admin"))
                assert answer.status < 500, (method, path, raw, answer)
                if answer.status >= 400:  # a GET without a body to read may rightly answer 200
                    assert answer.code, (method, path, raw, answer)


def test_openapi_and_swagger_are_served(api):
    document = api("GET", "/openapi.json").body
    assert document["paths"]["/v1/me"]["get"]["security"] == [{"session": []}]
    assert "swagger-ui" in api("GET", "/swagger").body
