"""Credentials for the contract tests (test_contract.py): SigV4 signatures for the admin
routes, and real session tokens for the portal routes.

- ``sigv4_headers`` signs one request as the local stack's one admin identity (access key
  ``testing``, secret ``testing``, region us-east-1, service execute-api, api.md
  "Authentication"); ``SigV4ForRequests`` and ``SigV4ForHttpx`` call it on the request as it
  is about to be sent, so the signature covers the final method, URL and body.
- ``Portal`` creates users through the (signed) admin API and logs them in with password and
  SMS, reading the code from GET /_local/outbox, to get ``Authorization: Bearer`` tokens.
"""
from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import httpx
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from people import user_body

LOCAL_ADMIN_CREDENTIALS = Credentials("testing", "testing")
REGION = "us-east-1"
SERVICE = "execute-api"
SMS_CODE = re.compile(r"(?<!\d)\d{6}(?!\d)")


def sigv4_headers(method: str, url: str, body: bytes | None, content_type: str | None) -> dict[str, str]:
    """The headers that sign ``method url`` with ``body``: ``Authorization`` and ``X-Amz-Date``.

    Only ``host`` (taken from ``url``) and ``content-type`` are signed, so headers an HTTP
    library adds afterwards (user agent, keep-alive, content length) cannot break the signature."""
    signed = {"content-type": content_type} if content_type else {}
    request = AWSRequest(method=method, url=url, data=body or b"", headers=signed)
    SigV4Auth(LOCAL_ADMIN_CREDENTIALS, SERVICE, REGION).add_auth(request)
    return {"Authorization": request.headers["Authorization"], "X-Amz-Date": request.headers["X-Amz-Date"]}


class SigV4ForRequests(requests.auth.AuthBase):
    """``requests`` auth (what schemathesis sends with): signs the prepared request."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body.encode() if isinstance(request.body, str) else request.body
        request.headers.update(sigv4_headers(request.method or "GET", request.url or "", body,
                                             request.headers.get("Content-Type")))
        return request


class SigV4ForHttpx(httpx.Auth):
    """``httpx`` auth (what openapi-python-client's clients send with): signs the request."""

    requires_request_body = True

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers.update(sigv4_headers(request.method, str(request.url), request.content,
                                             request.headers.get("Content-Type")))
        yield request


@dataclass
class Portal:
    """Users and sessions on the local stack at ``base_url``, made through its HTTP API."""

    base_url: str

    def _send(self, method: str, path: str, body: Any = None, *, signed: bool = False) -> httpx.Response:
        with httpx.Client(base_url=self.base_url, timeout=30, auth=SigV4ForHttpx() if signed else None) as http:
            return http.request(method, path, json=body)

    def create_user(self, prefix: str = "contract") -> dict[str, Any]:
        """A new user (the admin body, password included), created with a signed request."""
        user = user_body(prefix)
        created = self._send("POST", "/v1/admin/users", user, signed=True)
        assert created.status_code == 201, created.text
        return user

    def log_in(self, user: dict[str, Any]) -> str:
        """A ``full`` session token for ``user``: password, then the SMS code from the outbox."""
        start = self._send("POST", "/v1/login", {"username": user["username"], "password": user["password"],
                                                "client": {"platform": "portal"}})
        assert start.status_code == 200, start.text
        login_id, device_id = start.json()["login_id"], start.json()["default_device_id"]
        messages_before = len(self._outbox())
        challenge = self._send("POST", f"/v1/login/{login_id}/challenge", {"device_id": device_id, "method": "sms"})
        assert challenge.status_code == 200, challenge.text
        texts = [m["body"] for m in self._outbox()[messages_before:]
                 if m["channel"] == "sms" and m["to"] == user["phones"][0]]
        assert texts, "no SMS reached the outbox"
        code = SMS_CODE.findall(texts[-1])[0]
        verify = self._send("POST", f"/v1/login/{login_id}/verify", {"response": code})
        assert verify.status_code == 200, verify.text
        return verify.json()["session_token"]

    def _outbox(self) -> list[dict[str, Any]]:
        return self._send("GET", "/_local/outbox").json()["messages"]
