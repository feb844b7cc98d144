"""Answers are checked against their route's declared type: fields that do not apply are
left out, an answer that does not match is a 500 (our bug, not the client's), and browsers
on the portal's origin may read them."""
import json

import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router

from securelogin.api.http import make_resolver
from securelogin.api.openapi import Area, operation
from securelogin.api.responses import Device, LoginStatus

router = Router()
CARD = {"device_id": "dev_1", "type": "scc", "label": "Security Code Card", "status": "active",
        "security_level": 2, "created_at": "2026-11-21T10:00:00Z", "last_used_at": None}


@router.get("/card", **operation("getCard", "A card", area=Area.DEVICES))
def card() -> Device:
    return Device(**CARD)


@router.get("/phone", **operation("getPhone", "A phone", area=Area.DEVICES))
def phone() -> Device:
    return Device(**{**CARD, "type": "sms", "phone_masked": "+1******4567"})


@router.get("/wrong", **operation("getWrong", "A status no type allows", area=Area.LOGIN))
def wrong() -> LoginStatus:
    return {"status": "maybe"}


@router.post("/made", **operation("make", "Something made", area=Area.DEVICES, status=201))
def made() -> Device:
    return Device(**CARD)


def call(app, method, path, headers=None, body=None):
    event = {"httpMethod": method, "path": path, "resource": path, "headers": headers or {},
             "multiValueHeaders": {k: [v] for k, v in (headers or {}).items()}, "body": body,
             "requestContext": {"requestId": "r"}, "pathParameters": None, "queryStringParameters": None,
             "isBase64Encoded": False}
    answer = app.resolve(event, None)
    headers = {k.lower(): v for k, v in (answer.get("multiValueHeaders") or {}).items()}
    return answer["statusCode"], json.loads(answer["body"] or "{}"), headers


@pytest.fixture
def app(monkeypatch):
    monkeypatch.delenv("PORTAL_ORIGIN", raising=False)
    return make_resolver(router)


def test_fields_that_do_not_apply_are_left_out_and_set_nulls_are_sent(app):
    status, body, _ = call(app, "GET", "/card")
    assert status == 200
    assert body == CARD  # no serial, phone_masked, ... keys; last_used_at null as set
    assert call(app, "GET", "/phone")[1]["phone_masked"] == "+1******4567"


def test_the_declared_success_status_is_sent(app):
    assert call(app, "POST", "/made")[0] == 201


def test_an_answer_that_does_not_match_its_type_is_a_500_not_the_clients_fault(app):
    status, body, _ = call(app, "GET", "/wrong")
    assert status == 500
    assert body["error"]["code"] == "internal_error"
    assert "maybe" not in json.dumps(body)


def test_building_an_answer_with_an_undeclared_field_fails():
    with pytest.raises(ValueError, match="extra"):
        Device(**CARD, seed_hex="00" * 20)


def test_the_portals_origin_may_read_answers(monkeypatch):
    monkeypatch.setenv("PORTAL_ORIGIN", "https://portal.example.com")
    app = make_resolver(router)
    _, _, headers = call(app, "GET", "/card", {"origin": "https://portal.example.com"})
    assert headers["access-control-allow-origin"] == ["https://portal.example.com"]
    _, _, headers = call(app, "GET", "/card", {"origin": "https://evil.example.net"})
    assert "access-control-allow-origin" not in headers


def test_without_a_portal_origin_no_cross_origin_reads(app):
    _, _, headers = call(app, "GET", "/card", {"origin": "https://portal.example.com"})
    assert "access-control-allow-origin" not in headers


@pytest.mark.parametrize(("content_type", "body", "status"), [
    ("application/json", "{not json", 400), ("application/json", "[" * 100 + "]" * 100, 400),
    ("text/plain", "hello", 415), ("application/json", '{"anything": 1}', 201)])
def test_a_route_that_takes_no_body_still_reads_one_strictly(app, content_type, body, status):
    assert call(app, "POST", "/made", {"content-type": content_type}, body)[0] == status
