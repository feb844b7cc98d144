"""End-to-end: a local stack started as `make run` starts it, on a free port."""
from __future__ import annotations

import functools
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def __call__(self, method: str, path: str, body: Any = None, token: str | None = None, signed: bool = False,
                 raw: bytes | None = None) -> Answer:
        url = self.base_url + path
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"content-type": "application/json"} if data is not None else {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        if signed:
            request = AWSRequest(method=method, url=url, data=data or b"", headers=headers)
            SigV4Auth(Credentials("testing", "testing"), "execute-api", "us-east-1").add_auth(request)
            headers = dict(request.headers.items())
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, payload, got = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, payload, got = error.code, error.read(), dict(error.headers)
        try:
            parsed = json.loads(payload) if payload else {}
        except ValueError:
            parsed = payload.decode(errors="replace")
        return Answer(status, parsed, {k.lower(): v for k, v in got.items()})

    def outbox(self) -> list[dict]:
        return self("GET", "/_local/outbox").body["messages"]

    def aws_calls(self) -> list[tuple[str, str]]:
        return [(c["service"], c["operation"]) for c in self("GET", "/_local/aws-calls").body["calls"]]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _local_stack(argon2: dict[str, str], *options: str) -> Iterator[Api]:
    """``python -m securelogin_local`` on a free port, as `make run` starts it, with ``options``,
    but hashing with the tests' cheap Argon2 profile (``argon2``: ARGON2_* variables)."""
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | argon2
    process = subprocess.Popen([sys.executable, "-m", "securelogin_local", "--port", str(port), *options],  # noqa: S603
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Api(f"http://127.0.0.1:{port}")
    try:
        for _ in range(150):
            try:
                if client("GET", "/_local/health").status == 200:
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("the local stack did not start")
        yield client
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def local_stack(argon2_test_environment: dict[str, str]) -> Callable[..., AbstractContextManager[Api]]:
    """Starts a stack of a test's own: ``with local_stack("--workers", "1") as api: ...``."""
    return functools.partial(_local_stack, argon2_test_environment)


@pytest.fixture(scope="session")
def api(argon2_test_environment: dict[str, str]) -> Iterator[Api]:
    with _local_stack(argon2_test_environment) as client:
        yield client
