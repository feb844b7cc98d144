"""The service's metrics (CloudWatch EMF on stdout), each from a real flow through the
services over moto; lambda_entry publishing them when a function answers, counting each
503, and publishing nothing where metrics are disabled; and its X-Ray traces, which
record AWS calls but never a response.

Metrics are read the way Powertools documents testing them: what is published on stdout
(``capsys``), parsed as EMF. Tests that call services directly flush with
``metrics.flush_metrics()``, as ``lambda_entry`` does at the end of an invocation."""
from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.metrics.provider import cold_start
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from securelogin.adapters.aws import is_outage
from securelogin.adapters.messaging import AwsMessageSender
from securelogin.api.http import lambda_entry, make_resolver
from securelogin.domain.models import DeviceType, Method, PushDecision, SlsMode
from securelogin.errors import Forbidden, Gone, Locked, Throttled, Unauthenticated, Unavailable
from securelogin.observability import Metric, count, metrics
from securelogin.runtime import build_services
from securelogin.services.backoffice_devices import DeviceOrder
from securelogin.services.enrolment import AppEnrolment
from securelogin.services.login import ClientInfo
from securelogin.settings import Settings

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics to publish")  # a request that counted nothing

PASSWORD = "correct horse 1"
PHONE = "+15550001111"
PORTAL = ClientInfo("portal")
SEED = "3132333435363738393031323334353637383930313233343536373839303132"
PROJECT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ reading what was published

def published(out: str) -> list[dict]:
    """The EMF documents printed on stdout."""
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"_aws"' in line]


def anonymous(document: dict) -> None:
    """An application metric document: our namespace, the service as its only dimension,
    counts only, and nothing else in it (no metadata, nothing about a user)."""
    (directive,) = document["_aws"]["CloudWatchMetrics"]
    names = {m["Name"] for m in directive["Metrics"]}
    assert directive["Namespace"] == "SecureLogin" and directive["Dimensions"] == [["service"]]
    assert {m["Unit"] for m in directive["Metrics"]} == {"Count"}
    assert set(document) == {"_aws", "service", *names} and document["service"] == "securelogin"


def totals(documents: list[dict]) -> Counter:
    counted: Counter = Counter()
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                value = document[metric["Name"]]
                counted[metric["Name"]] += int(sum(value) if isinstance(value, list) else value)
    return counted


@pytest.fixture
def emf(capsys, monkeypatch):
    """``emf()``: what was counted since the last call, as lambda_entry would publish it."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    metrics.clear_metrics()  # what earlier tests in this process counted and never flushed
    capsys.readouterr()

    def flushed() -> Counter:
        metrics.flush_metrics()
        documents = published(capsys.readouterr().out)
        for document in documents:
            anonymous(document)
        return totals(documents)

    yield flushed
    metrics.clear_metrics()


# ------------------------------------------------------------------ helpers

@pytest.fixture
def alice(world_over_http, new_user):
    world_over_http.services.users.create(new_user(balance_usd=5_000_000), actor="tester")
    return world_over_http


def sent_codes(world, phone=PHONE):
    """The codes texted to ``phone`` (the embedded AWS's outbox), oldest first."""
    return [re.findall(r"\d{6}", m["body"])[0] for m in world.sent("sms", phone)]


def wrong(code):
    return str((int(code) + 1) % 10**6).zfill(6)


def sms_login(world):
    started = world.services.login.start("alice", PASSWORD, PORTAL)
    sms = next(d for d in started.devices if d.type == DeviceType.SMS)
    world.services.login.challenge(started.login_id, sms.device_id, None)
    return started.login_id, sent_codes(world)[-1]


def unreachable_sns():
    return boto3.client("sns", endpoint_url="http://127.0.0.1:9",
                        config=Config(retries={"max_attempts": 1}, connect_timeout=1))


# ------------------------------------------------------------------ passwords

def test_a_wrong_password_is_a_login_failure_at_login_only(alice, emf):
    for username in ("alice", "nobody"):  # an unknown username fails like a known one
        with pytest.raises(Unauthenticated):
            alice.services.login.start(username, "wrong", PORTAL)
    assert emf() == {"LoginFailed": 2}
    with pytest.raises(Unauthenticated):  # the same password step, in another flow
        alice.services.activation.start_by_sms("alice", "wrong", PHONE)
    assert emf() == {}


def test_the_wrong_password_that_locks_the_username_is_one_lockout(alice, emf):
    for _ in range(10):
        with pytest.raises(Unauthenticated):
            alice.services.login.start("alice", "wrong", PORTAL)
    assert emf() == {"LoginFailed": 10, "PasswordLockout": 1}
    with pytest.raises(Throttled):  # refused before it is checked: neither a failure nor a new lock
        alice.services.login.start("alice", PASSWORD, PORTAL)
    assert emf() == {}


# ------------------------------------------------------------------ second factor, messages

def test_an_sms_login_counts_its_text_its_wrong_answer_and_its_success(alice, emf):
    started = alice.services.login.start("alice", PASSWORD, PORTAL)
    assert emf() == {}  # a right password alone grants nothing
    sms = next(d for d in started.devices if d.type == DeviceType.SMS)
    alice.services.login.challenge(started.login_id, sms.device_id, None)
    assert emf() == {"SmsSent": 1}
    with pytest.raises(Unauthenticated):
        alice.services.login.verify(started.login_id, wrong(sent_codes(alice)[-1]))
    assert emf() == {"LoginFailed": 1}
    assert alice.services.login.verify(started.login_id, sent_codes(alice)[-1]).token
    assert emf() == {"LoginSucceeded": 1}
    with pytest.raises(Gone):  # the same answer again: no second session, no second count
        alice.services.login.verify(started.login_id, sent_codes(alice)[-1])
    assert emf() == {}


def test_the_wrong_answer_that_locks_the_device_is_one_device_lock(alice, emf):
    failures = 0
    with pytest.raises(Locked):
        while True:
            alice.clock.advance(121)  # past the resend throttle
            login_id, code = sms_login(alice)
            for _ in range(3):
                failures += 1
                with contextlib.suppress(Unauthenticated):
                    alice.services.login.verify(login_id, wrong(code))
    assert failures == 10
    assert emf() == {"SmsSent": 4, "LoginFailed": 10, "DeviceLocked": 1}


def test_an_sms_that_sns_refuses_is_a_failure_not_a_send(alice, emf):
    broken = build_services(Settings.from_environment(), alice.clock,
                            sender=AwsMessageSender(unreachable_sns, lambda: None, "+15550009999"))
    started = broken.login.start("alice", PASSWORD, PORTAL)
    with pytest.raises(Unavailable):
        broken.login.challenge(started.login_id, started.devices[0].device_id, Method.SMS)
    assert emf() == {"SmsFailed": 1}


def test_voice_calls_count_as_sent_or_failed(world_over_http, new_user, emf):
    world = world_over_http  # the embedded AWS places calls (moto alone does not)
    world.services.users.create(new_user(), actor="tester")
    started = world.services.login.start("alice", PASSWORD, PORTAL)
    world.services.login.challenge(started.login_id, started.devices[0].device_id, Method.VOICE)
    assert emf() == {"VoiceSent": 1}
    world.clock.advance(121)  # past the resend throttle
    world.embedded.faults.arm({"service": "sms-voice", "operation": "SendVoiceMessage",
                               "error": "ServiceUnavailable", "count": 2})  # the call and botocore's retry
    with pytest.raises(Unavailable):
        world.services.login.challenge(started.login_id, started.devices[0].device_id, Method.VOICE)
    assert emf() == {"VoiceFailed": 1}
    no_number = build_services(Settings.from_environment(), world.clock,
                               sender=AwsMessageSender(unreachable_sns, lambda: None, ""))
    with pytest.raises(Unavailable):  # no origination number: refused before AWS is called
        no_number.login.challenge(started.login_id, started.devices[0].device_id, Method.VOICE)
    assert emf() == {"VoiceFailed": 1}


def test_a_password_only_login_of_an_opted_out_user_is_a_success(alice, emf):
    alice.services.sls_mode.change("alice", SlsMode.OPTED_OUT, True)
    emf()  # the change's security notice
    assert alice.services.login.start("alice", PASSWORD, PORTAL).trading_session is not None
    assert emf() == {"LoginSucceeded": 1}


def test_a_temporary_code_login_is_a_success(alice, emf):
    temporary = alice.services.backoffice_devices.issue_temporary_code("alice", "cs", reason="identity checked")
    started = alice.services.login.start("alice", PASSWORD, PORTAL)
    device = next(d for d in started.devices if d.type == DeviceType.TEMPORARY_CODE)
    alice.services.login.challenge(started.login_id, device.device_id, None)
    emf()
    alice.services.login.verify(started.login_id, temporary.code)
    assert emf() == {"LoginSucceeded": 1}


# ------------------------------------------------------------------ withdrawals

def test_a_withdrawal_is_authorized_once_and_a_wrong_answer_refused(alice, emf):
    started = alice.services.withdrawals.create("alice", 150_000)
    sms = next(d for d in alice.services.users.profile("alice")[1] if d.type == DeviceType.SMS)
    alice.services.withdrawals.challenge("alice", started.withdrawal_id, sms.device_id, None)
    assert emf() == {"SmsSent": 1}
    with pytest.raises(Unauthenticated):
        alice.services.withdrawals.verify("alice", started.withdrawal_id, wrong(sent_codes(alice)[-1]))
    assert emf() == {"WithdrawalRefused": 1}
    alice.services.withdrawals.verify("alice", started.withdrawal_id, sent_codes(alice)[-1])
    assert emf() == {"WithdrawalAuthorized": 1}
    with pytest.raises(Forbidden) as over:  # the SMS device's day has 50,000 left
        alice.services.withdrawals.create("alice", 60_000)
    assert over.value.code == "limit_exceeded" and emf() == {"WithdrawalRefused": 1}


def test_a_device_whose_limit_is_too_low_is_a_refusal(alice, emf):
    alice.services.backoffice_devices.issue("alice", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                 pin="4831"), "cs")
    sms = next(d for d in alice.services.users.profile("alice")[1] if d.type == DeviceType.SMS)
    started = alice.services.withdrawals.create("alice", 250_000)  # the card covers it, the SMS device not
    emf()
    with pytest.raises(Forbidden) as low:
        alice.services.withdrawals.challenge("alice", started.withdrawal_id, sms.device_id, None)
    assert low.value.code == "device_limit_too_low" and emf() == {"WithdrawalRefused": 1}


def test_a_right_answer_over_the_limit_by_now_is_a_refusal(alice, emf):
    sms = next(d for d in alice.services.users.profile("alice")[1] if d.type == DeviceType.SMS)
    first = alice.services.withdrawals.create("alice", 150_000)
    second = alice.services.withdrawals.create("alice", 150_000)
    alice.services.withdrawals.challenge("alice", first.withdrawal_id, sms.device_id, None)
    alice.clock.advance(121)
    alice.services.withdrawals.challenge("alice", second.withdrawal_id, sms.device_id, None)
    first_code, second_code = sent_codes(alice)[-2:]
    alice.services.withdrawals.verify("alice", first.withdrawal_id, first_code)
    assert emf() == {"SmsSent": 2, "WithdrawalAuthorized": 1}
    with pytest.raises(Forbidden) as over:  # both fitted when challenged; together they do not
        alice.services.withdrawals.verify("alice", second.withdrawal_id, second_code)
    assert over.value.code == "limit_exceeded" and emf() == {"WithdrawalRefused": 1}


# ------------------------------------------------------------------ IB Key pushes (embedded AWS over HTTP)

@dataclass
class PhoneApp:
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def enrolment(self) -> AppEnrolment:
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return AppEnrolment(pin="7Q!x2", public_key=base64.b64encode(der).decode(), platform="android",
                            app_instance_id=None, push_token="token-1")

    def sign(self, data: dict, decision: str, number: str = "") -> str:
        message = f"{data['push_id']}|{data['nonce']}|{decision}|{number}|{data['statement']}".encode()
        return base64.b64encode(self.key.sign(message, ec.ECDSA(hashes.SHA256()))).decode()


def last_sent(world, channel: str, since: int) -> dict:
    return [m for m in world.embedded.outbox.snapshot()[since:] if m["channel"] == channel][-1]


@pytest.fixture
def pushed(world_over_http, new_user):
    """Alice with an activated IB Key that takes pushes; returns (world, app)."""
    world, app = world_over_http, PhoneApp()
    world.services.users.create(new_user(), actor="tester")
    started = world.services.activation.start_by_sms("alice", PASSWORD, PHONE)
    code = re.findall(r"\d{8}", last_sent(world, "sms", 0)["body"])[0]
    world.services.activation.complete_by_sms(started.activation_id, code, app.enrolment())
    return world, app


def push_login(world) -> tuple[str, dict]:
    started = world.services.login.start("alice", PASSWORD, PORTAL)
    key = next(d for d in started.devices if d.type == DeviceType.IB_KEY)
    mark = len(world.embedded.outbox.snapshot())
    issued = world.services.login.challenge(started.login_id, key.device_id, Method.PUSH)
    # The number the asking client shows, which the person types into the app.
    return started.login_id, {**last_sent(world, "push", mark)["data"], "typed": issued.public["match_number"]}


def decide(world, app, data, decision):
    number = data["typed"] if decision == PushDecision.APPROVE else ""
    return world.services.push.answer(data["device_id"], data["push_id"], data["nonce"], decision, number or None,
                                      app.sign(data, decision, number))


def test_an_approved_push_counts_its_send_its_approval_and_one_success(pushed, emf):
    world, app = pushed
    emf()  # the activation's SMS and security notice
    login_id, data = push_login(world)
    assert emf() == {"PushSent": 1}
    assert decide(world, app, data, PushDecision.APPROVE) == "approved"
    assert emf() == {"PushApproved": 1}
    assert world.services.login.status(login_id)[1] is not None
    assert world.services.login.status(login_id)[1] is None  # polled again: handed out once
    assert emf() == {"LoginSucceeded": 1}


def test_a_denied_push_is_a_denial(pushed, emf):
    world, app = pushed
    _, data = push_login(world)
    emf()
    assert decide(world, app, data, PushDecision.DENY) == "denied"
    with pytest.raises(Gone):  # answered again: nothing more
        decide(world, app, data, PushDecision.APPROVE)
    assert emf() == {"PushDenied": 1}


def test_a_push_that_sns_refuses_is_a_failure(pushed, emf):
    world, _ = pushed
    emf()
    world.embedded.faults.arm({"service": "sns", "operation": "Publish", "error": "InternalServerError",
                               "count": 2})  # the call and botocore's retry
    with pytest.raises(Unavailable):
        push_login(world)
    assert emf() == {"PushFailed": 1}


def test_a_success_whose_write_failed_is_counted_when_sent_again(pushed, emf):
    world, app = pushed
    login_id, data = push_login(world)
    decide(world, app, data, PushDecision.APPROVE)
    emf()
    world.embedded.faults.arm({"service": "dynamodb", "operation": "TransactWriteItems",
                               "error": "InternalServerError", "count": 2})
    with pytest.raises(Exception) as outage:  # the session's write failed: the handler answers 503
        world.services.login.status(login_id)
    assert is_outage(outage.value)
    assert emf() == {}
    assert world.services.login.status(login_id)[1] is not None  # the poll sent again
    assert emf() == {"LoginSucceeded": 1}


# ------------------------------------------------------------------ through a function's handler

def load_function(area: str):
    """A function's module, loaded as Lambda (and the local gateway) load it."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"metrics_test_{area}", PROJECT / "functions" / area / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "securelogin-test-LoginFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:securelogin-test-LoginFunction"
    aws_request_id = "00000000-0000-4000-8000-000000000001"


def login_event(username: str, password: str) -> dict:
    event = json.loads((PROJECT / "events" / "post-login.json").read_text())
    event["body"] = json.dumps({"username": username, "password": password, "client": {"platform": "portal"}})
    return event


def test_a_function_publishes_what_its_services_counted_when_it_answers(world, new_user, capsys, monkeypatch):
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    world.services.users.create(new_user(), actor="tester")
    handler = load_function("login").lambda_handler
    metrics.clear_metrics()
    capsys.readouterr()
    assert handler(login_event("alice", "wrong"), Context())["statusCode"] == 401
    documents = published(capsys.readouterr().out)
    application = [d for d in documents if "ColdStart" not in d]
    for document in application:
        anonymous(document)
    assert totals(application) == {"LoginFailed": 1}
    assert "alice" not in json.dumps(documents) and "wrong" not in json.dumps(documents)


# ------------------------------------------------------------------ X-Ray

TRACE_HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

# Run in a fresh interpreter set up as Lambda runs a function with active tracing (the
# tracer's patching of botocore would outlive a test run in this process).
LOGIN_AS_LAMBDA = r"""
import json, re, sys, urllib.request
sys.path[:0] = [sys.argv[1] + "/functions/login"]
import app

class Context:
    function_name = "securelogin-test-LoginFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:securelogin-test-LoginFunction"
    aws_request_id = "00000000-0000-4000-8000-000000000002"

template = json.load(open(sys.argv[1] + "/events/post-login.json"))

def call(method, path, resource, body, **path_parameters):
    event = dict(template, httpMethod=method, path=path, resource=resource, pathParameters=path_parameters or None,
                 body=json.dumps(body))
    event["requestContext"] = dict(template["requestContext"], httpMethod=method, resourcePath=resource)
    answer = app.lambda_handler(event, Context())
    assert answer["statusCode"] == 200, answer
    return json.loads(answer["body"])

started = call("POST", "/v1/login", "/v1/login",
               {"username": "alice", "password": sys.argv[2], "client": {"platform": "portal"}})
login_id = started["login_id"]
issued = call("POST", f"/v1/login/{login_id}/challenge", "/v1/login/{login_id}/challenge",
              {"device_id": started["default_device_id"]}, login_id=login_id)
with urllib.request.urlopen(sys.argv[3] + "/_local/outbox") as outbox:
    code = re.findall(r"\d{6}", [m for m in json.load(outbox)["messages"] if m["channel"] == "sms"][-1]["body"])[0]
granted = call("POST", f"/v1/login/{login_id}/verify", "/v1/login/{login_id}/verify", {"response": code},
               login_id=login_id)
print("SECRETS " + json.dumps([login_id, code, granted["session_token"]]))
"""


def test_traces_record_each_aws_call_and_never_a_response(world_over_http, new_user):
    world = world_over_http
    world.services.users.create(new_user(), actor="tester")
    daemon = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # stands in for the X-Ray daemon
    daemon.bind(("127.0.0.1", 0))
    daemon.settimeout(0.2)
    received: list[bytes] = []
    done = threading.Event()

    def listen() -> None:
        while not done.is_set():
            try:
                received.append(daemon.recv(65535))
            except TimeoutError:
                continue

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    env = {k: v for k, v in os.environ.items() if k != "POWERTOOLS_TRACE_DISABLED"}
    env.update(LAMBDA_TASK_ROOT=str(PROJECT / "functions" / "login"), _X_AMZN_TRACE_ID=TRACE_HEADER,
               AWS_XRAY_DAEMON_ADDRESS=f"127.0.0.1:{daemon.getsockname()[1]}", POWERTOOLS_METRICS_DISABLED="true")
    try:
        run = subprocess.run([sys.executable, "-c", LOGIN_AS_LAMBDA, str(PROJECT), PASSWORD,  # noqa: S603
                              world.embedded.endpoint_url], env=env, capture_output=True, text=True, timeout=120,
                             check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        done.wait(0.5)  # the last datagrams
    finally:
        done.set()
        listener.join(timeout=5)
        daemon.close()
    secrets = json.loads(next(line for line in run.stdout.splitlines() if line.startswith("SECRETS "))[8:])
    documents = [json.loads(d.decode().split("\n", 1)[1]) for d in received]

    handlers = [d for d in documents if d["name"] == "## handler"]
    assert len(handlers) == 3 and all(d["annotations"]["Service"] == "securelogin" for d in handlers)
    assert [d["annotations"]["ColdStart"] for d in handlers] == [True, False, False]
    assert not any("metadata" in d for d in handlers)  # no response, no error
    calls = {(d["name"], d["aws"]["operation"]) for d in documents if d.get("namespace") == "aws"}
    assert {("dynamodb", "TransactWriteItems"), ("sns", "Publish"), ("kms", "GenerateDataKey")} <= calls, calls
    everything = b"".join(received).decode()
    for secret in [*secrets, PASSWORD, "alice", PHONE]:
        assert secret not in everything


def test_where_tracing_is_off_the_xray_sdk_is_not_even_loaded():
    env = {k: v for k, v in os.environ.items() if k not in ("LAMBDA_TASK_ROOT", "POWERTOOLS_TRACE_DISABLED")}
    check = ("import sys; sys.path[:0] = [sys.argv[1] + '/functions/login']; import app; "
             "print(app.lambda_handler.__name__, 'aws_xray_sdk.core' in sys.modules)")
    for extra in ({}, {"LAMBDA_TASK_ROOT": str(PROJECT / "functions" / "login"), "POWERTOOLS_TRACE_DISABLED": "true"}):
        run = subprocess.run([sys.executable, "-c", check, str(PROJECT)], env={**env, **extra},  # noqa: S603
                             capture_output=True, text=True, timeout=120, check=True)
        assert run.stdout.split() == ["handler", "False"], (extra, run.stdout, run.stderr[-2000:])


# ------------------------------------------------------------------ lambda_entry: publishing, 503s, disabled

busy = Router()


@busy.get("/v1/busy")
def refuse() -> dict:
    raise Unavailable("busy", "Too many at once. Try again.")


@busy.get("/v1/outage")
def aws_down() -> dict:
    raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@busy.get("/v1/fine")
def fine() -> dict:
    return {"ok": True}


def get_event(path: str) -> dict:
    return {"resource": path, "path": path, "httpMethod": "GET", "headers": {}, "multiValueHeaders": {},
            "queryStringParameters": None, "pathParameters": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"requestId": "r-1", "resourcePath": path, "httpMethod": "GET", "stage": "dev",
                               "identity": {"sourceIp": "203.0.113.10"}}}


def names(document: dict) -> list[str]:
    return [m["Name"] for d in document["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]


@pytest.fixture
def fresh(monkeypatch, capsys):
    """A first invocation in a new environment, with metrics on (Powertools' own testing advice)."""
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    metrics.clear_metrics()
    monkeypatch.setattr(cold_start, "is_cold_start", True)
    capsys.readouterr()
    yield
    metrics.clear_metrics()


def test_the_metric_names_are_the_ones_alarms_use():
    assert {m.value for m in Metric} == {
        "LoginSucceeded", "LoginFailed", "DeviceLocked", "PasswordLockout", "SmsSent", "SmsFailed", "VoiceSent",
        "VoiceFailed", "PushSent", "PushFailed", "PushApproved", "PushDenied", "WithdrawalAuthorized",
        "WithdrawalRefused", "ServiceUnavailable", "OutboxDelivered", "OutboxDeliveryFailed"}


def test_each_503_is_counted_and_published_when_the_function_answers(fresh, capsys):
    handler = lambda_entry(make_resolver(busy))
    assert handler(get_event("/v1/busy"), Context())["statusCode"] == 503
    first = published(capsys.readouterr().out)
    cold = next(d for d in first if "ColdStart" in d)
    assert cold["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["function_name", "service"]]
    assert cold["function_name"] == Context.function_name and cold["service"] == "securelogin"
    (answered,) = [d for d in first if "ColdStart" not in d]
    assert names(answered) == ["ServiceUnavailable"] and answered["ServiceUnavailable"] == [1.0]
    assert answered["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "SecureLogin"
    assert answered["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["service"]]

    assert handler(get_event("/v1/outage"), Context())["statusCode"] == 503  # AWS failing: 503 too
    (again,) = published(capsys.readouterr().out)  # warm now: no ColdStart
    assert names(again) == ["ServiceUnavailable"] and again["ServiceUnavailable"] == [1.0]

    assert handler(get_event("/v1/fine"), Context())["statusCode"] == 200
    assert published(capsys.readouterr().out) == []  # nothing counted, nothing published


def test_disabled_metrics_publish_nothing_and_keep_nothing(fresh, monkeypatch, capsys):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    handler = lambda_entry(make_resolver(busy))
    for _ in range(101):  # past the 100 values at which Powertools prints whatever it holds
        assert handler(get_event("/v1/busy"), Context())["statusCode"] == 503
        count(Metric.LOGIN_FAILED)
    assert published(capsys.readouterr().out) == []  # not even ColdStart
    assert metrics.metric_set == {}
