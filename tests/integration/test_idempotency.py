"""Idempotency keys through the functions' handlers, over moto (rules.md "Retries and answers
that were lost"): replays, another request with a key, a 5xx not kept, a duplicate while the
first runs, keys of two callers, and kept secrets sealed in the table."""
from __future__ import annotations

import copy
import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from securelogin import runtime
from securelogin.adapters import idempotency as store
from securelogin.domain.models import DeviceType
from securelogin.services.backoffice_devices import DeviceOrder

PROJECT = Path(__file__).resolve().parents[2]
SEED = "3132333435363738393031323334353637383930313233343536373839303132"


def load_function(area: str):
    spec = importlib.util.spec_from_file_location(f"idempotency_test_{area}", PROJECT / "functions" / area / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Context:
    function_name = "securelogin-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:securelogin-test"
    aws_request_id = "00000000-0000-4000-8000-000000000003"

    def get_remaining_time_in_millis(self) -> int:
        return 9_000


def event(name: str, key: str | None = None, body: Any = None, username: str | None = None,
          **path: str) -> dict[str, Any]:
    found = copy.deepcopy(json.loads((PROJECT / "events" / name).read_text()))
    if key is not None:
        found["headers"]["Idempotency-Key"] = key
        found["multiValueHeaders"]["Idempotency-Key"] = [key]
    if body is not None:
        found["body"] = json.dumps(body)
    if username is not None:
        found["requestContext"]["authorizer"].update(username=username, principalId=username)
    for name_, value in path.items():
        old = found["pathParameters"][name_]
        found["pathParameters"][name_] = value
        found["path"] = found["path"].replace(old, value)
    return found


def header(answer: dict[str, Any], name: str) -> str | None:
    for key, values in (answer.get("multiValueHeaders") or {}).items():
        if key.lower() == name.lower():
            return values[-1]
    for key, value in (answer.get("headers") or {}).items():
        if key.lower() == name.lower():
            return value
    return None


def replayed(answer: dict[str, Any]) -> bool:
    return header(answer, "Idempotent-Replayed") == "true"


def code_of(answer: dict[str, Any]) -> str:
    return json.loads(answer["body"])["error"]["code"]


def kept_items(world) -> list[dict[str, Any]]:
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(world.table)
    return [i for i in table.scan()["Items"] if i["pk"].startswith("IDEMPOTENCY#")]


@pytest.fixture
def withdrawals(world, new_user):
    world.services.users.create(new_user("demo", balance_usd=2_000_000), actor="tester")
    world.services.users.create(new_user("other", phones=["+15550002222"], balance_usd=2_000_000), actor="tester")
    return load_function("withdrawals").lambda_handler


def withdraw(handler, key: str | None, amount: float = 1_250, username: str = "demo") -> dict[str, Any]:
    return handler(event("post-withdrawals.json", key, {"amount_usd": amount}, username=username), Context())


def test_a_replay_gets_the_same_answer_marked_replayed(world, withdrawals):
    first = withdraw(withdrawals, "k-replay")
    assert first["statusCode"] == 201 and not replayed(first)
    again = withdraw(withdrawals, "k-replay")
    assert again["statusCode"] == 201 and replayed(again)
    assert json.loads(again["body"]) == json.loads(first["body"])
    assert header(again, "Content-Type") == header(first, "Content-Type") == "application/json"
    assert len([e for e in world.services.audit.newest_first("demo", 50) if e.type == "withdrawal.requested"]) == 1


def test_without_a_key_nothing_is_kept_and_each_request_runs(world, withdrawals):
    first, second = withdraw(withdrawals, None), withdraw(withdrawals, None)
    assert json.loads(first["body"])["withdrawal_id"] != json.loads(second["body"])["withdrawal_id"]
    assert not replayed(second) and kept_items(world) == []


def test_another_body_or_path_with_the_key_is_422_and_the_key_keeps_its_answer(world, withdrawals):
    first = withdraw(withdrawals, "k-reused", amount=1_000)
    other = withdraw(withdrawals, "k-reused", amount=2_000)
    assert other["statusCode"] == 422 and code_of(other) == "idempotency_key_reused"
    wid = json.loads(first["body"])["withdrawal_id"]
    elsewhere = withdrawals(event("post-withdrawals-withdrawal_id-challenge.json", "k-reused",
                                  {"device_id": "dev_x"}, withdrawal_id=wid), Context())
    assert elsewhere["statusCode"] == 422 and code_of(elsewhere) == "idempotency_key_reused"
    same = withdraw(withdrawals, "k-reused", amount=1_000)
    assert replayed(same) and json.loads(same["body"]) == json.loads(first["body"])


@pytest.mark.parametrize("key", ["", "a" * 129, "has space", "dot.ted", "é"])
def test_a_malformed_key_is_400(world, withdrawals, key):
    answer = withdraw(withdrawals, key)
    assert answer["statusCode"] == 400 and code_of(answer) == "invalid_request"
    assert kept_items(world) == []


def outage(*_: Any, **__: Any) -> Any:
    raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"},
                       "ResponseMetadata": {"HTTPStatusCode": 500}}, "TransactWriteItems")


def test_a_5xx_is_not_kept(world, withdrawals, monkeypatch):
    service = runtime.services().withdrawals
    with monkeypatch.context() as patch:
        patch.setattr(service, "create", outage)
        failed = withdraw(withdrawals, "k-503")
    assert failed["statusCode"] == 503 and kept_items(world) == []
    again = withdraw(withdrawals, "k-503")
    assert again["statusCode"] == 201 and not replayed(again)
    assert replayed(withdraw(withdrawals, "k-503"))


@pytest.fixture
def withdrawals_over_http(world_over_http, new_user):
    """As ``withdrawals``, with AWS over HTTP: the container's retrying thread calls it too."""
    world_over_http.services.users.create(new_user("demo", balance_usd=2_000_000), actor="tester")
    return load_function("withdrawals").lambda_handler


def test_a_claim_that_could_not_be_given_back_is_given_back_once_aws_answers(world_over_http, withdrawals_over_http,
                                                                           monkeypatch):
    world, handler = world_over_http, withdrawals_over_http
    service = runtime.services().withdrawals
    with monkeypatch.context() as patch:
        patch.setattr(service, "create", outage)
        patch.setattr(store, "delete_if", outage)  # the release fails too: the claim stays, for now
        failed = withdraw(handler, "k-stuck")
        assert failed["statusCode"] == 503
        assert [i["status"] for i in kept_items(world)] == ["INPROGRESS"] and len(store.unfinished) == 1
    deadline = time.monotonic() + 10
    while kept_items(world) and time.monotonic() < deadline:  # AWS answers again: the container gives it back
        time.sleep(0.05)
    assert kept_items(world) == [] and len(store.unfinished) == 0
    again = withdraw(handler, "k-stuck")  # not 409 request_in_progress
    assert again["statusCode"] == 201 and not replayed(again)


def test_the_next_keyed_request_finishes_what_was_left_unfinished(world, withdrawals, monkeypatch):
    done: list[str] = []
    monkeypatch.setattr(store.Unfinished, "add", lambda self, write: self._writes.append(write))  # no thread
    store.unfinished.add(lambda: done.append("given back"))
    assert withdraw(withdrawals, "k-next")["statusCode"] == 201
    assert done == ["given back"] and len(store.unfinished) == 0


def test_a_claim_whose_answer_was_lost_knows_itself_when_the_sdk_sends_it_again(world, withdrawals, monkeypatch):
    real = store.save_if

    def written_then_retried(item, condition, recognise=True):
        assert real(item, condition)  # the write happens, its answer is lost ...
        return real(item, condition, recognise)  # ... and the SDK's retry finds the item: its condition fails

    monkeypatch.setattr(store, "save_if", written_then_retried)
    answer = withdraw(withdrawals, "k-lost")
    assert answer["statusCode"] == 201 and not replayed(answer)  # not 409 request_in_progress


def test_a_duplicate_while_the_first_runs_is_409_request_in_progress(world, withdrawals, monkeypatch):
    service = runtime.services().withdrawals
    create, inner = service.create, []

    def create_with_a_duplicate(*args: Any, **kwargs: Any) -> Any:
        inner.append(withdraw(withdrawals, "k-busy"))
        return create(*args, **kwargs)

    monkeypatch.setattr(service, "create", create_with_a_duplicate)
    first = withdraw(withdrawals, "k-busy")
    assert first["statusCode"] == 201
    assert inner[0]["statusCode"] == 409 and code_of(inner[0]) == "request_in_progress"
    assert int(header(inner[0], "Retry-After")) >= 1


def test_keys_of_two_callers_are_independent(world, withdrawals):
    mine = withdraw(withdrawals, "k-shared", username="demo")
    theirs = withdraw(withdrawals, "k-shared", username="other")
    assert theirs["statusCode"] == 201 and not replayed(theirs)
    assert json.loads(mine["body"])["withdrawal_id"] != json.loads(theirs["body"])["withdrawal_id"]
    assert replayed(withdraw(withdrawals, "k-shared", username="demo"))
    assert len(kept_items(world)) == 2


def test_a_kept_4xx_is_replayed(world, withdrawals):
    refused = withdraw(withdrawals, "k-4xx", amount=900_000_000)
    assert 400 <= refused["statusCode"] < 500
    again = withdraw(withdrawals, "k-4xx", amount=900_000_000)
    assert again["statusCode"] == refused["statusCode"] and again["body"] == refused["body"] and replayed(again)


def test_a_kept_temporary_code_is_sealed_in_the_table_and_replayed_in_clear(world, new_user):
    world.services.users.create(new_user("demo"), actor="tester")
    card = world.services.backoffice_devices.issue("demo", DeviceOrder(type=DeviceType.DSC_PLUS, seed_hex=SEED,
                                                                       pin="4831"), "cs")
    world.services.backoffice_devices.mark_lost("demo", card.device.device_id, actor="cs", reason="client called")
    admin = load_function("admin").lambda_handler
    request = event("post-admin-users-username-temporary-code.json", "k-code", {"reason": "video call"})
    first = admin(request, Context())
    assert first["statusCode"] == 201, first
    code = json.loads(first["body"])["code"]
    items = kept_items(world)
    assert len(items) == 1 and items[0]["status"] == "COMPLETED"
    stored = json.dumps(items[0], default=str)
    assert code not in stored and "sealed" in json.loads(items[0]["answer"])
    again = admin(request, Context())
    assert replayed(again) and json.loads(again["body"])["code"] == code
    assert len([d for d in world.services.users.profile("demo")[1] if d.type == DeviceType.TEMPORARY_CODE]) == 1


def test_a_request_without_a_key_never_reaches_the_kept_answers(world, withdrawals, monkeypatch):
    def untouchable(*_: Any, **__: Any) -> None:
        raise AssertionError("a request without a key reached the kept answers")

    monkeypatch.setattr(store.KeptAnswers, "__init__", untouchable)
    monkeypatch.setattr(store.Unfinished, "finish", untouchable)
    assert withdraw(withdrawals, None)["statusCode"] == 201
    get = withdrawals(event("get-withdrawals-withdrawal_id.json", "k-get"), Context())  # a GET: keys do not apply
    assert get["statusCode"] in (200, 404, 410) and not replayed(get)


def test_the_catch_all_answers_404_to_a_keyed_request_without_the_table(world, monkeypatch):
    monkeypatch.setattr(store.KeptAnswers, "__init__", lambda *_: pytest.fail("the catch-all reached the table"))
    fallback = load_function("fallback").lambda_handler
    request = event("post-withdrawals.json", "k-nowhere")
    request.update(path="/v1/nowhere", resource="/{proxy+}", pathParameters={"proxy": "v1/nowhere"})
    answer = fallback(request, Context())
    assert answer["statusCode"] == 404 and not replayed(answer)
