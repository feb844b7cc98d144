"""The outbox through the local stack: a message written in a change's transaction is sent
once, by OutboxFunction, invoked from the table's stream as template.yaml's event says
(streams.py), through AWS failing; what the consumer gives up on goes to the dead-letter
queue; and the embedded AWS's stream keeps what its reader has not read (moto_streams.py)."""
from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from securelogin import runtime
from securelogin.adapters.aws import forget_clients
from securelogin.adapters.dynamo import conditional_transaction
from securelogin.adapters.outbox import OutboxStore
from securelogin.adapters.table import OutboxItem, UserItem
from securelogin.clock import system_clock
from securelogin.domain.models import Channel, OutgoingMessage
from securelogin.ports import StaleWrite
from securelogin_local import streams
from securelogin_local.aws import EmbeddedAws
from securelogin_local.stack import LocalStack
from securelogin_local.streams import StreamPoller, check_pattern, matches

pytestmark = pytest.mark.filterwarnings("ignore:No application metrics")  # most invocations count nothing

PHONE = "+15550001111"
WAIT_SECONDS = 10


@pytest.fixture
def local() -> Iterator[LocalStack]:
    """The local stack in this process, on a fresh embedded AWS, its stream not yet read."""
    saved = dict(os.environ)
    aws = EmbeddedAws(system_clock).start()
    stack = LocalStack(aws.endpoint_url, None, None, aws)  # type: ignore[arg-type]  # until deployed
    try:
        aws.reset()  # moto's state is the process's: nothing of another test's stack
        stack = LocalStack.deploy(aws.endpoint_url)
        stack.aws = aws
        forget_clients()
        runtime.reset()
        runtime.services()  # binds the models to the stack's table, for the test's own writes
        yield stack
    finally:
        stack.stop()  # its stream's consumers, then the embedded AWS
        forget_clients()
        runtime.reset()
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture
def consuming(local: LocalStack) -> LocalStack:
    """The local stack with its stream's consumer running, as LocalStack.start() runs it."""
    local.pollers = [poller.start() for poller in local.stream_pollers()]
    return local


def write_message(body: str = "IBKR: a device was added", to: str = PHONE,
                  also: Callable[[Any], None] | None = None) -> None:
    """An outbox message written in a transaction, as a change writes its notice; ``also``
    adds the change's other writes."""
    message = OutgoingMessage(channel=Channel.SMS, to=to, body=body)
    with conditional_transaction("test") as tx:
        OutboxStore().writes("alice", message, system_clock.now(), timedelta(days=7))(tx)
        if also is not None:
            also(tx)


def sms(local: LocalStack, to: str = PHONE) -> list[dict[str, Any]]:
    assert local.aws is not None
    return [m for m in local.aws.outbox.snapshot() if m["channel"] == "sms" and m["to"] == to]


def wait_for(condition: Callable[[], Any], seconds: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    pytest.fail(f"not within {seconds} s")


def stored_messages() -> list[OutboxItem]:
    table = os.environ["TABLE_NAME"]
    client = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    items = client.scan(TableName=table)["Items"]  # a test's look at everything, not the service's
    return [OutboxItem.find(i["pk"]["S"].removeprefix(OutboxItem.PREFIX)) for i in items
            if i["pk"]["S"].startswith(OutboxItem.PREFIX)]


# ------------------------------------------------------------------ delivery


def test_a_message_written_with_its_change_is_sent_once_after_it_commits(consuming):
    write_message("IBKR: a device was added to your account")
    (message,) = wait_for(lambda: sms(consuming))
    assert message["body"] == "IBKR: a device was added to your account"
    time.sleep(1.0)  # a second delivery would have come by now
    assert len(sms(consuming)) == 1
    (stored,) = stored_messages()
    assert stored.sent_at is not None and stored.claimed_until is None and stored.failures == 0


def test_sns_failing_at_first_delays_the_message_and_it_is_sent_once(consuming):
    assert consuming.aws is not None
    # Each delivery's Publish is tried twice (botocore's retry): the first delivery fails
    # outright, the second gets through on its retry.
    consuming.aws.faults.arm({"service": "sns", "operation": "Publish", "error": "ServiceUnavailable", "count": 3})
    before = len(consuming.aws.calls.snapshot())
    write_message()
    wait_for(lambda: sms(consuming))
    time.sleep(1.5)
    assert len(sms(consuming)) == 1
    assert consuming.aws.faults.listed() == []
    calls = consuming.aws.calls.snapshot()[before:]
    assert calls.count(("sns", "Publish", "OutboxFunction")) == 4
    (stored,) = stored_messages()
    assert stored.sent_at is not None and stored.failures == 1  # released once, then sent


def test_a_consumer_that_cannot_reach_dynamodb_sends_the_message_once_dynamodb_answers(consuming):
    assert consuming.aws is not None
    consuming.aws.faults.arm({"service": "dynamodb", "operation": "UpdateItem", "error": "InternalServerError",
                              "count": 4})
    write_message()
    wait_for(lambda: sms(consuming))
    time.sleep(1.0)
    assert len(sms(consuming)) == 1 and consuming.aws.faults.listed() == []


def test_a_fault_armed_for_a_clients_scope_never_reaches_the_consumer(consuming):
    assert consuming.aws is not None
    scoped = {"service": "sns", "operation": "Publish", "error": "InternalServerError", "count": 5, "scope": "mine"}
    consuming.aws.faults.arm(dict(scoped))
    write_message()
    wait_for(lambda: sms(consuming))
    assert consuming.aws.faults.listed() == [scoped]


def test_a_change_that_does_not_commit_sends_nothing(consuming):
    def fails(tx: Any) -> None:  # the change's own write, whose condition does not hold
        tx.condition_check(UserItem, *UserItem.key("nobody"), condition=UserItem.pk.exists())

    with pytest.raises(StaleWrite):
        write_message("IBKR: never", also=fails)
    write_message("IBKR: committed")
    wait_for(lambda: sms(consuming))
    time.sleep(1.0)
    assert [m["body"] for m in sms(consuming)] == ["IBKR: committed"]


def test_the_consumers_stream_reads_are_neither_logged_nor_hit_by_faults(consuming):
    assert consuming.aws is not None
    time.sleep(3 * streams.POLL_SECONDS)  # reads happen all the time
    assert not [c for c in consuming.aws.calls.snapshot() if c[1] in ("GetRecords", "GetShardIterator")]
    consuming.aws.faults.arm({"service": "dynamodb", "operation": "GetRecords", "count": 100})
    write_message()
    wait_for(lambda: sms(consuming))
    assert consuming.aws.faults.listed()[0]["count"] == 100


# ------------------------------------------------------------------ the poller as Lambda


class Host:
    """A FunctionHost that answers each invocation with ``answer(records)``, which may raise."""

    def __init__(self, answer: Callable[[list[dict[str, Any]]], Any]) -> None:
        self.answer = answer
        self.batches: list[list[str]] = []  # the sequence numbers of each invocation

    def invoke_in_time(self, event: dict[str, Any]) -> Any:
        self.batches.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        return self.answer(event["Records"])


def stream_record(sequence: int, pk: str = "OUTBOX#x", created: float | None = None) -> dict[str, Any]:
    return {"eventID": str(sequence), "eventName": "INSERT", "eventSource": "aws:dynamodb",
            "dynamodb": {"Keys": {"pk": {"S": pk}, "sk": {"S": "MESSAGE"}}, "SequenceNumber": str(sequence),
                         "ApproximateCreationDateTime": time.time() if created is None else created}}


@pytest.fixture
def poller_of(local: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Callable[..., StreamPoller]:
    """A poller of the template's outbox event (not started: batches are handed to it), with
    quick retries and its event changed as asked."""
    monkeypatch.setattr(streams, "FIRST_RETRY_SECONDS", 0.01)
    monkeypatch.setattr(streams, "LAST_RETRY_SECONDS", 0.02)
    (event,) = local.stack.stream_events()

    def make(host: Host, **changes: Any) -> StreamPoller:
        return StreamPoller(local.stack, dataclasses.replace(event, **changes), host, local.aws_endpoint_url)  # type: ignore[arg-type]

    return make


def dead_letters(local: LocalStack) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", endpoint_url=local.aws_endpoint_url)
    url = local.stack.physical["OutboxDeadLetterQueue"]["Ref"]
    found = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in found]


def test_the_template_makes_the_dead_letter_queue_and_the_tables_stream(local):
    sqs = boto3.client("sqs", endpoint_url=local.aws_endpoint_url)
    queue = local.stack.physical["OutboxDeadLetterQueue"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue["Ref"], AttributeNames=["All"])["Attributes"]
    assert attributes["QueueArn"] == queue["Arn"] and attributes["MessageRetentionPeriod"] == "1209600"
    assert attributes["SqsManagedSseEnabled"] == "true"
    table = boto3.client("dynamodb", endpoint_url=local.aws_endpoint_url).describe_table(
        TableName=local.stack.physical["Table"]["Ref"])["Table"]
    assert table["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    assert table["LatestStreamArn"] == local.stack.physical["Table"]["StreamArn"]


def test_a_batch_is_retried_from_its_first_failure(poller_of):
    def answer(records: list[dict[str, Any]]) -> dict[str, Any]:
        if len(host.batches) > 1:
            return {"batchItemFailures": []}
        return {"batchItemFailures": [{"itemIdentifier": "3"}, {"itemIdentifier": "2"}]}  # in any order

    host = Host(answer)
    poller_of(host).deliver([stream_record(n) for n in (1, 2, 3, 4)])
    assert host.batches == [["1", "2", "3", "4"], ["2", "3", "4"]]


def test_after_its_retries_what_is_left_of_a_batch_goes_to_the_dead_letter_queue(local, poller_of):
    # The first record of each batch goes out but the last, which never does.
    host = Host(lambda records: {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
                                                       for r in (records[1:] or records)]})
    poller_of(host, maximum_retry_attempts=2).deliver([stream_record(n) for n in (7, 8, 9)])
    assert host.batches == [["7", "8", "9"], ["8", "9"], ["9"]]  # two retries, each from its first failure
    (failure,) = dead_letters(local)
    assert failure["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failure["requestContext"]["approximateInvokeCount"] == 3
    assert failure["requestContext"]["functionArn"].endswith(":function:securelogin-local-OutboxFunction")
    info = failure["DDBStreamBatchInfo"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == ("9", "9", 1)
    assert info["streamArn"] == local.stack.physical["Table"]["StreamArn"]


def test_a_batch_whose_function_fails_is_split_until_the_record_that_fails_it_is_alone(local, poller_of):
    def answer(records: list[dict[str, Any]]) -> dict[str, Any]:
        if any(r["dynamodb"]["Keys"]["pk"]["S"] == "OUTBOX#poison" for r in records):
            raise RuntimeError("the function failed")
        return {"batchItemFailures": []}

    host = Host(answer)
    records = [stream_record(1), stream_record(2), stream_record(3, "OUTBOX#poison"), stream_record(4)]
    poller_of(host, maximum_retry_attempts=1).deliver(records)
    assert host.batches == [["1", "2", "3", "4"], ["1", "2"], ["3", "4"], ["3"], ["3"], ["4"]]
    (failure,) = dead_letters(local)
    assert failure["DDBStreamBatchInfo"]["startSequenceNumber"] == "3"
    assert failure["DDBStreamBatchInfo"]["batchSize"] == 1


def test_a_record_older_than_the_maximum_age_is_given_up_on_unsent(local, poller_of):
    host = Host(lambda records: {"batchItemFailures": []})
    poller_of(host).deliver([stream_record(5, created=time.time() - 3601)])
    assert host.batches == []
    (failure,) = dead_letters(local)
    assert failure["requestContext"]["condition"] == "RecordAgeExceeded"


# ------------------------------------------------------------------ the filter

OUTBOX_PATTERN = {"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S": [{"prefix": "OUTBOX#"}]}}}}


def test_the_filter_takes_exact_values_and_prefixes():
    assert matches(OUTBOX_PATTERN, stream_record(1, "OUTBOX#abc"))
    assert not matches(OUTBOX_PATTERN, {**stream_record(1, "OUTBOX#abc"), "eventName": "MODIFY"})
    assert not matches(OUTBOX_PATTERN, stream_record(1, "USER#alice"))
    assert not matches(OUTBOX_PATTERN, {"eventName": "INSERT", "dynamodb": {"Keys": {"pk": {"N": "1"}}}})
    assert not matches(OUTBOX_PATTERN, {"eventName": "INSERT"})
    assert matches({"eventName": ["INSERT", "MODIFY"]}, {"eventName": "MODIFY"})


@pytest.mark.parametrize("pattern", [{"eventName": [{"anything-but": ["REMOVE"]}]}, {"eventName": "INSERT"},
                                     {"n": [{"numeric": [">", 0]}]}, {"pk": [{"prefix": 1}]}])
def test_a_filter_rule_the_local_stack_does_not_implement_is_refused(pattern):
    with pytest.raises(ValueError):
        check_pattern(pattern)
    check_pattern(OUTBOX_PATTERN)


# ------------------------------------------------------------------ the embedded AWS's stream


@pytest.fixture
def table_with_stream(local: LocalStack) -> tuple[Any, Any, str]:
    dynamodb = boto3.client("dynamodb", endpoint_url=local.aws_endpoint_url)
    created = dynamodb.create_table(
        TableName="streamed", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})["TableDescription"]
    return dynamodb, boto3.client("dynamodbstreams", endpoint_url=local.aws_endpoint_url), created["LatestStreamArn"]


def _iterator(streams_client: Any, arn: str, kind: str = "TRIM_HORIZON") -> str:
    shard = streams_client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    return streams_client.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType=kind)["ShardIterator"]


def _keys(records: list[dict[str, Any]]) -> list[str]:
    return [r["dynamodb"]["Keys"]["pk"]["S"] for r in records]


def test_an_iterator_is_used_once_and_what_was_read_is_dropped(table_with_stream):
    dynamodb, streams_client, arn = table_with_stream
    for pk in ("a", "b", "c"):
        dynamodb.put_item(TableName="streamed", Item={"pk": {"S": pk}})
    first = _iterator(streams_client, arn)
    answer = streams_client.get_records(ShardIterator=first, Limit=2)
    assert _keys(answer["Records"]) == ["a", "b"]
    with pytest.raises(ClientError) as reused:
        streams_client.get_records(ShardIterator=first)
    assert reused.value.response["Error"]["Code"] == "ExpiredIteratorException"
    after = streams_client.get_records(ShardIterator=answer["NextShardIterator"])
    assert _keys(after["Records"]) == ["c"]
    # a and b were read: the trim horizon is past them now, and the numbers go on
    assert _keys(streams_client.get_records(ShardIterator=_iterator(streams_client, arn))["Records"]) == ["c"]
    dynamodb.put_item(TableName="streamed", Item={"pk": {"S": "d"}})
    (d,) = streams_client.get_records(ShardIterator=after["NextShardIterator"])["Records"]
    assert int(d["dynamodb"]["SequenceNumber"]) == int(after["Records"][0]["dynamodb"]["SequenceNumber"]) + 1


def test_a_cancelled_transaction_leaves_nothing_in_the_stream(table_with_stream):
    dynamodb, streams_client, arn = table_with_stream
    dynamodb.put_item(TableName="streamed", Item={"pk": {"S": "taken"}})
    with pytest.raises(ClientError):
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {"TableName": "streamed", "Item": {"pk": {"S": "new"}}}},
            {"Put": {"TableName": "streamed", "Item": {"pk": {"S": "taken"}},
                     "ConditionExpression": "attribute_not_exists(pk)"}}])
    dynamodb.put_item(TableName="streamed", Item={"pk": {"S": "after"}})
    records = streams_client.get_records(ShardIterator=_iterator(streams_client, arn))["Records"]
    assert _keys(records) == ["taken", "after"]
    assert [int(r["dynamodb"]["SequenceNumber"]) for r in records][1] == int(
        records[0]["dynamodb"]["SequenceNumber"]) + 1
