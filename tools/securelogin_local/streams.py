"""Lambda's event source mappings on DynamoDB streams (template.yaml's ``Type: DynamoDB``
events: the outbox's consumer), for the local stack.

A :class:`StreamPoller` reads the table's stream from the embedded AWS every
:data:`POLL_SECONDS`, keeps the records the event's ``FilterCriteria`` lets through, and
invokes the function with them through its :class:`~securelogin_local.gateway.FunctionHost`
(the function's code and environment, stopped at its ``Timeout``), as Lambda does:

- up to ``BatchSize`` records an invocation, shaped as Lambda hands them over;
- ``ParallelizationFactor`` batches at once, each record in the one its keys hash to (so a
  key's records keep their order, and a record that keeps failing holds back only its own);
- with ``ReportBatchItemFailures``, the records from the first one the function reports
  failed are retried (those before it are done); an error or a timeout fails the whole
  batch, which ``BisectBatchOnFunctionError`` splits in two, each half retried on its own;
- retries wait :data:`FIRST_RETRY_SECONDS`, doubling up to :data:`LAST_RETRY_SECONDS`;
  after ``MaximumRetryAttempts`` retries, or once a record is older than
  ``MaximumRecordAgeInSeconds``, what is left of the batch is given up on: a record of it
  (Lambda's, for a stream batch: its shard and sequence numbers) goes to the ``OnFailure``
  destination, an SQS queue, and the poller moves on.

Filters: exact values and ``prefix``, all template.yaml uses; any other rule is refused
when the poller is made. The poller's own calls (stream reads, dead-letter sends) carry
``aws.LAMBDA_SERVICE_HEADER``: they are Lambda's, not the service's, so the embedded AWS
neither logs them nor fails them. The function it invokes runs with no fault scope: a fault
armed with a ``scope`` never reaches it, one armed without does. The embedded AWS drops the
stream records the poller has read (moto_streams.py); the poller holds those it still has
to deliver.
"""
from __future__ import annotations

import json
import queue
import sys
import threading
import time
import uuid
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from securelogin_local import fault_scope
from securelogin_local.aws import LAMBDA_SERVICE_HEADER
from securelogin_local.gateway import FunctionHost
from securelogin_local.template import Stack, StreamEvent

POLL_SECONDS = 0.25  # between reads of a stream with nothing new
FIRST_RETRY_SECONDS = 0.5  # before a failed batch's first retry, doubling up to
LAST_RETRY_SECONDS = 4.0
READ_LIMIT = 1000  # records a GetRecords may answer (DynamoDB's most)
_CLIENT_CONFIG = Config(retries={"total_max_attempts": 1}, connect_timeout=2, read_timeout=10)


# ------------------------------------------------------------------ filters


def check_pattern(pattern: Any) -> None:
    """Refuses a filter pattern with a rule the local stack does not implement."""
    if isinstance(pattern, dict):
        for value in pattern.values():
            check_pattern(value)
        return
    if not isinstance(pattern, list):
        raise ValueError(f"filter pattern {pattern!r}: a field's values are a list")
    for rule in pattern:
        if isinstance(rule, dict) and (list(rule) != ["prefix"] or not isinstance(rule["prefix"], str)):
            raise ValueError(f"filter rule {rule!r}: the local stack implements exact values and prefix only")


def matches(pattern: Any, value: Any) -> bool:
    """Whether ``value`` (a stream record as Lambda hands it over) matches a filter pattern."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(k in value and matches(p, value[k]) for k, p in pattern.items())
    return any(value.startswith(rule["prefix"]) if isinstance(rule, dict) else value == rule
               for rule in pattern if not isinstance(rule, dict) or isinstance(value, str))


# ------------------------------------------------------------------ the poller


def _lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record from GetRecords as Lambda hands it to a function (JSON, with its stream's ARN)."""
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    dynamodb = {**record["dynamodb"]}
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = created.timestamp()
    return {**record, "dynamodb": dynamodb, "eventSourceARN": stream_arn}


class StreamPoller:
    """One stream event of one function, polled from its own threads."""

    def __init__(self, stack: Stack, event: StreamEvent, host: FunctionHost, endpoint_url: str) -> None:
        for pattern in event.filters:
            check_pattern(pattern)
        self.event = event
        self._host = host
        self._endpoint_url = endpoint_url
        self._region = stack.region
        self._stream_arn = stack.physical[event.table]["StreamArn"]
        self._dead_letters = stack.physical[event.on_failure]["Ref"] if event.on_failure else None
        self._function_arn = (f"arn:aws:lambda:{stack.region}:{stack.account}:function:"
                              f"securelogin-local-{event.function}")
        self._lanes: list[queue.SimpleQueue[dict[str, Any]]] = [
            queue.SimpleQueue() for _ in range(max(1, event.parallelization_factor))]
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._shard_id = ""
        self._last_read: str | None = None  # the sequence number of the last record read

    # -------------------------------------------------------------- running

    def start(self) -> StreamPoller:
        """Polls on threads of its own (daemons) until :meth:`stop`."""
        self._start_lanes()
        reader = threading.Thread(target=self._read, name=f"{self.event.function}-stream", daemon=True)
        reader.start()
        self._threads.append(reader)
        return self

    def run(self) -> None:
        """Polls in the calling thread (its batches on threads of their own) until :meth:`stop`."""
        self._start_lanes()
        self._read()

    def stop(self, wait_seconds: float = 2.0) -> None:
        self._stopping.set()
        deadline = time.monotonic() + wait_seconds
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))

    def _start_lanes(self) -> None:
        for number, lane in enumerate(self._lanes):
            thread = threading.Thread(target=self._deliver_lane, args=(lane,), daemon=True,
                                      name=f"{self.event.function}-batches-{number}")
            thread.start()
            self._threads.append(thread)

    # -------------------------------------------------------------- reading

    def _client(self, service: str) -> Any:
        made = boto3.session.Session().client(service, endpoint_url=self._endpoint_url, region_name=self._region,
                                              aws_access_key_id="testing", aws_secret_access_key="testing",  # noqa: S106
                                              config=_CLIENT_CONFIG)

        def mark(request: Any, **_: Any) -> None:
            request.headers[LAMBDA_SERVICE_HEADER] = "event-source-mapping"

        made.meta.events.register("before-send", mark)
        return made

    def _read(self) -> None:
        streams = self._client("dynamodbstreams")
        iterator: str | None = None
        while not self._stopping.is_set():
            try:
                if iterator is None:
                    iterator = self._iterator(streams)
                answer = streams.get_records(ShardIterator=iterator, Limit=READ_LIMIT)
            except (BotoCoreError, ClientError) as error:  # the embedded AWS restarting, an expired iterator
                print(f"{self.event.function}: stream not read ({type(error).__name__}), reading it again",
                      file=sys.stderr)
                iterator = None
                self._stopping.wait(POLL_SECONDS)
                continue
            iterator = answer.get("NextShardIterator")  # none once a shard is closed: the next one is found
            for record in answer["Records"]:
                self._last_read = record["dynamodb"]["SequenceNumber"]
                handed = _lambda_record(record, self._stream_arn)
                if not self.event.filters or any(matches(p, handed) for p in self.event.filters):
                    self._lane_of(handed).put(handed)
            if not answer["Records"]:
                self._stopping.wait(POLL_SECONDS)

    def _iterator(self, streams: Any) -> str:
        shards = streams.describe_stream(StreamArn=self._stream_arn)["StreamDescription"]["Shards"]
        open_shards = [s for s in shards if "EndingSequenceNumber" not in s.get("SequenceNumberRange", {})]
        self._shard_id = (open_shards or shards)[-1]["ShardId"]
        if self._last_read is not None:
            return streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=self._shard_id,
                                              ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                                              SequenceNumber=self._last_read)["ShardIterator"]
        return streams.get_shard_iterator(StreamArn=self._stream_arn, ShardId=self._shard_id,
                                          ShardIteratorType=self.event.starting_position)["ShardIterator"]

    def _lane_of(self, record: dict[str, Any]) -> queue.SimpleQueue[dict[str, Any]]:
        keys = json.dumps(record["dynamodb"].get("Keys", {}), sort_keys=True)
        return self._lanes[zlib.crc32(keys.encode()) % len(self._lanes)]

    # -------------------------------------------------------------- delivering

    def _deliver_lane(self, lane: queue.SimpleQueue[dict[str, Any]]) -> None:
        while not self._stopping.is_set():
            try:
                batch = [lane.get(timeout=POLL_SECONDS)]
            except queue.Empty:
                continue
            while len(batch) < self.event.batch_size:
                try:
                    batch.append(lane.get_nowait())
                except queue.Empty:
                    break
            self.deliver(batch)

    def deliver(self, batch: list[dict[str, Any]]) -> None:
        """Invokes the function with ``batch`` until it has taken every record, retrying and
        giving up as the event says."""
        pending, retries, wait = batch, 0, FIRST_RETRY_SECONDS
        while pending and not self._stopping.is_set():
            if self._too_old(pending[0]):
                self._give_up(pending, "RecordAgeExceeded", retries)
                return
            failed_from, function_error = self._invoke(pending)
            if failed_from is None:
                return
            if function_error and self.event.bisect_on_error and len(pending) > 1:
                half = len(pending) // 2  # a split is not a retry: each half gets retries of its own
                self.deliver(pending[:half])
                self.deliver(pending[half:])
                return
            pending = pending[failed_from:]
            if 0 <= self.event.maximum_retry_attempts <= retries:
                self._give_up(pending, "RetryAttemptsExhausted", retries)
                return
            retries += 1
            self._stopping.wait(wait)
            wait = min(2 * wait, LAST_RETRY_SECONDS)

    def _invoke(self, batch: list[dict[str, Any]]) -> tuple[int | None, bool]:
        """(the position of the first record to retry, None when all were taken; whether the
        function failed as a whole)."""
        try:
            # No client request's scope (only unscoped faults reach it); its calls are marked as its own.
            with fault_scope.serving(None, caller=self.event.function):
                answer = self._host.invoke_in_time({"Records": batch})
        except Exception as error:  # Lambda: a function error (raised, or stopped at its Timeout)
            print(f"{self.event.function}: batch of {len(batch)} failed ({type(error).__name__})", file=sys.stderr)
            return 0, True
        if not self.event.reports_item_failures or not answer:  # no answer, or an empty one: all taken
            return None, False
        failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
        if not failures:
            return None, False
        positions = {r["dynamodb"]["SequenceNumber"]: i for i, r in enumerate(batch)}
        identifiers = [f.get("itemIdentifier") if isinstance(f, dict) else None
                       for f in (failures if isinstance(failures, list) else [None])]
        if any(i not in positions for i in identifiers):  # Lambda: an answer it cannot read fails the batch
            return 0, False
        return min(positions[i] for i in identifiers), False

    def _too_old(self, record: dict[str, Any]) -> bool:
        created = record["dynamodb"].get("ApproximateCreationDateTime")
        limit = self.event.maximum_record_age_seconds
        return limit >= 0 and isinstance(created, int | float) and time.time() - created > limit

    def _give_up(self, records: Iterable[dict[str, Any]], condition: str, retries: int) -> None:
        """Lambda's record of a stream batch it gave up on, to the OnFailure destination."""
        records = list(records)
        created = [r["dynamodb"].get("ApproximateCreationDateTime") or 0 for r in records]
        failure = {
            "requestContext": {"requestId": str(uuid.uuid4()), "functionArn": self._function_arn,
                               "condition": condition, "approximateInvokeCount": retries + 1},
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            "version": "1.0",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "DDBStreamBatchInfo": {
                "shardId": self._shard_id,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _iso(min(created)),
                "approximateArrivalOfLastRecord": _iso(max(created)),
                "batchSize": len(records),
                "streamArn": self._stream_arn,
            },
        }
        print(f"{self.event.function}: gave up on {len(records)} records ({condition})", file=sys.stderr)
        if self._dead_letters is None:
            return
        try:
            self._client("sqs").send_message(QueueUrl=self._dead_letters, MessageBody=json.dumps(failure))
        except (BotoCoreError, ClientError) as error:
            print(f"{self.event.function}: dead-letter record not sent ({type(error).__name__})", file=sys.stderr)


def _iso(epoch_seconds: float) -> str:
    return datetime.fromtimestamp(epoch_seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def stream_pollers(stack: Stack, hosts: dict[str, FunctionHost], endpoint_url: str) -> list[StreamPoller]:
    """A poller for each of the template's stream events (not started)."""
    return [StreamPoller(stack, event, hosts[event.function], endpoint_url) for event in stack.stream_events()]


def run_pollers(pollers: list[StreamPoller]) -> None:
    """Runs every poller until interrupted (the local stack's stream process): all but the
    last on threads of their own, the last in the calling thread."""
    if not pollers:
        threading.Event().wait()  # nothing to poll: wait to be stopped like the other processes
    for poller in pollers[:-1]:
        poller.start()
    try:
        pollers[-1].run()
    finally:
        for poller in pollers:
            poller.stop(wait_seconds=0.5)
