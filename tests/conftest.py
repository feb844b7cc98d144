"""Shared fixtures: AWS in-process (moto) with the resources of template.yaml."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from moto import mock_aws

from securelogin import runtime
from securelogin.adapters.aws import forget_clients
from securelogin.clock import Clock
from securelogin.domain.models import IdDocument, Identity
from securelogin.runtime import Services, build_services
from securelogin.services.users import NewUser
from securelogin.settings import Settings
from securelogin_local.aws import EmbeddedAws
from securelogin_local.resources import create_stack
from securelogin_local.template import Stack

AWS_ENVIRONMENT = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                   "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1",
                   "POWERTOOLS_TRACE_DISABLED": "true"}


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    """moto in this process, with the table and KMS key created from template.yaml, and
    the functions' environment variables set as the template sets them."""
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        forget_clients()
        runtime.reset()
        stack = create_stack(None, {"VoiceOriginationIdentity": "+15550009999"})
        for name, value in next(iter(stack.functions().values())).environment.items():
            monkeypatch.setenv(name, value)
        yield stack
        forget_clients()
        runtime.reset()


@pytest.fixture
def aws_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stack, EmbeddedAws]]:
    """AWS over HTTP: the local stack's embedded moto server, for tests that make
    concurrent calls (moto's in-process backend is not safe to call from threads)."""
    for name, value in AWS_ENVIRONMENT.items():
        monkeypatch.setenv(name, value)
    embedded = EmbeddedAws(Clock()).start()
    embedded.reset()
    monkeypatch.setenv("AWS_ENDPOINT_URL", embedded.endpoint_url)
    forget_clients()
    runtime.reset()
    try:
        stack = create_stack(embedded.endpoint_url, {"VoiceOriginationIdentity": "+15550009999"})
        for name, value in next(iter(stack.functions().values())).environment.items():
            monkeypatch.setenv(name, value)
        yield stack, embedded
    finally:
        forget_clients()
        runtime.reset()
        embedded.stop()


@dataclass
class World:
    """Services over moto with a clock of the test's own."""
    services: Services
    clock: Clock
    stack: Stack
    embedded: EmbeddedAws | None = None  # set when AWS is reached over HTTP

    @property
    def table(self) -> str:
        return self.stack.physical["Table"]["Ref"]


@pytest.fixture
def world(aws: Stack) -> World:
    clock = Clock()
    return World(build_services(Settings.from_environment(), clock), clock, aws)


@pytest.fixture
def world_over_http(aws_server: tuple[Stack, EmbeddedAws]) -> World:
    clock = Clock()
    stack, embedded = aws_server
    return World(build_services(Settings.from_environment(), clock), clock, stack, embedded)


def _new_user(username: str = "alice", phones: list[str] | None = None, **over: object) -> NewUser:
    fields = {
        "username": username, "password": "correct horse 1", "account_id": "U1234567", "entity_id": "E1",
        "primary": True,
        "identity": Identity("1980-01-31", "US", "US", IdDocument("passport", "P7654321"), "078051120"),
        "phones": ["+15550001111"] if phones is None else phones, "balance_usd": 1000.0, "jurisdiction": "US",
    }
    fields.update(over)
    return NewUser(**fields)  # type: ignore[arg-type]


@pytest.fixture
def new_user() -> Callable[..., NewUser]:
    """Makes the admin input for a user: ``new_user("bob", phones=[...], balance_usd=...)``."""
    return _new_user
