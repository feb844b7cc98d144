from datetime import UTC, datetime, timedelta

import pytest

from securelogin.domain.factors import FactorRegistry
from securelogin.domain.factors.message_code import MessageCodeFactor
from securelogin.domain.models import Device, DeviceStatus, DeviceType, Flow, FlowStatus, Purpose, Scope
from securelogin.domain.phones import is_e164, mask
from securelogin.policy import Policy
from securelogin.services.login import default_device

NOW = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def dev(device_id, type_, used_minutes_ago=None):
    used = NOW - timedelta(minutes=used_minutes_ago) if used_minutes_ago is not None else None
    return Device(device_id, "alice", type_, device_id, DeviceStatus.ACTIVE, NOW - timedelta(days=1), last_used_at=used)


def test_default_is_the_preferred_device():
    devices = [dev("a", DeviceType.SMS), dev("b", DeviceType.DSC_PLUS)]
    assert default_device(devices, "a").device_id == "a"


def test_default_is_the_most_secure_then_the_most_recently_used():
    devices = [dev("sms", DeviceType.SMS, 1), dev("gold", DeviceType.GOLD, 50), dev("dsc+", DeviceType.DSC_PLUS, 5)]
    assert default_device(devices, None).device_id == "dsc+"
    assert default_device([], None) is None


def test_a_lock_ends_by_itself():
    device = dev("a", DeviceType.SMS)
    device.locked_until = NOW + timedelta(minutes=15)
    assert device.status_at(NOW) == DeviceStatus.LOCKED and device.usable_at(NOW)
    assert device.status_at(NOW + timedelta(minutes=16)) == DeviceStatus.ACTIVE


def test_a_pending_flow_expires():
    flow = Flow(Purpose.LOGIN, "k", "alice", expires_at=NOW)
    assert flow.status_at(NOW - timedelta(seconds=1)) == FlowStatus.PENDING
    assert flow.status_at(NOW) == FlowStatus.EXPIRED


def test_a_session_ends_with_the_temporary_access_that_opened_it():
    temporary = dev("t", DeviceType.TEMPORARY_CODE)
    temporary.full_access_until, temporary.valid_until = NOW + timedelta(days=2), NOW + timedelta(days=12)
    assert temporary.access_ends_at(Scope.FULL) == NOW + timedelta(days=2)
    assert temporary.access_ends_at(Scope.PORTAL_ONLY) == NOW + timedelta(days=12)
    assert dev("s", DeviceType.SMS).access_ends_at(Scope.FULL) is None


def test_a_shared_device_is_held_by_its_owner():
    link = dev("c", DeviceType.DSC_PLUS)
    link.shared_from = "owner"
    assert link.holder == "owner" and dev("d", DeviceType.SCC).holder == "alice"


def test_phones():
    assert is_e164("+15550001111") and not is_e164("5550001111") and not is_e164("+0123456789")
    assert mask("+15550001111") == "+1*******111"


def test_registry_has_one_factor_per_type():
    factor = MessageCodeFactor(Policy(), lambda: b"k")
    registry = FactorRegistry([factor])
    assert registry.for_type(DeviceType.SMS) is factor and registry.types() == {DeviceType.SMS}
    with pytest.raises(LookupError):
        registry.for_type(DeviceType.SCC)
    with pytest.raises(ValueError):
        FactorRegistry([factor, factor])
