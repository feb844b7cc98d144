"""The local stack's API Gateway stand-in: routing as API Gateway routes, SigV4 as IAM checks."""
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from securelogin_local import sigv4
from securelogin_local.gateway import match
from securelogin_local.template import Route

ROUTES = [Route("/v1/login", "ANY", "Login", "none"), Route("/v1/login/{login_id}", "ANY", "Login", "none"),
          Route("/v1/login/{login_id}/verify", "ANY", "Login", "none"), Route("/v1/login/status", "ANY", "X", "none"),
          Route("/{proxy+}", "ANY", "Fallback", "none"), Route("/", "ANY", "Fallback", "none")]


@pytest.mark.parametrize(("path", "resource", "params"), [
    ("/v1/login", "/v1/login", {}),
    ("/v1/login/abc", "/v1/login/{login_id}", {"login_id": "abc"}),
    ("/v1/login/status", "/v1/login/status", {}),  # a literal segment wins over a parameter
    ("/v1/login/abc/verify", "/v1/login/{login_id}/verify", {"login_id": "abc"}),
    ("/v1/login/abc/other", "/{proxy+}", {"proxy": "v1/login/abc/other"}),
    ("/", "/", {}),
])
def test_routing_prefers_literals_then_parameters_then_the_proxy(path, resource, params):
    assert match(ROUTES, path) == (resource, params)


URL = "http://127.0.0.1:3000/v1/admin/users?x=1"


def signed(body=b'{"a": 1}', secret="testing"):
    request = AWSRequest(method="POST", url=URL, data=body, headers={"content-type": "application/json"})
    SigV4Auth(Credentials("testing", secret), "execute-api", "us-east-1").add_auth(request)
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["host"] = "127.0.0.1:3000"
    return headers


def test_a_request_signed_with_the_local_credentials_passes():
    assert sigv4.check("POST", URL, signed(), b'{"a": 1}') is None


def test_unsigned_requests_miss_a_token():
    assert sigv4.check("POST", URL, {"host": "127.0.0.1:3000"}, b"") == "MISSING_AUTHENTICATION_TOKEN"


@pytest.mark.parametrize("change", ["secret", "body", "method", "garbage"])
def test_anything_else_is_refused(change):
    headers = signed(secret="other" if change == "secret" else "testing")
    body, method = b'{"a": 1}', "POST"
    if change == "body":
        body = b'{"a": 2}'
    if change == "method":
        method = "PUT"
    if change == "garbage":
        headers["authorization"] = "AWS4-HMAC-SHA256 Credential=x"
    assert sigv4.check(method, URL, headers, body) == "INVALID_SIGNATURE"


def test_old_signatures_expire():
    later = datetime.now(UTC) + timedelta(minutes=20)
    assert sigv4.check("POST", URL, signed(), b'{"a": 1}', now=later) == "EXPIRED_TOKEN"
