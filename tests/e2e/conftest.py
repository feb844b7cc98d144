"""End-to-end: a local stack started as `make run` starts it, on a free port."""
from __future__ import annotations

import functools
import json
import os
import re
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
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


@dataclass
class Answer:
    status: int
    body: Any
    headers: dict[str, str]

    @property
    def code(self) -> str | None:
        return self.body.get("error", {}).get("code") if isinstance(self.body, dict) else None


class DocumentCheck:
    """Holds every answer to a documented operation to what GET /openapi.json says of it: a
    declared status, a body of the declared schema and, for an error, a code the status lists.
    Every e2e test so checks the document as a side effect."""

    def __init__(self, document: dict[str, Any]) -> None:
        self._registry = Registry().with_resource("urn:api", Resource.from_contents(
            document, default_specification=DRAFT202012))
        self._operations = []
        for path, methods in document["paths"].items():
            pattern = re.compile("^" + re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(path)) + "$")
            for method, operation in methods.items():
                self._operations.append((pattern, method.upper(), path, operation))

    def __call__(self, method: str, path: str, answer: Answer) -> None:
        found = next(((p, op) for pattern, m, p, op in self._operations
                      if m == method and pattern.match(path.split("?", 1)[0])), None)
        if found is None:
            return  # not a documented operation (unknown path or method, local-only endpoint)
        doc_path, operation = found
        where = f"{method} {path} answered {answer.status}"
        declared = operation["responses"].get(str(answer.status))
        assert declared is not None, f"{where}, which the document does not declare"
        if answer.status >= 400:
            assert answer.code in declared["description"].split(", "), \
                f"{where} {answer.code}, which the document does not list ({declared['description']})"
        if "content" in declared:
            pointer = "/".join(["urn:api#/paths", doc_path.replace("~", "~0").replace("/", "~1"), method.lower(),
                                "responses", str(answer.status), "content/application~1json/schema"])
            errors = [e.message for e in Draft202012Validator({"$ref": pointer}, registry=self._registry)
                      .iter_errors(answer.body)]
            assert not errors, f"{where} with a body its schema refuses: {errors[:3]}"


class Api:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.check: DocumentCheck | None = None  # set once the stack is up

    def __call__(self, method: str, path: str, body: Any = None, token: str | None = None, signed: bool = False,
                 raw: bytes | None = None, headers: dict[str, str] | None = None, check: bool = True) -> Answer:
        """The answer to one request (``headers``: more of the caller's own); held to the
        document unless ``check`` is False (a caller that checks it later)."""
        url = self.base_url + path
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        extra, headers = headers or {}, {"content-type": "application/json"} if data is not None else {}
        if token:
            headers["authorization"] = f"Bearer {token}"
        headers |= extra
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
        answer = Answer(status, parsed, {k.lower(): v for k, v in got.items()})
        if check and self.check is not None:
            self.check(method, path, answer)
        return answer

    def outbox(self) -> list[dict]:
        return self("GET", "/_local/outbox").body["messages"]

    def aws_calls(self) -> list[tuple[str, str]]:
        """The AWS calls the API's requests made (not those of a function that an event source
        invoked, such as the outbox's consumer: they carry a ``caller``)."""
        return [(c["service"], c["operation"]) for c in self("GET", "/_local/aws-calls").body["calls"]
                if not c.get("caller")]


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
        client.check = DocumentCheck(client("GET", "/openapi.json").body)
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
