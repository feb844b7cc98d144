"""Which devices make a session strong (domain/proof.py): those as strong as the user's
strongest permanent device; SMS only for a user with nothing but SMS; the temporary ones
only when no permanent one is usable."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from securelogin.domain.models import Device, DeviceStatus, DeviceType
from securelogin.domain.proof import is_strong, strong_devices

NOW = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
T = DeviceType


def device(type_: DeviceType, status: DeviceStatus = DeviceStatus.ACTIVE, **fields) -> Device:
    return Device(f"dev_{type_.value}_{status.value}", "alice", type_, type_.value, status, NOW - timedelta(days=1),
                  **fields)


def strong(*devices: Device) -> list[DeviceType]:
    return [d.type for d in strong_devices(list(devices), NOW)]


@pytest.mark.parametrize(("devices", "expected"), [
    ((T.SMS, T.IB_KEY, T.DSC_PLUS), [T.DSC_PLUS]),
    ((T.SMS, T.IB_KEY), [T.IB_KEY]),
    ((T.SMS,), [T.SMS]),
    ((T.SMS, T.SMS), [T.SMS, T.SMS]),
    ((T.SMS, T.SCC), [T.SCC]),
    ((T.SCC,), [T.SCC]),
    ((T.IB_KEY, T.DSC, T.SMS), [T.IB_KEY, T.DSC]),  # ties are all strong
    ((T.DSC_PLUS, T.GOLD, T.DSC), [T.DSC_PLUS, T.GOLD]),
    ((), []),
])
def test_the_strongest_permanent_devices(devices, expected):
    assert strong(*(device(t) for t in devices)) == expected


def test_temporary_devices_count_only_without_a_permanent_one():
    temporary = device(T.TEMPORARY_CODE, valid_until=NOW + timedelta(days=10))
    online = device(T.ONLINE_SCC, valid_until=NOW + timedelta(days=21))
    assert strong(device(T.SMS), temporary, online) == [T.SMS]
    assert strong(temporary, online) == [T.ONLINE_SCC]
    assert strong(temporary) == [T.TEMPORARY_CODE]
    assert strong(device(T.DSC_PLUS, DeviceStatus.LOST), temporary, online) == [T.ONLINE_SCC]


def test_devices_that_cannot_answer_do_not_count():
    for status in (DeviceStatus.LOST, DeviceStatus.RETURNED, DeviceStatus.REVOKED, DeviceStatus.INACTIVE,
                   DeviceStatus.PENDING):
        assert strong(device(T.SMS), device(T.IB_KEY), device(T.DSC_PLUS, status)) == [T.IB_KEY]
    expired = device(T.ONLINE_SCC, valid_until=NOW)
    assert strong(device(T.TEMPORARY_CODE, valid_until=NOW + timedelta(days=1)), expired) == [T.TEMPORARY_CODE]


def test_a_locked_device_is_still_listed():
    """A lock ends by itself: the strongest device stays the bar, and is offered."""
    locked = device(T.DSC_PLUS, locked_until=NOW + timedelta(minutes=15))
    assert strong(device(T.IB_KEY), locked) == [T.DSC_PLUS]


@pytest.mark.parametrize(("proved_with", "devices", "expected"), [
    (T.DSC_PLUS, (T.SMS, T.IB_KEY, T.DSC_PLUS), True),
    (T.IB_KEY, (T.SMS, T.IB_KEY, T.DSC_PLUS), False),
    (T.SMS, (T.SMS, T.IB_KEY), False),
    (T.IB_KEY, (T.SMS, T.IB_KEY), True),
    (T.SMS, (T.SMS,), True),
    (T.SMS, (T.SMS, T.SCC), False),
    (T.SCC, (T.SMS, T.SCC), True),
    (T.TEMPORARY_CODE, (T.SMS,), False),
    (None, (T.SMS,), False),
    (T.DSC_PLUS, (), False),
])
def test_a_proof_is_strong_with_one_of_those_devices(proved_with, devices, expected):
    assert is_strong(proved_with, [device(t) for t in devices], NOW) is expected
