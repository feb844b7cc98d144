"""What a bench client does, the same through the gateway in this process or over HTTP:
create a user with a DSC+ card (admin, SigV4-signed), log in with password and card,
read /v1/me, and confirm a withdrawal with the card."""
from __future__ import annotations

import http.client
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from securelogin.crypto.ocra import ocra

SEED_HEX = "9f8e7d6c5b4a39281706f5e4d3c2b1a0" * 2
SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"
PIN = "4831"
PASSWORD = "bench-Password-1"  # noqa: S105 - a local test user's


class Call(Protocol):
    def __call__(self, method: str, path: str, body: Any = None, token: str | None = None,
                 signed: bool = False) -> tuple[int, Any]: ...


class BenchError(RuntimeError):
    pass


def expect(status: int, answer: Any, wanted: int, what: str) -> Any:
    if status != wanted:
        error = answer.get("error") if isinstance(answer, dict) else None
        said = error.get("code") if isinstance(error, dict) else json.dumps(answer)[:200]
        raise BenchError(f"{what}: {status} {said}")
    return answer


def sign(method: str, url: str, body: bytes, headers: dict[str, str]) -> dict[str, str]:
    request = AWSRequest(method=method, url=url, data=body, headers=headers)
    SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def request_headers(method: str, url: str, data: bytes | None, token: str | None, signed: bool,
                    ) -> dict[str, str]:
    headers = {"content-type": "application/json"} if data is not None else {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if signed:
        headers = sign(method, url, data or b"", headers)
    return headers


class HttpCaller:
    """One client of a stack over HTTP: one kept-alive connection, as a browser keeps one."""

    def __init__(self, base_url: str, timeout: float = 120) -> None:
        self.host, port = base_url.removeprefix("http://").rstrip("/").split(":")
        self.port = int(port)
        self.timeout = timeout
        self._connection: http.client.HTTPConnection | None = None

    def __call__(self, method: str, path: str, body: Any = None, token: str | None = None,
                 signed: bool = False) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = request_headers(method, f"http://{self.host}:{self.port}{path}", data, token, signed)
        for attempt in (1, 2):  # a kept-alive connection the server closed meanwhile is opened again
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self._connection.request(method, path, body=data, headers=headers)
                response = self._connection.getresponse()
                payload = response.read()
                break
            except (ConnectionError, http.client.BadStatusLine):
                self.close()
                if attempt == 2:
                    raise
        return response.status, json.loads(payload) if payload else {}

    def connect(self) -> None:
        if self._connection is None:
            self._connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        self._connection.connect()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def gateway_caller(handle: Callable[[str, str, dict[str, str], bytes, str], Any]) -> Call:
    """A caller that hands requests to an in-process ``Gateway.handle``."""

    def call(method: str, path: str, body: Any = None, token: str | None = None,
             signed: bool = False) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        headers = request_headers(method, f"http://localhost{path}", data, token, signed)
        headers.setdefault("host", "localhost")
        answer = handle(method, path, headers, data or b"", "127.0.0.1")
        return answer.status, json.loads(answer.body) if answer.body else {}

    return call


# ------------------------------------------------------------------ the flows


@dataclass
class Person:
    username: str
    card_id: str


def new_person_body(tag: str | None = None) -> dict[str, Any]:
    tag = tag or secrets.token_hex(5)
    return {
        "username": f"bench{tag}", "password": PASSWORD, "account_id": f"U{secrets.randbelow(10**7):07d}",
        "entity_id": f"E{tag}", "primary": True, "phones": [f"+1555{secrets.randbelow(10**7):07d}"],
        "identity": {"date_of_birth": "1970-01-01", "citizenship": "US", "country_of_residence": "US",
                     "id_document": {"type": "passport", "number": f"P{tag}"}},
        "balance_usd": 1_000_000, "jurisdiction": "US",
    }


def create_person(call: Call) -> Person:
    body = new_person_body()
    expect(*call("POST", "/v1/admin/users", body, signed=True), 201, "create user")
    card = expect(*call("POST", f"/v1/admin/users/{body['username']}/devices",
                        {"type": "dsc_plus", "seed_hex": SEED_HEX, "pin": PIN}, signed=True), 201, "issue card")
    return Person(body["username"], card["device_id"])


def answer_to(challenge: dict[str, Any]) -> str:
    return ocra(SUITE, bytes.fromhex(SEED_HEX), challenge["challenge"]["challenge_code"], pin=PIN)


def login_start(call: Call, person: Person) -> str:
    started = expect(*call("POST", "/v1/login", {"username": person.username, "password": PASSWORD}),
                     200, "login start")
    return started["login_id"]


def login_challenge(call: Call, person: Person, login_id: str) -> str:
    """The right answer to the card's challenge on ``login_id``."""
    issued = expect(*call("POST", f"/v1/login/{login_id}/challenge", {"device_id": person.card_id}),
                    200, "login challenge")
    return answer_to(issued)


def login_verify(call: Call, login_id: str, answer: str) -> str:
    done = expect(*call("POST", f"/v1/login/{login_id}/verify", {"response": answer}), 200, "login verify")
    return done["session_token"]


def me(call: Call, token: str) -> None:
    expect(*call("GET", "/v1/me", token=token), 200, "GET /v1/me")


def withdrawal_create(call: Call, token: str, amount_usd: int = 100) -> str:
    created = expect(*call("POST", "/v1/withdrawals", {"amount_usd": amount_usd}, token=token),
                     201, "withdrawal create")
    return created["withdrawal_id"]


def withdrawal_challenge(call: Call, person: Person, token: str, withdrawal_id: str) -> str:
    issued = expect(*call("POST", f"/v1/withdrawals/{withdrawal_id}/challenge", {"device_id": person.card_id},
                          token=token), 200, "withdrawal challenge")
    return answer_to(issued)


def withdrawal_verify(call: Call, token: str, withdrawal_id: str, answer: str) -> None:
    expect(*call("POST", f"/v1/withdrawals/{withdrawal_id}/verify", {"response": answer}, token=token),
           200, "withdrawal verify")
