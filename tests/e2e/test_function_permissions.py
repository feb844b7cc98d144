"""Each function's IAM policy in template.yaml against the AWS calls its code makes.

The local stack runs in this process; every Lambda invocation is a cold container (the
composition root is rebuilt, so data keys, the code-digest key and clients are fetched
again, as in a new Lambda environment), and every AWS call is recorded with the function
that made it and its parameters. The flows below reach every route of every function.
Each recorded call becomes the IAM requests AWS would authorize (a TransactWriteItems is
one PutItem / UpdateItem / DeleteItem / ConditionCheckItem per item, a Publish to a phone
number names the number and no ARN, a KMS call carries its encryption context), and each
is evaluated against the policies SAM gives the function's role: explicit Deny first,
then some Allow whose action, resource and conditions match.

Both ways: every call a function makes is allowed, and every action a function is granted
was seen (or is listed in JUSTIFIED with the code path that needs it and that no flow
here reaches)."""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import botocore.client
import cbor2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from people import user_body
from templatekit import ACCOUNT, REGION, Resolver, iam_allows, listed, translated

from securelogin import runtime
from securelogin.adapters.aws import forget_clients
from securelogin.clock import system_clock
from securelogin.crypto.ocra import ocra
from securelogin_local import gateway
from securelogin_local.stack import LocalStack

pytestmark = pytest.mark.e2e

SEED = "31" * 32
DSC_SUITE = "OCRA-1:HOTP-SHA256-8:QN06-PSHA1"

# Actions a function is granted although no flow below makes its code call them, each with
# the code path that does. Anything else granted and never seen fails the test.
# A request with an Idempotency-Key that answers 5xx gives its claim back (adapters/idempotency.py,
# KeptAnswers._delete_record): the flows below send keys but meet no 5xx.
GIVES_BACK_A_CLAIM = "a keyed request answered 5xx deletes its IDEMPOTENCY# claim"
JUSTIFIED: dict[str, dict[str, str]] = {
    # CodeDigestKey (adapters/kms.py): the first container anywhere that needs the code key,
    # with no CONFIG item yet, makes it (GenerateDataKey) and stores it. A withdrawal's SMS or
    # voice challenge can be that container; here the key exists by then.
    "WithdrawalsFunction": {"kms:GenerateDataKey": "the first container to need the code-digest key makes it"},
    **{function: {"dynamodb:DeleteItem": GIVES_BACK_A_CLAIM}
       for function in ("AdminFunction", "AuthenticatorFunction", "DevicesFunction", "PortalFunction")},
    # Lambda's event source mapping reads the table's stream with the consumer's role; the
    # consumer reads a message itself only when another delivery holds it or sent it already.
    "OutboxFunction": {**{f"dynamodb:{action}": "Lambda reads the stream with the function's role"
                          for action in ("DescribeStream", "GetRecords", "GetShardIterator", "ListStreams")},
                       "dynamodb:GetItem": "a message another delivery holds or already sent (services/outbox.py)",
                       "sns:Publish": "a notice its request could not send (here every request sends its own)"},
}


# ------------------------------------------------------------------ recording


@dataclass
class Recorder:
    current: threading.local = field(default_factory=threading.local)
    calls: list[tuple[str, str, str, dict[str, Any]]] = field(default_factory=list)
    reached: set[tuple[str, str]] = field(default_factory=set)  # (function, resource path) requests reached
    # (function, resource path, whether the session authorizer's context came with the event) per invocation
    invoked: set[tuple[str, str, bool]] = field(default_factory=set)

    def function(self) -> str | None:
        return getattr(self.current, "function", None)


@pytest.fixture(scope="module")
def recorded() -> Iterator[tuple[Recorder, LocalStack]]:
    recorder = Recorder()
    saved_environment = dict(os.environ)
    original_invoke = gateway.FunctionHost.invoke
    original_call = botocore.client.BaseClient._make_api_call

    def invoke(host: gateway.FunctionHost, event: dict[str, Any]) -> Any:
        runtime.reset()  # a cold container: nothing cached from another function's invocation
        outer = recorder.function()
        recorder.current.function = host.spec.logical_id
        if "resource" in event:  # a request, not the authorizer's TOKEN event
            recorder.invoked.add((host.spec.logical_id, event["resource"],
                                  bool(event["requestContext"].get("authorizer"))))
        try:
            return original_invoke(host, event)
        finally:
            recorder.current.function = outer

    def make_api_call(client: Any, operation: str, params: dict[str, Any]) -> Any:
        function = recorder.function()
        if function is not None:
            recorder.calls.append((function, client.meta.service_model.service_name, operation,
                                   copy.deepcopy(params)))
        return original_call(client, operation, params)

    gateway.FunctionHost.invoke = invoke
    botocore.client.BaseClient._make_api_call = make_api_call
    clock_offset = system_clock._offset.value  # the flows move the process's clock forward
    forget_clients()
    runtime.reset()
    local = LocalStack.start()
    try:
        api = Api(local)
        drive_every_route(api)
        recorder.reached = api.seen
        yield recorder, local
    finally:
        local.stop()
        gateway.FunctionHost.invoke = original_invoke
        botocore.client.BaseClient._make_api_call = original_call
        os.environ.clear()
        os.environ.update(saved_environment)
        system_clock.advance(clock_offset - system_clock._offset.value)
        forget_clients()
        runtime.reset()


# ------------------------------------------------------------------ driving


@dataclass
class Answer:
    status: int
    body: Any


class Api:
    """The local stack's gateway, called in this process."""

    def __init__(self, local: LocalStack) -> None:
        self.local = local
        self.seen: set[tuple[str, str]] = set()  # (function, resource path) reached

    def __call__(self, method: str, path: str, body: Any = None, token: str | None = None,
                 signed: bool = False, expect: int | tuple[int, ...] | None = None) -> Answer:
        data = json.dumps(body).encode() if body is not None else b""
        headers = {"host": "local"}
        if method in ("POST", "PUT", "DELETE") and not path.startswith("/_local/"):
            headers["idempotency-key"] = secrets.token_urlsafe(16)  # what keyed requests call is granted too
        if body is not None:
            headers["content-type"] = "application/json"
        if token:
            headers["authorization"] = f"Bearer {token}"
        if signed:
            request = AWSRequest(method=method, url=f"http://local{path}", data=data, headers=headers)
            SigV4Auth(Credentials("testing", "testing"), "execute-api", REGION).add_auth(request)
            headers = {k.lower(): v for k, v in request.headers.items()}
        answer = self.local.handle(method, path, headers, data, "127.0.0.1")
        try:
            parsed = json.loads(answer.body) if answer.body else {}
        except ValueError:
            parsed = answer.body
        found = gateway.match(self.local.gateway.routes, path.split("?", 1)[0])
        if found:
            route = next(r for r in self.local.gateway.routes if r.path == found[0])
            self.seen.add((route.function, route.path))
        if expect is not None:
            wanted = (expect,) if isinstance(expect, int) else expect
            assert answer.status in wanted, (method, path, answer.status, parsed)
        return Answer(answer.status, parsed)

    def later(self, seconds: int = 121) -> None:
        """Moves the service's clock past the resend throttle (one SMS per purpose per 2 minutes)."""
        self("POST", "/_local/clock", {"advance_seconds": seconds}, expect=200)

    def outbox(self) -> list[dict[str, Any]]:
        return self("GET", "/_local/outbox").body["messages"]

    def code(self, to: str, since: int, digits: int, channel: str = "sms") -> str:
        bodies = [m["body"] for m in self.outbox()[since:] if m["channel"] == channel and m["to"] == to]
        assert bodies, (channel, to)
        return re.findall(rf"(?<!\d)\d{{{digits}}}(?!\d)", bodies[-1])[0]


@dataclass
class App:
    """The IB Key app: a P-256 key and what activation answered."""
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    enrolled: dict[str, Any] = field(default_factory=dict)

    def enrolment(self, pin: str = "7Q!x2") -> dict[str, Any]:
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return {"pin": pin, "public_key": base64.b64encode(der).decode(), "platform": "android",
                "push_token": f"token-{secrets.token_hex(6)}"}

    def sign(self, push_id: str, nonce: str, decision: str, number: str, statement: str) -> str:
        """ECDSA-SHA256 over what the app showed and the number typed (rules.md, "Cryptography")."""
        signed = f"{push_id}|{nonce}|{decision}|{number}|{statement}".encode()
        return base64.b64encode(self.key.sign(signed, ec.ECDSA(hashes.SHA256()))).decode()


def create(api: Api, **over: Any) -> dict[str, Any]:
    body = user_body("perm", **{"balance_usd": 750_000, **over})
    api("POST", "/v1/admin/users", body, signed=True, expect=201)
    return body


def login_start(api: Api, user: dict[str, Any]) -> dict[str, Any]:
    return api("POST", "/v1/login", {"username": user["username"], "password": user["password"]}, expect=200).body


def device(start: dict[str, Any], kind: str) -> str:
    return next(d["device_id"] for d in start["devices"] if d["type"] == kind)


def sms_login(api: Api, user: dict[str, Any], method: str | None = None) -> str:
    api.later()
    start = login_start(api, user)
    mark = len(api.outbox())
    body = {"device_id": device(start, "sms"), **({"method": method} if method else {})}
    api("POST", f"/v1/login/{start['login_id']}/challenge", body, expect=200)
    code = api.code(user["phones"][0], mark, 6, channel=method or "sms")
    return api("POST", f"/v1/login/{start['login_id']}/verify", {"response": code}, expect=200).body["session_token"]


def card_login(api: Api, user: dict[str, Any], kind: str = "dsc_plus", pin: str = "4831") -> str:
    start = login_start(api, user)
    challenge = api("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": device(start, kind)},
                    expect=200).body["challenge"]
    response = ocra(DSC_SUITE, bytes.fromhex(SEED), challenge["challenge_code"], pin=pin)
    return api("POST", f"/v1/login/{start['login_id']}/verify", {"response": response},
               expect=200).body["session_token"]


def activate_by_sms(api: Api, user: dict[str, Any], app: App) -> None:
    api.later()
    mark = len(api.outbox())
    started = api("POST", "/v1/activation/sms", {"username": user["username"], "password": user["password"],
                                                 "phone": user["phones"][0]}, expect=202).body
    code = api.code(user["phones"][0], mark, 8)
    app.enrolled = api("POST", f"/v1/activation/{started['activation_id']}/complete",
                       {"activation_code": code, **app.enrolment()}, expect=201).body


def answer_push(api: Api, app: App, since: int, number: str | None, decision: str = "approve",
                statement: str | None = None, expect: int = 200) -> str:
    """The app answers the newest push since ``since``, typing ``number`` (the match number the asking
    client was shown; None for a deny), signing ``statement`` (default: the push's); returns the push's id."""
    data = [m for m in api.outbox()[since:] if m["channel"] == "push"][-1]["data"]
    signature = app.sign(data["push_id"], data["nonce"], decision, number or "",
                         data["statement"] if statement is None else statement)
    body = {"device_id": app.enrolled["device_id"], "push_id": data["push_id"], "nonce": data["nonce"],
            "decision": decision, "signature": signature}
    api("POST", "/v1/authenticator/push-responses", body | ({"number": number} if number else {}), expect=expect)
    return data["push_id"]


def push_challenge(api: Api, path: str, app: App, token: str | None = None) -> tuple[int, str]:
    """A push asked for on a flow's challenge route: the outbox mark before it and the match number."""
    mark = len(api.outbox())
    challenge = api("POST", path, {"device_id": app.enrolled["device_id"]}, token=token, expect=200).body
    return mark, challenge["challenge"]["match_number"]


def step_up_by_card(api: Api, token: str, card_id: str) -> None:
    """Makes the session ``token`` recent and strong with the DSC+ (api.md, "Step-up"), and reads its status."""
    started = api("POST", "/v1/step-up", token=token, expect=201).body
    question = api("POST", f"/v1/step-up/{started['step_up_id']}/challenge", {"device_id": card_id}, token=token,
                   expect=200).body["challenge"]["challenge_code"]
    api("POST", f"/v1/step-up/{started['step_up_id']}/verify",
        {"response": ocra(DSC_SUITE, bytes.fromhex(SEED), question, pin="4831")}, token=token, expect=200)
    api("GET", f"/v1/step-up/{started['step_up_id']}", token=token, expect=200)


def step_up_by_push(api: Api, token: str, app: App) -> None:
    """Makes the session ``token`` strong with the app's push: the app approves, the client polls."""
    step_up_id = api("POST", "/v1/step-up", token=token, expect=201).body["step_up_id"]
    mark, number = push_challenge(api, f"/v1/step-up/{step_up_id}/challenge", app, token=token)
    answer_push(api, app, mark, number)
    assert api("GET", f"/v1/step-up/{step_up_id}", token=token, expect=200).body["status"] == "approved"


def register_passkey(api: Api, token: str) -> None:
    """A passkey registered from a stepped-up session, with a software ES256 credential (attestation
    ``none``) answering from the origin the stack's settings allow."""
    begun = api("POST", "/v1/devices/passkeys/registration", token=token, expect=200).body
    options = begun["options"]
    origin = (os.environ.get("WEBAUTHN_ORIGINS") or "").split(",")[0] or f"https://{options['rp']['id']}"
    key, credential_id = ec.generate_private_key(ec.SECP256R1()), secrets.token_bytes(16)
    numbers = key.public_key().public_numbers()
    cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")})
    auth_data = (hashlib.sha256(options["rp"]["id"].encode()).digest() + bytes([0x45]) + bytes(4) + bytes(16)
                 + len(credential_id).to_bytes(2, "big") + credential_id + cose)  # flags UP, UV, AT; counter 0
    client_data = json.dumps({"type": "webauthn.create", "challenge": options["challenge"], "origin": origin})
    b64u = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    credential = {"id": b64u(credential_id), "rawId": b64u(credential_id), "type": "public-key",
                  "response": {"clientDataJSON": b64u(client_data.encode()), "attestationObject": b64u(
                      cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data}))},
                  "clientExtensionResults": {}}
    api("POST", "/v1/devices/passkeys", {"registration_id": begun["registration_id"], "label": "Laptop",
                                         "credential": credential}, token=token, expect=201)


def drive_every_route(api: Api) -> None:
    admin = {"signed": True}
    # Back office: users, cards, audit; a wrong password and an unknown username at login.
    owner = create(api)
    api("GET", f"/v1/admin/users/{owner['username']}", expect=200, **admin)
    card = api("POST", f"/v1/admin/users/{owner['username']}/devices",
               {"type": "dsc_plus", "seed_hex": SEED, "pin": "4831"}, expect=201, **admin).body
    scc = api("POST", f"/v1/admin/users/{owner['username']}/devices", {"type": "scc"}, expect=201, **admin).body
    api("GET", f"/v1/admin/users/{owner['username']}/audit", expect=200, **admin)
    api("POST", "/v1/login", {"username": owner["username"], "password": "not-the-password"}, expect=401)
    api("POST", "/v1/login", {"username": f"nobody{secrets.token_hex(3)}", "password": "not-it"}, expect=401)

    # Login: SMS, voice, the DSC+ (wrong answer first), the code card's challenge; status; logout.
    token = sms_login(api, owner)
    sms_login(api, owner, method="voice")
    start = login_start(api, owner)
    api("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": card["device_id"]}, expect=200)
    api("POST", f"/v1/login/{start['login_id']}/verify", {"response": "00000000"}, expect=401)
    api("GET", f"/v1/login/{start['login_id']}", expect=200)
    card_login(api, owner)
    start = login_start(api, owner)
    api("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": scc["device_id"]}, expect=200)
    api("POST", "/v1/logout", token=token, expect=204)

    # IB Key: activation by SMS (a push endpoint), a push login answered by the app, polled.
    app = App()
    activate_by_sms(api, owner, app)
    start = login_start(api, owner)
    mark, number = push_challenge(api, f"/v1/login/{start['login_id']}/challenge", app)
    push_id = answer_push(api, app, mark, number)
    token = api("GET", f"/v1/login/{start['login_id']}", expect=200).body["session_token"]
    assert api("GET", f"/v1/authenticator/pushes/{push_id}", expect=200).body == {"status": "answered"}

    # Portal: profile, setting, a change of setting.
    api("GET", "/v1/me", token=token, expect=200)
    api("GET", "/v1/settings/secure-login", token=token, expect=200)
    api("PUT", "/v1/settings/secure-login", {"mode": "always"}, token=token, expect=200)

    # Withdrawals: by the DSC+, then by a push the app approves.
    withdrawal = api("POST", "/v1/withdrawals", {"amount_usd": 100}, token=token, expect=201).body
    challenge = api("POST", f"/v1/withdrawals/{withdrawal['withdrawal_id']}/challenge",
                    {"device_id": card["device_id"]}, token=token, expect=200).body["challenge"]
    response = ocra(DSC_SUITE, bytes.fromhex(SEED), challenge["challenge_code"], pin="4831")
    api("POST", f"/v1/withdrawals/{withdrawal['withdrawal_id']}/verify", {"response": response}, token=token,
        expect=200)
    api("GET", f"/v1/withdrawals/{withdrawal['withdrawal_id']}", token=token, expect=200)
    withdrawal = api("POST", "/v1/withdrawals", {"amount_usd": 100}, token=token, expect=201).body
    mark, number = push_challenge(api, f"/v1/withdrawals/{withdrawal['withdrawal_id']}/challenge", app, token)
    answer_push(api, app, mark, number)
    withdrawal = api("POST", "/v1/withdrawals", {"amount_usd": 100}, token=token, expect=201).body
    api.later()
    mark = len(api.outbox())
    api("POST", f"/v1/withdrawals/{withdrawal['withdrawal_id']}/challenge",
        {"device_id": device(login_start(api, owner), "sms"), "method": "voice"}, token=token, expect=200)
    api("POST", f"/v1/withdrawals/{withdrawal['withdrawal_id']}/verify",
        {"response": api.code(owner["phones"][0], mark, 6, channel="voice")}, token=token, expect=200)

    # Activation by QR code from a portal session, for a second user on a new phone.
    other = create(api)
    other_token = sms_login(api, other)
    # (and, while SMS is all it has, an activation SMS to a number not on file, from its session)
    api("POST", "/v1/activation/sms", {"username": other["username"], "password": other["password"],
                                       "phone": f"+1555{secrets.randbelow(10**7):07d}"}, token=other_token,
        expect=202)
    session = api("POST", "/v1/activation/qr", token=other_token, expect=201).body
    api("POST", "/v1/activation/qr/complete", {"session_id": session["session_id"], **App().enrolment()},
        expect=201)
    api("GET", f"/v1/activation/qr/{session['session_id']}", token=other_token, expect=200)

    # Recovery: by the DSC+ (a new phone), and by SMS to the same phone.
    started = api("POST", "/v1/recovery", {"username": owner["username"], "password": owner["password"],
                                           "same_phone": False}, expect=202).body
    response = ocra(DSC_SUITE, bytes.fromhex(SEED), started["challenge"]["challenge_code"], pin="4831")
    api("POST", f"/v1/recovery/{started['recovery_id']}/complete", {"response": response, **App().enrolment()},
        expect=200)
    api.later()
    mark = len(api.outbox())
    started = api("POST", "/v1/recovery", {"username": other["username"], "password": other["password"],
                                           "same_phone": True}, expect=202).body
    if started.get("sent_to"):
        code = api.code(other["phones"][0], mark, 8)
        api("POST", f"/v1/recovery/{started['recovery_id']}/complete",
            {"activation_code": code, **App().enrolment()}, expect=(200, 401))

    # Devices: a DSC+ requested, fulfilled by the back office, activated, its PIN changed,
    # returned; the code card removed.
    rich = create(api)
    rich_app = App()
    activate_by_sms(api, rich, rich_app)
    rich_token = sms_login(api, rich)
    step_up_by_push(api, rich_token, rich_app)  # the IB Key is stronger than the SMS that opened the session
    request = api("POST", "/v1/devices/dsc-plus", {"pin": "4831", "reason": "new"}, token=rich_token,
                  expect=201).body
    new_card = api("POST", f"/v1/admin/device-requests/{request['request_id']}/fulfil",
                   {"serial": "DSC-7777", "seed_hex": SEED}, expect=200, **admin).body
    question = api("POST", f"/v1/devices/{new_card['device_id']}/activation-challenge", token=rich_token,
                   expect=200).body["challenge_code"]
    api("POST", f"/v1/devices/{new_card['device_id']}/activate",
        {"response": ocra(DSC_SUITE, bytes.fromhex(SEED), question, pin="4831")}, token=rich_token, expect=200)
    rich_token = card_login(api, rich)
    question = api("POST", f"/v1/devices/{new_card['device_id']}/pin-challenge", token=rich_token,
                   expect=200).body["challenge_code"]
    api("PUT", f"/v1/devices/{new_card['device_id']}/pin",
        {"response": ocra(DSC_SUITE, bytes.fromhex(SEED), question, pin="4831"), "new_pin": "5902"},
        token=rich_token, expect=200)
    api("POST", f"/v1/devices/{new_card['device_id']}/return", token=rich_token, expect=200)
    owner_token = sms_login(api, owner)
    step_up_by_card(api, owner_token, card["device_id"])  # the DSC+ is the owner's strongest
    api("DELETE", f"/v1/devices/{scc['device_id']}", token=owner_token, expect=204)
    register_passkey(api, owner_token)  # the session is stepped up

    # Lost card: a temporary code, the online card, logging in with it, the card found again.
    lost = create(api)
    lost_card = api("POST", f"/v1/admin/users/{lost['username']}/devices",
                    {"type": "dsc_plus", "seed_hex": SEED, "pin": "4831"}, expect=201, **admin).body
    api("POST", f"/v1/admin/users/{lost['username']}/devices/{lost_card['device_id']}/lost",
        {"reason": "client called"}, expect=200, **admin)
    temporary = api("POST", f"/v1/admin/users/{lost['username']}/temporary-code", {"reason": "passport seen"},
                    expect=201, **admin).body
    start = login_start(api, lost)
    api("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": device(start, "temporary_code")},
        expect=200)
    temp_token = api("POST", f"/v1/login/{start['login_id']}/verify", {"response": temporary["code"]},
                     expect=200).body["session_token"]
    online = api("POST", "/v1/temporary/online-card", token=temp_token, expect=201).body
    start = login_start(api, lost)
    indices = api("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": online["device_id"]},
                  expect=200).body["challenge"]["indices"]
    online_token = api("POST", f"/v1/login/{start['login_id']}/verify",
                       {"response": "".join(online["card"][i] for i in indices)}, expect=200).body["session_token"]
    api("POST", f"/v1/devices/{lost_card['device_id']}/reactivate", token=online_token, expect=200)

    # Sharing the owner's DSC+: with a username of the same entity (approved, then cancelled),
    # and of another entity (Compliance approves).
    for entity, decided in ((owner["entity_id"], False), (f"X{secrets.token_hex(3)}", True)):
        twin = create(api, identity=owner["identity"], entity_id=entity)
        twin_token = sms_login(api, twin)
        share = api("POST", "/v1/sharing", {"owner_username": owner["username"],
                                            "owner_password": owner["password"]}, token=twin_token, expect=201).body
        response = ocra(DSC_SUITE, bytes.fromhex(SEED), share["challenge"]["challenge_code"], pin="4831")
        done = api("POST", f"/v1/sharing/{share['share_id']}/complete", {"response": response}, token=twin_token,
                   expect=200).body
        if decided:
            assert done["status"] == "pending_compliance", done
            api("GET", "/v1/admin/sharing?status=pending", expect=200, **admin)
            api("POST", f"/v1/admin/sharing/{share['share_id']}/decision",
                {"decision": "approve", "reason": "same person"}, expect=200, **admin)
        else:
            # A username with a shared device: its partition holds a link, read through to the
            # owner's item (BatchGetItem) wherever its devices are read.
            twin_token = card_login(api, twin)
            api("GET", "/v1/me", token=twin_token, expect=200)
            api("GET", f"/v1/admin/users/{twin['username']}", expect=200, **admin)
            api("POST", "/v1/withdrawals", {"amount_usd": 100}, token=twin_token, expect=201)
            api("POST", "/v1/devices/dsc-plus", {"pin": "4831", "reason": "second"}, token=twin_token)
            api("POST", "/v1/sharing", {"owner_username": owner["username"], "owner_password": owner["password"]},
                token=twin_token)
            api.later()
            api("POST", "/v1/activation/sms", {"username": twin["username"], "password": twin["password"],
                                               "phone": twin["phones"][0]})
            api("POST", "/v1/recovery", {"username": twin["username"], "password": twin["password"],
                                         "same_phone": False})
            api("DELETE", f"/v1/sharing/{share['share_id']}", token=twin_token, expect=200)

    # Pushes denied: the third denial in 15 minutes pauses pushes and tells the user by SMS.
    # Before: a forged approval (not counted, audited) and one with the wrong number (a wrong answer).
    denier, denier_app = create(api), App()
    activate_by_sms(api, denier, denier_app)
    start = login_start(api, denier)
    mark, number = push_challenge(api, f"/v1/login/{start['login_id']}/challenge", denier_app)
    answer_push(api, denier_app, mark, number, statement="Withdraw USD 9,999.00 to Mallory", expect=401)
    answer_push(api, denier_app, mark, f"{(int(number) + 1) % 1000:03d}", expect=401)
    for _ in range(3):
        start = login_start(api, denier)
        mark, _number = push_challenge(api, f"/v1/login/{start['login_id']}/challenge", denier_app)
        answer_push(api, denier_app, mark, None, decision="deny")
    start = login_start(api, denier)
    paused = api("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": denier_app.enrolled["device_id"]},
                 expect=429).body
    assert paused["error"]["code"] == "push_paused", paused

    # Opting out (a protecting action: an SMS-only user's fresh SMS session is strong) and back in.
    opting = create(api)
    opting_token = sms_login(api, opting)
    api("PUT", "/v1/settings/secure-login", {"mode": "opted_out", "accept_risk": True}, token=opting_token,
        expect=200)
    api("PUT", "/v1/settings/secure-login", {"mode": "always"}, token=opting_token, expect=200)

    # SNS failing: a code that was not sent gives its resend throttle back (DeleteItem).
    failing = create(api)
    failing_token = sms_login(api, failing)
    withdrawal = api("POST", "/v1/withdrawals", {"amount_usd": 100}, token=failing_token, expect=201).body
    start = login_start(api, failing)
    for method, path, body in (
            ("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": device(start, "sms")}),
            ("POST", f"/v1/withdrawals/{withdrawal['withdrawal_id']}/challenge", {"device_id": device(start, "sms")}),
            ("POST", "/v1/activation/sms", {"username": failing["username"], "password": failing["password"],
                                            "phone": failing["phones"][0]})):
        api.later()
        api("POST", "/_local/faults", {"service": "sns", "operation": "Publish", "error": "InternalServerError",
                                       "count": 2}, expect=200)
        api(method, path, body, token=failing_token if "withdrawals" in path else None, expect=503)
    api("DELETE", "/_local/faults")

    # The catch-all and the API document.
    api("GET", "/v1/nowhere", expect=404)
    api("GET", "/openapi.json", expect=200)


# ------------------------------------------------------------------ what IAM sees


@dataclass(frozen=True)
class IamRequest:
    action: str
    resource: str
    context: tuple[tuple[str, Any], ...] = ()

    def value(self, key: str) -> Any:
        return dict(self.context).get(key)


def iam_requests(service: str, operation: str, params: dict[str, Any], table_arn: str) -> list[IamRequest]:
    if service == "dynamodb":
        if operation == "TransactWriteItems":
            kinds = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem"}
            return [IamRequest(f"dynamodb:{kinds[kind]}", table_arn)
                    for item in params["TransactItems"] for kind in item]
        if operation == "TransactGetItems":
            return [IamRequest("dynamodb:GetItem", table_arn) for _ in params["TransactItems"]]
        resource = table_arn
        if params.get("IndexName"):
            resource = f"{table_arn}/index/{params['IndexName']}"
        return [IamRequest(f"dynamodb:{operation}", resource)]
    if service == "kms":
        context = params.get("EncryptionContext", {})
        items = [(f"kms:EncryptionContext:{k}", v) for k, v in context.items()]
        items += [("kms:EncryptionContextKeys", tuple(sorted(context))), ("kms:CallerAccount", ACCOUNT)]
        key = params["KeyId"]
        arn = key if key.startswith("arn:") else f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"
        return [IamRequest(f"kms:{operation}", arn, tuple(sorted(items)))]
    if service == "sns":
        if operation == "Publish":
            # A message to a phone number names the number, not an ARN; push names its endpoint.
            target = params.get("PhoneNumber") or params.get("TargetArn") or params.get("TopicArn")
            return [IamRequest("sns:Publish", target)]
        if operation == "CreatePlatformEndpoint":
            return [IamRequest("sns:CreatePlatformEndpoint", params["PlatformApplicationArn"])]
        return [IamRequest(f"sns:{operation}", "*")]
    if service == "pinpoint-sms-voice-v2":
        return [IamRequest(f"sms-voice:{operation}", "*")]
    raise AssertionError(f"a call to a service no function is meant to use: {service} {operation}")


# ------------------------------------------------------------------ what the template grants


def function_policies(template: dict[str, Any], resolve: Resolver) -> dict[str, list[dict[str, Any]]]:
    """Each serverless function's statements, from its role's inline and customer-managed policies."""
    resources = template["Resources"]
    found = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        role = resources[resource["Properties"]["Role"]["Fn::GetAtt"][0]]["Properties"]
        documents = [p["PolicyDocument"] for p in role.get("Policies", [])]
        for arn in role.get("ManagedPolicyArns", []):
            if isinstance(arn, dict) and "Ref" in arn:
                documents.append(resources[arn["Ref"]]["Properties"]["PolicyDocument"])
        statements = []
        for document in resolve(documents):
            listed = document["Statement"]
            statements += listed if isinstance(listed, list) else [listed]
        found[name] = statements
    return found


def allowed(statements: list[dict[str, Any]], request: IamRequest) -> bool:
    return iam_allows(statements, request.action, request.resource, dict(request.context))


def granted_actions(statements: list[dict[str, Any]]) -> set[str]:
    """The data-plane actions of DynamoDB, KMS, SNS and SMS/voice an Allow names."""
    found = set()
    for statement in statements:
        if statement["Effect"] == "Allow" and "Action" in statement:
            found.update(a for a in listed(statement["Action"])
                         if a.split(":")[0] in ("dynamodb", "kms", "sns", "sms-voice"))
    return found


# ------------------------------------------------------------------ the checks


@pytest.fixture(scope="module")
def requests_by_function(recorded) -> dict[str, list[IamRequest]]:
    recorder, local = recorded
    table_arn = local.stack.physical["Table"]["Arn"]
    found: dict[str, list[IamRequest]] = {}
    for function, service, operation, params in recorder.calls:
        found.setdefault(function, []).extend(iam_requests(service, operation, params, table_arn))
    return found


@pytest.fixture(scope="module")
def policies(recorded) -> dict[str, list[dict[str, Any]]]:
    _, local = recorded
    template = translated(Stage="dev")
    physical = {name: {"Ref": f"securelogin-dev-{name}", "Arn": f"arn:aws:local:{REGION}:{ACCOUNT}:{name}"}
                for name in template["Resources"]}
    physical.update(local.stack.physical)
    resolve = Resolver(template, physical=physical, Stage="dev")
    return function_policies(template, resolve)


def test_the_flows_reach_every_route_of_every_function(recorded):
    recorder, local = recorded
    routes = {(r.function, r.path) for r in local.gateway.routes} - {("FallbackFunction", "/")}
    assert routes - recorder.reached == set()


# The routes issue 21 added: resource path -> (the function behind it, its authorizer).
NEW_ROUTES = {
    "/v1/step-up": ("LoginFunction", "session"),
    "/v1/step-up/{step_up_id}": ("LoginFunction", "session"),
    "/v1/step-up/{step_up_id}/challenge": ("LoginFunction", "session"),
    "/v1/step-up/{step_up_id}/verify": ("LoginFunction", "session"),
    "/v1/authenticator/pushes/{push_id}": ("AuthenticatorFunction", "none"),  # the push id is the capability
    "/v1/activation/qr/{session_id}": ("ActivationFunction", "session"),
}


def test_the_new_routes_run_in_their_function_behind_their_authorizer(recorded):
    """As the gateway built from template.yaml routes them: each new route reached its function, a
    session route only ever with the session authorizer's context, the push state route without."""
    recorder, local = recorded
    wired = {r.path: (r.function, r.auth) for r in local.gateway.routes if r.path in NEW_ROUTES}
    assert wired == NEW_ROUTES
    ran = {(function, path, authorized) for function, path, authorized in recorder.invoked if path in NEW_ROUTES}
    assert ran == {(function, path, auth == "session") for path, (function, auth) in NEW_ROUTES.items()}


def test_every_call_each_function_makes_is_allowed_by_its_policy(requests_by_function, policies):
    refused = {function: sorted({(r.action, r.resource) for r in requests if not allowed(policies[function], r)})
               for function, requests in requests_by_function.items()}
    assert not {f: r for f, r in refused.items() if r}, refused


def test_no_function_is_granted_an_action_its_code_does_not_use(requests_by_function, policies):
    extra = {}
    for function, statements in policies.items():
        used = {r.action for r in requests_by_function.get(function, [])}
        unused = granted_actions(statements) - used - set(JUSTIFIED.get(function, {}))
        if unused:
            extra[function] = sorted(unused)
    assert not extra, extra


def test_every_function_that_calls_aws_was_seen(requests_by_function):
    assert set(requests_by_function) >= {
        "AuthorizerFunction", "AdminFunction", "LoginFunction", "ActivationFunction", "RecoveryFunction",
        "AuthenticatorFunction", "DevicesFunction", "SharingFunction", "WithdrawalsFunction", "PortalFunction"}
    assert "FallbackFunction" not in requests_by_function and "DocsFunction" not in requests_by_function


def test_no_call_scans_or_publishes_to_a_topic(recorded):
    recorder, _ = recorded
    assert not [c for c in recorder.calls if c[2] == "Scan"]
    assert not [c for c in recorder.calls if c[2] == "Publish" and "TopicArn" in c[3]]


def test_every_kms_call_carries_the_service_encryption_context(recorded):
    recorder, _ = recorded
    kms = [params for _, service, _, params in recorder.calls if service == "kms"]
    assert kms and all(params.get("EncryptionContext", {}).get("service") == "securelogin" for params in kms)



def test_the_evaluation_refuses_what_no_policy_grants(policies, recorded):
    """The check above is only as good as its evaluator: requests no policy should allow are refused."""
    _, local = recorded
    table, key = local.stack.physical["Table"]["Arn"], local.stack.physical["DataKey"]["Arn"]
    context = (("kms:CallerAccount", ACCOUNT), ("kms:EncryptionContext:service", "securelogin"),
               ("kms:EncryptionContextKeys", ("service",)))
    login = policies["LoginFunction"]
    assert allowed(login, IamRequest("dynamodb:GetItem", table))
    assert not allowed(login, IamRequest("dynamodb:Scan", table))
    assert not allowed(login, IamRequest("dynamodb:Query", f"{table}/index/gsi1"))
    assert allowed(login, IamRequest("kms:Decrypt", key, context))
    assert not allowed(login, IamRequest("kms:Decrypt", key, (("kms:EncryptionContextKeys", ()),)))
    assert not allowed(login, IamRequest("kms:Decrypt", key, (("kms:EncryptionContext:service", "other"),
                                                              ("kms:EncryptionContextKeys", ("service",)))))
    assert allowed(login, IamRequest("sns:Publish", "+15551234567"))
    assert allowed(login, IamRequest("sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/app/1"))
    assert not allowed(login, IamRequest("sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:a-topic"))
    portal = policies["PortalFunction"]
    assert not allowed(portal, IamRequest("kms:Decrypt", key, context))
    assert not allowed(portal, IamRequest("sns:Publish", f"arn:aws:sns:{REGION}:{ACCOUNT}:endpoint/GCM/app/1"))
    assert policies["DocsFunction"] == [] and policies["FallbackFunction"] == []
