"""The local stack under concurrency: the embedded AWS is as atomic as DynamoDB, and both
of its listeners (the embedded AWS and the HTTP front) take many clients at once."""
from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from securelogin.clock import Clock
from securelogin_local.__main__ import make_server
from securelogin_local.aws import EmbeddedAws
from securelogin_local.gateway import HttpAnswer

CLIENTS = 16
ROUNDS = 20  # unserialised, about one round in four goes wrong: twenty all but always show it
CONNECTIONS = 32
# No retries: a 5xx must show, not be retried away.
NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30)
WON = ("won", 200)


@pytest.fixture
def busy_switching() -> Iterator[None]:
    """Threads switch far more often than every 5 ms, so calls into moto that are not
    serialised interleave (and their races show) within a few rounds."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(before)


class Race:
    """CLIENTS boto3 clients of the embedded AWS's DynamoDB, each in its own thread."""

    def __init__(self, endpoint: str) -> None:
        self.clients = [boto3.session.Session().client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                                                       config=NO_RETRIES) for _ in range(CLIENTS)]
        self.table = f"race-{uuid.uuid4().hex[:8]}"
        self.clients[0].create_table(TableName=self.table, BillingMode="PAY_PER_REQUEST",
                                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])

    def run(self, action: Callable[[Any, int], object]) -> list[tuple[str, int]]:
        """``action(client, i)`` in every thread, released at once; what each got."""
        barrier = threading.Barrier(CLIENTS, timeout=10)

        def one(i: int) -> tuple[str, int]:
            barrier.wait()
            try:
                action(self.clients[i], i)
            except ClientError as error:
                return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
            return WON

        with ThreadPoolExecutor(CLIENTS) as pool:
            return list(pool.map(one, range(CLIENTS), timeout=60))

    def item(self, key: str) -> dict[str, Any]:
        return self.clients[0].get_item(TableName=self.table, Key={"pk": {"S": key}}, ConsistentRead=True)["Item"]


@pytest.fixture
def race(aws_server, busy_switching) -> Race:
    _, embedded = aws_server
    return Race(embedded.endpoint_url)


def _one_winner(outcomes: list[tuple[str, int]], refusal: str, round_: int) -> None:
    assert all(status < 500 for _, status in outcomes), (round_, outcomes)
    assert outcomes.count(WON) == 1, (round_, outcomes)
    assert all(outcome in (WON, (refusal, 400)) for outcome in outcomes), (round_, outcomes)


def test_one_conditional_put_wins_a_race(race):
    for round_ in range(ROUNDS):
        def put(client: Any, i: int, key: str = f"put-{round_}") -> None:
            client.put_item(TableName=race.table, Item={"pk": {"S": key}, "by": {"N": str(i)}},
                            ConditionExpression="attribute_not_exists(pk)")

        _one_winner(race.run(put), "ConditionalCheckFailedException", round_)


def test_one_conditional_update_wins_a_race_and_its_write_is_the_one_kept(race):
    for round_ in range(ROUNDS):
        key = f"update-{round_}"
        race.clients[0].put_item(TableName=race.table, Item={"pk": {"S": key}, "version": {"N": "0"}})

        def update(client: Any, i: int, key: str = key) -> None:
            client.update_item(TableName=race.table, Key={"pk": {"S": key}},
                               UpdateExpression="SET version = :next, holder = :me",
                               ConditionExpression="version = :seen",
                               ExpressionAttributeValues={":seen": {"N": "0"}, ":next": {"N": "1"},
                                                          ":me": {"N": str(i)}})

        outcomes = race.run(update)
        _one_winner(outcomes, "ConditionalCheckFailedException", round_)
        assert race.item(key)["holder"] == {"N": str(outcomes.index(WON))}


def test_concurrent_increments_are_none_lost(race):
    for round_ in range(ROUNDS):
        key = f"counter-{round_}"

        def increment(client: Any, _: int, key: str = key) -> None:
            client.update_item(TableName=race.table, Key={"pk": {"S": key}}, UpdateExpression="ADD hits :one",
                               ExpressionAttributeValues={":one": {"N": "1"}})

        assert race.run(increment) == [WON] * CLIENTS
        assert race.item(key)["hits"] == {"N": str(CLIENTS)}, round_


def test_one_transaction_wins_a_race(race):
    for round_ in range(ROUNDS):
        def claim(client: Any, i: int, keys: tuple[str, ...] = (f"a-{round_}", f"b-{round_}")) -> None:
            client.transact_write_items(TransactItems=[
                {"Put": {"TableName": race.table, "Item": {"pk": {"S": key}, "by": {"N": str(i)}},
                         "ConditionExpression": "attribute_not_exists(pk)"}} for key in keys])

        _one_winner(race.run(claim), "TransactionCanceledException", round_)


# ------------------------------------------------------------------ listeners


def _connect_all(port: int) -> list[socket.socket]:
    """CONNECTIONS connections opened at once to a listener that is not accepting yet:
    each must be queued (the listen backlog), not left hanging or refused."""
    def connect(_: int) -> socket.socket | str:
        sock = socket.socket()
        sock.settimeout(3)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError as error:
            sock.close()
            return repr(error)
        return sock

    with ThreadPoolExecutor(CONNECTIONS) as pool:
        results = list(pool.map(connect, range(CONNECTIONS)))
    opened = [r for r in results if isinstance(r, socket.socket)]
    failed = [r for r in results if not isinstance(r, socket.socket)]
    if failed:
        for sock in opened:
            sock.close()
    assert not failed, f"{len(failed)} of {CONNECTIONS} connections not queued: {failed[:3]}"
    return opened


def _ask_on_all(sockets: list[socket.socket], port: int, method: str, path: str, headers: dict[str, str],
                body: bytes) -> list[int]:
    def ask(sock: socket.socket) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.sock = sock
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    with ThreadPoolExecutor(len(sockets)) as pool:
        return list(pool.map(ask, sockets, timeout=60))


def test_the_embedded_aws_takes_many_connections_at_once():
    embedded = EmbeddedAws(Clock())  # listening, not serving yet
    try:
        port = embedded._server.server_address[1]
        sockets = _connect_all(port)
        embedded.start()
        headers = {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0",
                   "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
                                    "SignedHeaders=host, Signature=0"}
        assert _ask_on_all(sockets, port, "POST", "/", headers, b"{}") == [200] * CONNECTIONS
    finally:
        embedded.stop()


class _Local:
    """Stands in for LocalStack: the listener is what is under test."""

    def handle(self, method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> HttpAnswer:
        return HttpAnswer(200, {"Content-Type": "application/json"}, json.dumps({"path": target}).encode())


def test_the_http_front_takes_many_connections_at_once():
    server = make_server("127.0.0.1", 0, _Local())  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    try:
        port = server.server_address[1]
        sockets = _connect_all(port)
        thread.start()
        assert _ask_on_all(sockets, port, "GET", "/_local/health", {}, b"") == [200] * CONNECTIONS
    finally:
        if thread.is_alive():
            server.shutdown()
            thread.join(timeout=5)
        server.server_close()
