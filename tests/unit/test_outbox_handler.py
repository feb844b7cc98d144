"""functions/outbox: the stream records it hands to the outbox's delivery, and the batch item
failures it reports (Lambda retries the stream from the first of them)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")  # most batches count nothing here

APP = Path(__file__).resolve().parents[2] / "functions" / "outbox" / "app.py"
PHONE, BODY = "+15550001111", "IBKR: a device was added to your account"


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    spec = importlib.util.spec_from_file_location("outbox_handler_under_test", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Outbox:
    """OutboxDelivery's stand-in: what ``deliver`` answers (or raises) per outbox id."""

    def __init__(self, outcomes: dict[str, bool | Exception]) -> None:
        self.outcomes = outcomes
        self.delivered: list[str] = []

    def deliver(self, outbox_id: str) -> bool:
        self.delivered.append(outbox_id)
        outcome = self.outcomes.get(outbox_id, True)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class Context:
    function_name = "securelogin-local-OutboxFunction"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:securelogin-local-OutboxFunction"
    aws_request_id = "00000000-0000-4000-8000-000000000000"

    def __init__(self, remaining_ms: list[int] | None = None) -> None:
        self._remaining = remaining_ms or []

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining.pop(0) if self._remaining else 9000


def record(sequence: int, pk: str, event_name: str = "INSERT") -> dict[str, Any]:
    """A stream record as Lambda hands it over (template.yaml's stream: keys only)."""
    return {"eventID": f"e{sequence}", "eventName": event_name, "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026-01-01T00:00:00.000",
            "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "MESSAGE"}}, "SequenceNumber": str(sequence),
                         "SizeBytes": 60, "StreamViewType": "KEYS_ONLY", "ApproximateCreationDateTime": 1.7e9}}


def run(handler: ModuleType, monkeypatch: pytest.MonkeyPatch, outbox: Outbox, records: list[dict[str, Any]],
        context: Context | None = None) -> list[str]:
    monkeypatch.setattr(handler, "services", lambda: SimpleNamespace(outbox=outbox))
    answer = handler.lambda_handler({"Records": records}, context or Context())
    assert set(answer) == {"batchItemFailures"}
    return [failure["itemIdentifier"] for failure in answer["batchItemFailures"]]


def test_every_message_sent_or_sent_before_reports_no_failure(handler, monkeypatch):
    outbox = Outbox({})
    assert run(handler, monkeypatch, outbox, [record(1, "OUTBOX#a1"), record(2, "OUTBOX#b2")]) == []
    assert outbox.delivered == ["a1", "b2"]


def test_a_message_not_out_and_a_delivery_that_raised_are_failures_and_the_rest_is_still_sent(handler, monkeypatch):
    outbox = Outbox({"b2": False, "c3": ConnectionError(f"lost while sending {BODY} to {PHONE}")})
    records = [record(11, "OUTBOX#a1"), record(12, "OUTBOX#b2"), record(13, "OUTBOX#c3"), record(14, "OUTBOX#d4")]
    assert run(handler, monkeypatch, outbox, records) == ["12", "13"]
    assert outbox.delivered == ["a1", "b2", "c3", "d4"]


def test_records_that_announce_no_message_are_passed_over(handler, monkeypatch):
    outbox = Outbox({})
    records = [record(1, "OUTBOX#a1", "MODIFY"), record(2, "OUTBOX#a1", "REMOVE"), record(3, "USER#alice"),
               record(4, "OUTBOX#b2")]
    assert run(handler, monkeypatch, outbox, records) == []
    assert outbox.delivered == ["b2"]


def test_with_too_little_time_left_the_records_are_handed_back_unstarted(handler, monkeypatch):
    outbox = Outbox({})
    context = Context(remaining_ms=[9000, handler.RESERVE_MS - 1, 100])
    records = [record(1, "OUTBOX#a1"), record(2, "OUTBOX#b2"), record(3, "OUTBOX#c3")]
    assert run(handler, monkeypatch, outbox, records, context) == ["2", "3"]
    assert outbox.delivered == ["a1"]


def test_nothing_of_a_message_is_logged(handler, monkeypatch, caplog):
    outbox = Outbox({"a1": RuntimeError(f"SNS said no to {PHONE}: {BODY}"), "b2": False})
    level = handler.logger.log_level
    handler.logger.setLevel("DEBUG")  # everything it could log
    try:
        with caplog.at_level("DEBUG"):
            assert run(handler, monkeypatch, outbox, [record(1, "OUTBOX#a1"), record(2, "OUTBOX#b2")]) == ["1", "2"]
    finally:
        handler.logger.setLevel(level)
    assert any(getattr(r, "outbox_id", None) == "a1" and getattr(r, "error", None) == "RuntimeError"
               for r in caplog.records)
    logged = " ".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    assert PHONE not in logged and BODY not in logged and "SNS said no" not in logged
