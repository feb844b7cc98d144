from datetime import timedelta

import pytest

from securelogin.policy import Policy
from securelogin.settings import Settings


def test_defaults_are_the_rules():
    policy = Policy()
    assert policy.login_ttl == timedelta(minutes=5)
    assert policy.message_code_digits == 6
    assert policy.resend_interval == timedelta(minutes=2)
    assert policy.attempts_per_transaction == 5
    assert policy.password_lock_after == 10
    assert policy.session_ttl == timedelta(hours=12)
    assert policy.withdrawal_limits["dsc"] == (1_000_000, 1_500_000)


def test_overrides_replace_by_name_with_durations_in_seconds():
    policy = Policy().with_overrides({"resend_interval": 30, "attempts_per_transaction": 3,
                                      "withdrawal_limits": {"sms": [1, 2]}})
    assert policy.resend_interval == timedelta(seconds=30)
    assert policy.attempts_per_transaction == 3
    assert policy.withdrawal_limits["sms"] == (1, 2)
    assert policy.withdrawal_limits["scc"] == (200_000, 600_000)


def test_unknown_override_is_refused():
    with pytest.raises(ValueError, match="no_such"):
        Policy().with_overrides({"no_such": 1})


def test_settings_come_from_the_environment():
    settings = Settings.from_environment({"TABLE_NAME": "tbl", "KMS_KEY_ID": "key", "AWS_REGION": "eu-west-1",
                                          "POLICY_OVERRIDES": '{"session_ttl": 60}'})
    assert settings.table_name == "tbl" and settings.region == "eu-west-1"
    assert settings.policy().session_ttl == timedelta(seconds=60)


def test_settings_refuse_a_missing_table():
    with pytest.raises(ValueError):
        Settings.from_environment({"KMS_KEY_ID": "key"})
