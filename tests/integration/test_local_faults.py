"""The local stack's fault tool (api.md, "Local stack only"): `skip` moves a fault to the k-th
call, `after` lets a write happen and loses its answer, `scope` keeps a fault to the client
requests that carry its `X-Local-Fault-Scope`; the embedded AWS honours `TransactWriteItems`'
`ClientRequestToken`; the gateway stops a function at its `Timeout` with a 504."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from securelogin.clock import Clock
from securelogin_local import fault_scope, moto_transactions
from securelogin_local.aws import EmbeddedAws
from securelogin_local.gateway import FunctionHost, FunctionTimedOut, Gateway
from securelogin_local.seed import DEMO_PASSWORD, DEMO_USERNAME
from securelogin_local.template import FunctionSpec, Stack, load_template

# No retries unless a test asks for botocore's: each call's own answer must show.
NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
TABLE = "faults"


class Aws:
    """The embedded AWS on a thread of this process, with one table keyed by pk."""

    def __init__(self, embedded: EmbeddedAws) -> None:
        self.embedded = embedded
        self.db = self.client()
        self.db.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])

    def client(self, service: str = "dynamodb", config: Config = NO_RETRIES) -> Any:
        # a session made after fault_scope.install(), as every client of the local stack is
        return boto3.session.Session().client(service, endpoint_url=self.embedded.endpoint_url,
                                              region_name="us-east-1", config=config)

    def arm(self, **fault: Any) -> None:
        self.embedded.faults.arm({"service": "dynamodb", "operation": "*", "error": "InternalServerError",
                                  "count": 1, **fault})

    def item(self, pk: str) -> dict[str, Any] | None:
        return self.db.get_item(TableName=TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True).get("Item")


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    fault_scope.install()
    embedded = EmbeddedAws(Clock()).start()
    try:
        embedded.reset()
        yield Aws(embedded)
    finally:
        embedded.stop()


def _code(error: ClientError) -> str:
    return str(error.response["Error"]["Code"])


def _get(aws: Aws, client: Any, pk: str = "nothing") -> str:
    """One GetItem: "ok", or the error code it failed with."""
    try:
        client.get_item(TableName=TABLE, Key={"pk": {"S": pk}})
    except ClientError as error:
        return _code(error)
    return "ok"


# ------------------------------------------------------------------ skip

def test_skip_lets_that_many_calls_through_and_hits_exactly_the_next(aws):
    aws.arm(skip=3, count=1)
    assert aws.embedded.faults.listed() == [{"service": "dynamodb", "operation": "*", "error": "InternalServerError",
                                            "count": 1, "skip": 3}]
    outcomes = [_get(aws, aws.db) for _ in range(6)]
    assert outcomes == ["ok", "ok", "ok", "InternalServerError", "ok", "ok"]
    assert aws.embedded.faults.listed() == []


def test_a_skipping_fault_lists_what_it_has_left_to_skip_and_counts_only_its_operation(aws):
    aws.arm(operation="PutItem", skip=2, count=2)
    assert _get(aws, aws.db) == "ok"  # another operation: not one of the two to let through
    aws.db.put_item(TableName=TABLE, Item={"pk": {"S": "a"}})
    assert aws.embedded.faults.listed()[0]["skip"] == 1
    aws.db.put_item(TableName=TABLE, Item={"pk": {"S": "b"}})
    assert "skip" not in aws.embedded.faults.listed()[0]
    for pk in ("c", "d"):
        with pytest.raises(ClientError) as failed:
            aws.db.put_item(TableName=TABLE, Item={"pk": {"S": pk}})
        assert _code(failed.value) == "InternalServerError"
        assert aws.item(pk) is None  # failed before it reached moto
    aws.db.put_item(TableName=TABLE, Item={"pk": {"S": "e"}})
    assert aws.embedded.faults.listed() == []


@pytest.mark.parametrize("fault", [{"skip": -1}, {"skip": True}, {"skip": "1"}, {"after": "yes"}, {"scope": ""},
                                   {"scope": 7}, {"scope": "x" * 129}])
def test_a_fault_with_a_bad_new_field_is_refused(aws, fault):
    with pytest.raises(ValueError, match=next(iter(fault))):
        aws.embedded.faults.arm({"service": "dynamodb", "operation": "*", "error": "InternalServerError",
                                 "count": 1, **fault})
    assert aws.embedded.faults.listed() == []


# ------------------------------------------------------------------ after

def test_after_lets_the_write_happen_and_answers_the_error(aws):
    aws.arm(operation="PutItem", after=True)
    with pytest.raises(ClientError) as failed:
        aws.db.put_item(TableName=TABLE, Item={"pk": {"S": "written"}, "n": {"N": "1"}})
    assert _code(failed.value) == "InternalServerError"
    assert aws.item("written") == {"pk": {"S": "written"}, "n": {"N": "1"}}

    aws.arm(operation="PutItem")  # without after: nothing is written
    with pytest.raises(ClientError):
        aws.db.put_item(TableName=TABLE, Item={"pk": {"S": "not-written"}})
    assert aws.item("not-written") is None


def test_after_with_a_timeout_writes_and_gives_no_answer_in_time(aws):
    aws.arm(operation="UpdateItem", error="timeout", after=True)
    impatient = aws.client(config=Config(retries={"total_max_attempts": 1}, read_timeout=1))
    with pytest.raises(ReadTimeoutError):
        impatient.update_item(TableName=TABLE, Key={"pk": {"S": "counter"}}, UpdateExpression="ADD n :one",
                              ExpressionAttributeValues={":one": {"N": "1"}})
    assert aws.item("counter") == {"pk": {"S": "counter"}, "n": {"N": "1"}}


def test_an_sms_published_under_an_after_fault_is_sent_though_its_answer_is_lost(aws):
    aws.embedded.faults.arm({"service": "sns", "operation": "Publish", "error": "ServiceUnavailable", "count": 1,
                             "after": True})
    with pytest.raises(ClientError) as failed:
        aws.client("sns").publish(PhoneNumber="+15550001234", Message="Your code is 123456")
    assert _code(failed.value) == "ServiceUnavailable"
    assert [m["to"] for m in aws.embedded.outbox.snapshot()] == ["+15550001234"]


# ------------------------------------------------------------------ scope

def test_a_scoped_fault_never_hits_an_unscoped_call_nor_another_scope_even_in_parallel(aws):
    aws.arm(scope="mine", count=3)
    client = aws.client()  # one client shared by every thread, as the service shares its clients

    def calls(scope: str | None, n: int = 15) -> list[str]:
        with fault_scope.serving(scope):
            return [_get(aws, client) for _ in range(n)]

    scopes = [None, "other", None, "other", "mine-not", None, "other", None]
    with ThreadPoolExecutor(len(scopes)) as pool:
        others = list(pool.map(calls, scopes))
    assert all(outcome == "ok" for outcomes in others for outcome in outcomes), others
    assert aws.embedded.faults.listed()[0]["count"] == 3  # none used up by the others
    assert calls("mine", 5) == ["InternalServerError"] * 3 + ["ok"] * 2


def test_an_unscoped_fault_still_hits_every_call(aws):
    aws.arm(count=2)
    with fault_scope.serving("any"):
        assert _get(aws, aws.db) == "InternalServerError"
    assert _get(aws, aws.db) == "InternalServerError"
    assert _get(aws, aws.db) == "ok"


# ------------------------------------------------------------------ ClientRequestToken

def _increment(client: Any, token: str | None = None, by: int = 1) -> None:
    extra = {"ClientRequestToken": token} if token else {}
    client.transact_write_items(TransactItems=[{"Update": {
        "TableName": TABLE, "Key": {"pk": {"S": "counter"}}, "UpdateExpression": "ADD n :by",
        "ExpressionAttributeValues": {":by": {"N": str(by)}}}}], **extra)


def _counter(aws: Aws) -> int:
    return int((aws.item("counter") or {"n": {"N": "0"}})["n"]["N"])


def test_a_transaction_sent_again_with_its_token_applies_once(aws):
    token = str(uuid.uuid4())
    _increment(aws.db, token)
    _increment(aws.db, token)  # the same request: success, not applied again
    assert _counter(aws) == 1
    with pytest.raises(ClientError) as mismatch:
        _increment(aws.db, token, by=5)
    assert _code(mismatch.value) == "IdempotentParameterMismatchException"
    assert _counter(aws) == 1
    _increment(aws.db, str(uuid.uuid4()))  # another token: another transaction
    _increment(aws.db)  # none (a caller that sends none): botocore makes one for each call
    assert _counter(aws) == 3


def test_a_token_is_kept_for_ten_minutes(aws, monkeypatch):
    clock = Clock()
    monkeypatch.setattr(moto_transactions, "CLOCK", clock)
    token = str(uuid.uuid4())
    _increment(aws.db, token)
    clock.advance(9 * 60)
    _increment(aws.db, token)
    assert _counter(aws) == 1
    clock.advance(61)
    _increment(aws.db, token)
    assert _counter(aws) == 2


def test_a_cancelled_transaction_keeps_no_token(aws):
    aws.db.put_item(TableName=TABLE, Item={"pk": {"S": "taken"}})
    token = str(uuid.uuid4())

    def claim() -> None:
        aws.db.transact_write_items(ClientRequestToken=token, TransactItems=[{"Put": {
            "TableName": TABLE, "Item": {"pk": {"S": "taken"}, "by": {"S": "me"}},
            "ConditionExpression": "attribute_not_exists(pk)"}}])

    with pytest.raises(ClientError) as cancelled:
        claim()
    assert _code(cancelled.value) == "TransactionCanceledException"
    aws.db.delete_item(TableName=TABLE, Key={"pk": {"S": "taken"}})
    claim()  # the same token and request run again, as in DynamoDB
    assert aws.item("taken") == {"pk": {"S": "taken"}, "by": {"S": "me"}}


def test_a_transaction_whose_answer_was_lost_is_retried_by_botocore_and_applied_once(aws):
    aws.arm(operation="TransactWriteItems", after=True)
    retrying = aws.client(config=Config(retries={"mode": "standard", "total_max_attempts": 2}))
    _increment(retrying)  # botocore's own token, sent again with its retry
    assert _counter(aws) == 1
    assert [c for c in aws.embedded.calls.snapshot() if c[1] == "TransactWriteItems"] == [
        ("dynamodb", "TransactWriteItems", "")] * 2


# ------------------------------------------------------------------ the function's Timeout

# Sleeps when asked, then leaves a mark: the mark shows whether it ran past its timeout.
SLOW_HANDLER = textwrap.dedent('''
    import json, os, time

    def handler(event, context):
        body = json.loads(event.get("body") or "{}")
        if body.get("sleep"):
            time.sleep(body["sleep"])
            for _ in range(100):  # Python, not one blocking call: where a stopped function stops
                time.sleep(0.01)
            open(os.path.join(os.path.dirname(__file__), "ran-past-its-timeout"), "w").close()
        return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                "body": json.dumps({"remaining_ms": context.get_remaining_time_in_millis()})}
''')


@pytest.fixture
def slow_gateway(tmp_path: Path) -> Gateway:
    """The template's API and gateway responses, with LoginFunction's code a handler that
    sleeps on demand and its Timeout 1 s (every other function keeps Globals' 10 s)."""
    (tmp_path / "app.py").write_text(SLOW_HANDLER)
    template = load_template()
    login = template["Resources"]["LoginFunction"]["Properties"]
    login.update(CodeUri=str(tmp_path), Handler="app.handler", Timeout=1)
    stack = Stack.offline(template)
    specs = stack.functions()
    assert specs["LoginFunction"].timeout_s == 1
    assert specs["AdminFunction"].timeout_s == template["Globals"]["Function"]["Timeout"]
    hosts = {name: FunctionHost(spec, stack.region, stack.account) for name, spec in specs.items()}
    return Gateway(stack, hosts)


def _post_login(gateway: Gateway, body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    answer = gateway.handle("POST", "/v1/login", {"Host": "127.0.0.1", "Content-Type": "application/json"},
                            json.dumps(body).encode(), "127.0.0.1")
    return answer.status, json.loads(answer.body), time.monotonic() - started


def test_the_gateway_answers_504_at_the_functions_timeout_and_stops_it(slow_gateway, tmp_path):
    status, body, took = _post_login(slow_gateway, {"sleep": 0.5})
    assert (status, body["error"]["code"]) == (504, "gateway_timeout")
    assert 1.0 <= took < 1.5
    assert body["error"]["message"]
    time.sleep(2)  # long past the handler's sleep and loop: it was stopped, not left to finish
    assert not (tmp_path / "ran-past-its-timeout").exists()


def test_a_function_within_its_timeout_answers_and_a_stopped_environment_is_replaced(slow_gateway):
    host = slow_gateway.hosts["LoginFunction"]
    host.MAX_ENVIRONMENTS = 1  # type: ignore[misc]  # the stopped environment's place must come back
    assert _post_login(slow_gateway, {"sleep": 5})[0] == 504
    answers: list[tuple[int, dict[str, Any], float]] = []
    # a daemon thread: an environment never given back would hold the next request forever
    waiting = threading.Thread(target=lambda: answers.append(_post_login(slow_gateway, {})), daemon=True)
    waiting.start()
    waiting.join(5)
    assert answers, "no environment for the next request: the stopped one was not replaced"
    status, body, _ = answers[0]
    assert status == 200
    assert 0 < body["remaining_ms"] <= 1000


def test_a_host_invoked_in_time_raises_function_timed_out(tmp_path):
    (tmp_path / "app.py").write_text(SLOW_HANDLER)
    host = FunctionHost(FunctionSpec("Slow", tmp_path, "app.handler", 128, 1), "us-east-1", "123456789012")
    with pytest.raises(FunctionTimedOut):
        host.invoke_in_time({"body": json.dumps({"sleep": 3})})


# ------------------------------------------------------------------ through `make run`'s processes

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RunningStack:
    def __init__(self) -> None:
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "securelogin_local", "--port", str(port), "--workers", "2"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(300):
            try:
                if self.call("GET", "/_local/health")[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail("the local stack did not start")

    def call(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None,
             ) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"content-type": "application/json", **(headers or {})})
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, payload = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, payload = error.code, error.read()
        return status, json.loads(payload) if payload else None

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def running() -> Iterator[RunningStack]:
    stack = RunningStack()
    try:
        yield stack
    finally:
        stack.stop()


def test_a_scope_travels_from_the_client_request_to_the_functions_aws_calls(running):
    running.call("DELETE", "/_local/faults")
    # two: the service's AWS calls are retried once (adapters/aws.py)
    fault = {"service": "dynamodb", "operation": "*", "error": "InternalServerError", "count": 2, "scope": "mine"}
    assert running.call("POST", "/_local/faults", fault) == (200, {"faults": [fault]})
    login = {"username": DEMO_USERNAME, "password": DEMO_PASSWORD, "client": {"platform": "portal"}}

    def log_in(scope: str | None) -> int:
        return running.call("POST", "/v1/login", login, {fault_scope.HEADER: scope} if scope else None)[0]

    with ThreadPoolExecutor(8) as pool:  # both workers, at once
        statuses = list(pool.map(log_in, [None, "other", None, "other", "mine-not", None, "other", None] * 2))
    assert statuses == [200] * 16
    assert running.call("GET", "/_local/faults") == (200, {"faults": [fault]})
    status, body = running.call("POST", "/v1/login", login, {fault_scope.HEADER: "mine"})
    assert (status, body["error"]["code"]) == (503, "service_unavailable")
    assert running.call("GET", "/_local/faults") == (200, {"faults": []})
    assert log_in("mine") == 200


def test_armed_faults_list_their_new_fields_and_are_disarmed(running):
    running.call("DELETE", "/_local/faults")
    fault = {"service": "dynamodb", "operation": "PutItem", "error": "timeout", "count": 2, "skip": 4,
             "after": True, "scope": "s-1"}
    assert running.call("POST", "/_local/faults", fault) == (200, {"faults": [fault]})
    assert running.call("GET", "/_local/faults") == (200, {"faults": [fault]})
    assert running.call("POST", "/_local/faults", {**fault, "skip": -1})[0] == 400
    assert running.call("DELETE", "/_local/faults") == (204, None)
    assert running.call("GET", "/_local/faults") == (200, {"faults": []})
