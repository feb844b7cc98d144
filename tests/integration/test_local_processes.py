"""`make run`'s processes: the embedded AWS in one, gateway workers in others, the table's
stream consumed in one more, one clock and one outbox between them, and nothing left
running once the stack is stopped."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from securelogin.adapters.aws import forget_clients
from securelogin.adapters.dynamo import conditional_transaction
from securelogin.adapters.outbox import OutboxStore
from securelogin.adapters.table import bind_table
from securelogin.domain.models import Channel, OutgoingMessage
from securelogin_local.resources import STACK_NAME
from securelogin_local.seed import DEMO_PASSWORD, DEMO_PHONE, DEMO_USERNAME

WORKERS = 2


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class Stack:
    def __init__(self) -> None:
        port = _free_port()
        self.base_url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "securelogin_local", "--port", str(port), "--workers", str(WORKERS)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        for _ in range(300):
            try:
                if self.call("GET", "/_local/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            pytest.fail("the local stack did not start")

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers={"content-type": "application/json"})
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
def stack() -> Iterator[Stack]:
    started = Stack()
    try:
        yield started
    finally:
        started.stop()


def test_the_aws_each_worker_and_the_streams_consumer_run_in_processes_of_their_own(stack):
    assert len(_children(stack.process.pid)) == 1 + WORKERS + 1


def test_a_message_in_the_outbox_is_sent_once_by_the_one_consumer(stack, monkeypatch):
    """An OUTBOX# item written into the stack's table, as a change writes its notice: whichever
    process reads the stream, the SMS goes out once."""
    _, health = stack.call("GET", "/_local/health")
    for name, value in {"AWS_ENDPOINT_URL": health["aws_endpoint_url"], "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    forget_clients()
    bind_table(f"{STACK_NAME}-Table", "us-east-1")
    try:
        phone = "+15550004242"
        with conditional_transaction("test") as tx:
            message = OutgoingMessage(channel=Channel.SMS, to=phone, body="IBKR: your device was removed")
            OutboxStore().writes("demo", message, datetime.now(UTC), timedelta(days=7))(tx)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not [m for m in stack.call("GET", "/_local/outbox")[1]["messages"]
                                                   if m["to"] == phone]:
            time.sleep(0.1)
        time.sleep(1.0)  # long enough for a second consumer's copy, were there one
        sent = [m for m in stack.call("GET", "/_local/outbox")[1]["messages"] if m["to"] == phone]
        assert [m["body"] for m in sent] == ["IBKR: your device was removed"]
    finally:
        forget_clients()


def test_a_clock_moved_by_one_worker_has_moved_for_every_process(stack):
    stack.call("POST", "/_local/clock", {"advance_seconds": 3600})
    ahead = datetime.now(UTC) + timedelta(seconds=3600 - 2)
    # Fresh connections, so that the workers take turns answering.
    for _ in range(4 * WORKERS):
        status, answer = stack.call("POST", "/_local/clock", {"advance_seconds": 0})
        assert status == 200
        assert datetime.fromisoformat(answer["now"]) >= ahead

    _, start = stack.call("POST", "/v1/login", {"username": DEMO_USERNAME, "password": DEMO_PASSWORD})
    stack.call("POST", f"/v1/login/{start['login_id']}/challenge", {"device_id": start["default_device_id"]})
    _, outbox = stack.call("GET", "/_local/outbox")
    sms = [m for m in outbox["messages"] if m["to"] == DEMO_PHONE][-1]
    assert datetime.fromisoformat(sms["sent_at"]) >= ahead  # stamped in the embedded AWS's process
    assert re.search(r"\d{6}", sms["body"])


def test_every_worker_sees_the_calls_and_faults_of_the_one_embedded_aws(stack):
    _, before = stack.call("GET", "/_local/aws-calls")
    stack.call("POST", "/v1/login", {"username": DEMO_USERNAME, "password": "wrong-password-1"})
    _, after = stack.call("GET", "/_local/aws-calls")
    assert len(after["calls"]) > len(before["calls"])

    armed = {"service": "sns", "operation": "Publish", "error": "ThrottlingException", "count": 3}
    assert stack.call("POST", "/_local/faults", armed) == (200, {"faults": [armed]})
    for _ in range(2 * WORKERS):
        assert stack.call("GET", "/_local/faults") == (200, {"faults": [armed]})
    assert stack.call("POST", "/_local/faults", {"service": "sns"})[0] == 400
    assert stack.call("DELETE", "/_local/faults") == (204, None)
    assert stack.call("GET", "/_local/faults") == (200, {"faults": []})
    assert stack.call("PUT", "/_local/outbox")[0] == 405


def test_sigterm_to_the_process_group_ends_every_process_without_a_kill():
    stack = Stack()
    processes = [stack.process.pid, *_children(stack.process.pid)]
    stack.stop()
    deadline = time.monotonic() + 10
    while any(_running(pid) for pid in processes) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_running(pid) for pid in processes)
    assert stack.process.returncode == 0  # 1 when a process had to be killed after SIGTERM


def test_the_children_end_when_the_parent_is_killed():
    stack = Stack()
    children = _children(stack.process.pid)
    stack.process.kill()
    stack.process.wait(timeout=5)
    deadline = time.monotonic() + 5
    while any(_running(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(_running(pid) for pid in children)
