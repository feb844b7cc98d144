"""The error-to-HTTP map and request validation, through a resolver like the functions'."""
import base64
import json

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router

from securelogin import errors
from securelogin.api.http import make_resolver
from securelogin.api.schemas import LoginBody

router = Router()


@router.post("/things")
def things(body: LoginBody) -> dict:
    kind = {"invalid": errors.InvalidInput, "gone": errors.Gone, "locked": errors.Locked}.get(body.username)
    if body.username == "throttled":
        raise errors.Throttled("too_many_attempts", "slow down", 42)
    if kind:
        raise kind("some_code", "a message", attempts_left=3)
    return {"ok": True}


APP = make_resolver(router)
FALLBACK = make_resolver(unmatched="not_found")


def call(app, method="POST", path="/things", body=None, base64_encoded=False):
    event = {"httpMethod": method, "path": path, "resource": path, "headers": {"content-type": "application/json"},
             "body": body, "requestContext": {"requestId": "r"}, "pathParameters": None,
             "queryStringParameters": None, "isBase64Encoded": base64_encoded}
    answer = app.resolve(event, None)
    headers = {k.lower(): v for k, v in (answer.get("multiValueHeaders") or {}).items()}
    return answer["statusCode"], json.loads(answer["body"] or "{}"), headers


@pytest.mark.parametrize(("username", "status"), [("invalid", 400), ("gone", 410), ("locked", 423)])
def test_domain_errors_map_to_their_status_with_extra_fields(username, status):
    code, body, _ = call(APP, body=json.dumps({"username": username, "password": "p"}))
    assert code == status
    assert body == {"error": {"code": "some_code", "message": "a message", "attempts_left": 3}}


def test_throttling_carries_retry_after():
    code, body, headers = call(APP, body=json.dumps({"username": "throttled", "password": "p"}))
    assert code == 429 and body["error"]["retry_after_seconds"] == 42 and headers["retry-after"] == ["42"]


@pytest.mark.parametrize("raw", ["{not json", "[]", '{"username": 42, "password": "p"}', '{"username": "x"}', None])
def test_bad_requests_get_400_invalid_request(raw):
    code, body, _ = call(APP, body=raw)
    assert code == 400 and body["error"]["code"] == "invalid_request"


def test_a_body_that_is_not_utf8_gets_400():
    # API Gateway hands such a body over base64-encoded
    code, body, _ = call(APP, body=base64.b64encode(b"\xff\xfe{}").decode(), base64_encoded=True)
    assert code == 400 and body["error"]["code"] == "invalid_request"


def test_validation_messages_never_echo_values():
    secret = "hunter2-the-password"
    code, body, _ = call(APP, body=json.dumps({"username": ["x"], "password": secret, "client": {"platform": 7}}))
    assert code == 400 and secret not in json.dumps(body)
    assert "username" in body["error"]["message"]


def test_a_known_path_with_another_method_is_405_and_an_unknown_path_404():
    code, body, _ = call(APP, method="DELETE")
    assert code == 405 and body["error"]["code"] == "method_not_allowed"
    code, body, _ = call(FALLBACK, method="GET", path="/nowhere")
    assert code == 404 and body["error"]["code"] == "not_found"
