"""The error-to-HTTP map and request validation, through a resolver like the functions'."""
import base64
import json

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router

from securelogin import errors
from securelogin.api.http import make_resolver
from securelogin.api.schemas import Body, CreateUserBody, LoginBody, RecoveryBody, WithdrawalBody

router = Router()


@router.post("/things")
def things(body: LoginBody) -> dict:
    kind = {"invalid": errors.InvalidInput, "gone": errors.Gone, "locked": errors.Locked}.get(body.username)
    if body.username == "throttled":
        raise errors.Throttled("too_many_attempts", "slow down", 42)
    if kind:
        raise kind("some_code", "a message", attempts_left=3)
    return {"ok": True}


@router.post("/withdraw")
def withdraw(body: WithdrawalBody) -> dict:
    return {"amount_usd": body.amount_usd}


@router.post("/recover")
def recover(body: RecoveryBody) -> dict:
    return {"same_phone": body.same_phone}


class Reading(Body):
    value: float  # unbounded, so only the JSON reading stands between it and inf or nan


@router.post("/reading")
def reading(body: Reading) -> dict:
    return {"value": body.value}


@router.get("/ping")
@router.post("/ping")
def ping() -> dict:
    return {"ok": True}


APP = make_resolver(router)
FALLBACK = make_resolver(unmatched="not_found")


JSON = {"content-type": "application/json"}


def call(app, method="POST", path="/things", body=None, base64_encoded=False, headers=JSON):
    event = {"httpMethod": method, "path": path, "resource": path, "headers": headers,
             "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()},
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


LOGIN = json.dumps({"username": "alice", "password": "p"})


def assert_invalid(answer):
    code, body, _ = answer
    assert code == 400 and body["error"]["code"] == "invalid_request", (code, body)


@pytest.mark.parametrize("headers", [
    {"content-type": "text/plain"},
    {"Content-Type": "application/x-www-form-urlencoded"},
    {"content-type": "multipart/form-data; boundary=x"},
    {"content-type": "application/jsonp"},
    {"content-type": "application/vnd.api+json"},
    {},  # a body with no content type is not declared JSON
])
@pytest.mark.parametrize("path", ["/things", "/ping"])
def test_a_body_that_is_not_json_gets_415(headers, path):
    body = "username=alice&password=p" if "form" in str(headers) else LOGIN
    code, answer, _ = call(APP, path=path, body=body, headers=headers)
    assert code == 415
    assert answer["error"]["code"] == "unsupported_media_type" and "alice" not in answer["error"]["message"]


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=utf-8",
                                          "APPLICATION/JSON;charset=UTF-8", " application/json ; charset=utf-8"])
def test_json_is_recognised_in_any_case_and_with_a_charset(content_type):
    assert call(APP, body=LOGIN, headers={"Content-Type": content_type})[:2] == (200, {"ok": True})


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("empty", [None, ""])
def test_requests_without_a_body_need_no_content_type(method, empty):
    assert call(APP, method=method, path="/ping", body=empty, headers=None)[:2] == (200, {"ok": True})
    if method == "POST":  # a route that needs a body says it is missing
        assert_invalid(call(APP, body=empty, headers={}))


@pytest.mark.parametrize("raw", [
    b'{"u":' * 3000 + b"0" + b"}" * 3000,  # deeper than Python's recursion limit
    b"[" * 100_000 + b"]" * 100_000,
    b'{"username": "alice", "password": "p", "extra": ' + b"[" * 40 + b"]" * 40 + b"}",  # deeper than our limit
])
def test_absurdly_nested_json_gets_400(raw):
    assert_invalid(call(APP, body=raw.decode()))


def test_nesting_within_the_limit_is_read():
    nested = {"username": "alice", "password": "p", "extra": json.loads("[" * 20 + "]" * 20)}
    assert call(APP, body=json.dumps(nested))[0] == 200


@pytest.mark.parametrize("number", ["1" * 5000, "-" + "9" * 5000, "1" * 5000 + ".5", "0." + "1" * 5000,
                                    "1e999", "-1e999", "NaN", "Infinity", "-Infinity"])
def test_numbers_too_long_or_not_finite_get_400(number):
    assert_invalid(call(APP, path="/reading", body='{"value": ' + number + "}"))


@pytest.mark.parametrize("raw", ["   ", "{", '{"username": "a", "password": "p",}', "nul", "\ufeff" + LOGIN,
                                 '{"username": "\\ud800", "password": "p"}',  # a lone surrogate, escaped
                                 '{"username": "a\ud800", "password": "p"}'])  # and raw in the event
def test_invalid_json_gets_400(raw):
    assert_invalid(call(APP, body=raw))


@pytest.mark.parametrize("raw", ["!!not base64!!", base64.b64encode(b"\xc3\x28{}").decode()])
def test_a_base64_body_that_does_not_decode_to_utf8_gets_400(raw):
    assert_invalid(call(APP, body=raw, base64_encoded=True))


def test_a_huge_body_gets_400():
    huge = json.dumps({"username": "alice", "password": "p", "padding": "x" * (1 << 20)})
    assert_invalid(call(APP, body=huge))
    assert_invalid(call(APP, body=base64.b64encode(huge.encode()).decode(), base64_encoded=True))


def test_a_base64_body_that_is_utf8_json_is_read():
    assert call(APP, body=base64.b64encode(LOGIN.encode()).decode(), base64_encoded=True)[0] == 200


def test_unreadable_body_messages_never_echo_the_body():
    secret = "hunter2-the-password"
    for raw in ['{"password": "' + secret + '"', '{"password": "' + secret + '", "n": ' + "7" * 5000 + "}"]:
        code, body, _ = call(APP, body=raw)
        assert code == 400 and secret not in json.dumps(body) and "7777" not in json.dumps(body)


@pytest.mark.parametrize(("path", "payload"), [
    ("/withdraw", {"amount_usd": "42"}),
    ("/withdraw", {"amount_usd": True}),
    ("/withdraw", {"amount_usd": 5e-324}),  # a float, but no amount of money
    ("/withdraw", {"amount_usd": 10.005}),  # a fraction of a cent
    ("/recover", {"username": "a", "password": "p", "same_phone": "true"}),
    ("/recover", {"username": "a", "password": "p", "same_phone": "false"}),
    ("/recover", {"username": "a", "password": "p", "same_phone": 1}),
    ("/things", {"username": "a", "password": "p", "client": {"platform": "tws", "version": "3"}}),
    ("/things", {"username": "a", "password": "p", "client": {"platform": "tws", "version": 3.5}}),
    ("/things", {"username": "a", "password": "p", "client": {"platform": "other"}}),
    ("/things", {"username": "a", "password": "p", "client": "tws"}),
])
def test_types_are_strict(path, payload):
    assert_invalid(call(APP, path=path, body=json.dumps(payload)))


@pytest.mark.parametrize(("path", "payload", "answer"), [
    ("/withdraw", {"amount_usd": 500}, {"amount_usd": 500.0}),  # an int where a float is expected
    ("/withdraw", {"amount_usd": 12.5}, {"amount_usd": 12.5}),
    ("/withdraw", {"amount_usd": 999999999.99}, {"amount_usd": 999999999.99}),
    ("/recover", {"username": "a", "password": "p", "same_phone": False}, {"same_phone": False}),
    ("/things", {"username": "a", "password": "p", "client": {"platform": "tws", "version": 3}}, {"ok": True}),
    ("/things", {"username": "a", "password": "p", "client": {"platform": "mobile"}}, {"ok": True}),
])
def test_well_typed_json_passes_strict_validation(path, payload, answer):
    assert call(APP, path=path, body=json.dumps(payload))[:2] == (200, answer)


def test_a_username_that_normalises_past_a_key_is_refused_cleanly():
    code, body, _ = call(APP, body=json.dumps({"username": "\ufdfa" * 128, "password": "p"}))
    assert code == 400 and body["error"]["code"] == "invalid_request"


def test_usernames_arrive_normalised():
    assert LoginBody.model_validate({"username": "Trader.X", "password": "p"}).username == "trader.x"


@pytest.mark.parametrize(("balance", "accepted"), [(0, True), (1234.56, True), (123456789012345.67, True),
                                                   (1e-131, False), (0.001, False)])
def test_a_balance_is_whole_cents(balance, accepted):
    """DynamoDB holds no number below 1e-130: such a balance was a 500, now a 400."""
    identity = {"date_of_birth": "1980-01-01", "citizenship": "US", "country_of_residence": "US",
                "id_document": {"type": "passport", "number": "X1"}}
    fields = {"username": "abc", "password": "long enough", "account_id": "U1", "entity_id": "E1",
              "primary": True, "identity": identity, "phones": [], "balance_usd": balance, "jurisdiction": "US"}
    if accepted:
        assert CreateUserBody.model_validate(fields).balance_usd == balance
    else:
        with pytest.raises(ValueError, match="two decimal places"):
            CreateUserBody.model_validate(fields)
