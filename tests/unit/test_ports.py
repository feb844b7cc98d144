"""The ports, their DynamoDB/AWS adapters and the fakes of tests/fakes.py do not drift
apart: every method of every Protocol in ``securelogin.ports`` is defined by its adapter
and its fake, with the same parameters (names, kinds and defaults)."""
from __future__ import annotations

import inspect

import fakes
import pytest

from securelogin import ports
from securelogin.adapters import (
    audit,
    devices,
    enrolment,
    flows,
    kms,
    ledger,
    lockouts,
    messaging,
    outbox,
    requests,
    sessions,
    shares,
    throttles,
    users,
)

# Each Protocol of the ports: (its adapter, its fake).
IMPLEMENTATIONS: dict[str, tuple[type, type]] = {
    "UserStore": (users.UserStore, fakes.FakeUserStore),
    "DeviceStore": (devices.DeviceStore, fakes.FakeDeviceStore),
    "LockoutStore": (lockouts.LockoutStore, fakes.FakeLockoutStore),
    "ThrottleStore": (throttles.ThrottleStore, fakes.FakeThrottleStore),
    "SessionStore": (sessions.SessionStore, fakes.FakeSessionStore),
    "AuditStore": (audit.AuditStore, fakes.FakeAuditStore),
    "FlowStore": (flows.FlowStore, fakes.FakeFlowStore),
    "SessionGrants": (flows.SessionGrants, fakes.FakeSessionGrants),
    "EnrolmentStore": (enrolment.EnrolmentStore, fakes.FakeEnrolmentStore),
    "ShareStore": (shares.ShareStore, fakes.FakeShareStore),
    "DeviceRequestStore": (requests.DeviceRequestStore, fakes.FakeDeviceRequestStore),
    "LedgerStore": (ledger.LedgerStore, fakes.FakeLedgerStore),
    "OutboxStore": (outbox.OutboxStore, fakes.FakeOutboxStore),
    "MessageSender": (messaging.AwsMessageSender, fakes.RecordingSender),
    "PushEndpoints": (messaging.SnsPushEndpoints, fakes.FakePushEndpoints),
    "SecretBox": (kms.KmsSecretBox, fakes.FakeSecretBox),
}


def protocols() -> dict[str, type]:
    return {name: value for name, value in vars(ports).items()
            if isinstance(value, type) and getattr(value, "_is_protocol", False) and value.__module__ == ports.__name__}


def methods(protocol: type) -> list[str]:
    return [name for name, value in vars(protocol).items() if inspect.isfunction(value) and not name.startswith("_")]


def parameters(cls: type, name: str) -> list[tuple[str, inspect._ParameterKind, object]]:
    """The method's parameters as a caller sees them: without ``self`` (a staticmethod has none)."""
    raw = inspect.getattr_static(cls, name)
    function = raw.__func__ if isinstance(raw, staticmethod | classmethod) else raw
    found = list(inspect.signature(function).parameters.values())
    if not isinstance(raw, staticmethod):
        found = found[1:]
    return [(p.name, p.kind, p.default) for p in found]


def test_every_protocol_has_an_adapter_and_a_fake():
    assert set(protocols()) == set(IMPLEMENTATIONS)


@pytest.mark.parametrize("name", sorted(IMPLEMENTATIONS))
def test_adapter_and_fake_take_what_the_port_declares(name):
    protocol = protocols()[name]
    assert methods(protocol), f"{name} declares no methods"
    for implementation in IMPLEMENTATIONS[name]:
        for method in methods(protocol):
            assert callable(getattr(implementation, method, None)), \
                f"{implementation.__module__}.{implementation.__qualname__} has no {method}"
            assert parameters(implementation, method) == parameters(protocol, method), \
                f"{implementation.__module__}.{implementation.__qualname__}.{method} differs from ports.{name}"


def test_the_check_sees_a_renamed_parameter():
    """What the check compares: a renamed parameter, or a changed default, is a difference."""
    class Renamed:
        def get(self, session_key: str) -> None: ...

    class OtherDefault:
        def partition(self, username: str, resolve_links: bool = False) -> None: ...

    class Static:
        @staticmethod
        def get(key: str) -> None: ...

    assert parameters(Renamed, "get") != parameters(ports.SessionStore, "get")
    assert parameters(OtherDefault, "partition") != parameters(ports.UserStore, "partition")
    assert parameters(Static, "get") == parameters(ports.SessionStore, "get")
