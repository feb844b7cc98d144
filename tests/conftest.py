"""Shared fixtures: AWS in-process (moto) with the resources of template.yaml."""
from __future__ import annotations

import copy
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.loaders
import botocore.session
import pytest
from moto import mock_aws

from securelogin import runtime
from securelogin.adapters.aws import forget_clients
from securelogin.clock import Clock
from securelogin.domain.models import IdDocument, Identity
from securelogin.runtime import Services, build_services
from securelogin.services.users import NewUser
from securelogin.settings import Settings
from securelogin_local import resources
from securelogin_local.aws import EmbeddedAws
from securelogin_local.resources import create_stack
from securelogin_local.template import TEMPLATE_PATH, Stack, load_template

# Argon2id's cheapest profile for the tests (1 pass over 8 MiB in 1 lane, about 10 ms
# instead of RFC 9106's 3 passes over 64 MiB in 4 lanes): set before anything hashes, so
# every hash of the run (the decoy's too) is made with it. Deployed functions and `make run`
# keep RFC 9106's (tests/template checks template.yaml). ARGON2_* set in the shell win.
TEST_ARGON2_ENVIRONMENT = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST_KIB": "8192", "ARGON2_PARALLELISM": "1"}
for _name, _value in TEST_ARGON2_ENVIRONMENT.items():
    os.environ.setdefault(_name, _value)


# What every test pays for again, made once per run (the behaviour under test is unchanged):
# - botocore parses its service models (JSON) once per Session, and each client gets a
#   Session of its own (adapters/aws.py, 16 per race): about 0.1 s of CPU per client. One
#   loader for the run parses each model once; loaded models are only read.
# - create_stack parses template.yaml for every test's stack; each gets a copy of one parse.
botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
_parse_template = functools.cache(load_template)


def _load_template_once(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    return copy.deepcopy(_parse_template(path))


resources.load_template = _load_template_once


@pytest.fixture(scope="session")
def argon2_test_environment() -> dict[str, str]:
    """The Argon2 profile of this run, for a stack started in another process (tests/e2e)."""
    return {name: os.environ[name] for name in TEST_ARGON2_ENVIRONMENT}


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

    def deliver_outbox(self) -> int:
        """What the consumer of the table's stream does (functions/outbox), without its poller:
        every message written since the table was made goes out through ``services.outbox``.
        The number delivered now or before."""
        assert self.embedded is not None, "the stream is read over HTTP: use world_over_http"
        from securelogin.adapters.outbox import outbox_id_of

        def client(service: str) -> Any:
            return boto3.client(service, endpoint_url=self.embedded.endpoint_url, region_name=self.stack.region,
                                aws_access_key_id="testing", aws_secret_access_key="testing")
        streams = client("dynamodbstreams")
        arn = client("dynamodb").describe_table(TableName=self.table)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in streams.get_records(ShardIterator=iterator)["Records"]
                if r["eventName"] == "INSERT"]
        return sum(self.services.outbox.deliver(outbox_id) for outbox_id in map(outbox_id_of, keys)
                   if outbox_id is not None)

    def sent(self, channel: str = "sms", to: str | None = None) -> list[dict[str, Any]]:
        """The messages the embedded AWS's outbox (``/_local/outbox``) holds, oldest first:
        those of ``channel`` (``sms``, ``voice``, ``push``), to ``to`` when given. Only
        ``world_over_http`` has one."""
        assert self.embedded is not None, "the outbox is the embedded AWS's: use world_over_http"
        return [m for m in self.embedded.outbox.snapshot()
                if m["channel"] == channel and (to is None or m["to"] == to)]


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
