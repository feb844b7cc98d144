from datetime import timedelta

import pytest

from securelogin.policy import Policy
from securelogin.settings import Argon2Parameters, Settings


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


def test_argon2_defaults_are_rfc_9106s_second_recommended_option():
    parameters = Argon2Parameters.from_environment({})
    assert (parameters.time_cost, parameters.memory_cost_kib, parameters.parallelism) == (3, 64 * 1024, 4)
    assert Settings.from_environment({"TABLE_NAME": "tbl", "KMS_KEY_ID": "key"}).argon2 == parameters


def test_argon2_parameters_come_from_the_environment():
    env = {"TABLE_NAME": "tbl", "KMS_KEY_ID": "key",
           "ARGON2_TIME_COST": "2", "ARGON2_MEMORY_COST_KIB": "19456", "ARGON2_PARALLELISM": "1"}
    assert Settings.from_environment(env).argon2 == Argon2Parameters(time_cost=2, memory_cost_kib=19456,
                                                                     parallelism=1)
    assert Argon2Parameters.from_environment({"ARGON2_TIME_COST": ""}) == Argon2Parameters()  # empty: unset


@pytest.mark.parametrize("env", [
    {"ARGON2_TIME_COST": "0"},
    {"ARGON2_TIME_COST": "-1"},
    {"ARGON2_TIME_COST": "1.5"},
    {"ARGON2_TIME_COST": "three"},
    {"ARGON2_PARALLELISM": "0"},
    {"ARGON2_PARALLELISM": str(2**24)},
    {"ARGON2_MEMORY_COST_KIB": "7", "ARGON2_PARALLELISM": "1"},
    {"ARGON2_MEMORY_COST_KIB": "31", "ARGON2_PARALLELISM": "4"},  # below 8 KiB per lane
    {"ARGON2_MEMORY_COST_KIB": "1024", "ARGON2_PARALLELISM": "129"},  # 129 lanes need 1032 KiB
    {"ARGON2_MEMORY_COST_KIB": str(2**32)},
], ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()))
def test_argon2_settings_refuse_invalid_values(env):
    with pytest.raises(ValueError):
        Argon2Parameters.from_environment(env)
    with pytest.raises(ValueError):
        Settings.from_environment({"TABLE_NAME": "tbl", "KMS_KEY_ID": "key", **env})


@pytest.mark.parametrize("weak", [
    {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST_KIB": "8192", "ARGON2_PARALLELISM": "1"},  # the tests' profile
    {"ARGON2_TIME_COST": "2"},  # 64 MiB, but fewer passes than RFC 9106 asks
    {"ARGON2_MEMORY_COST_KIB": "32768"},  # 3 passes over less than 64 MiB
    {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST_KIB": str(1024 * 1024)},  # 1 pass over less than 2 GiB
])
def test_prod_refuses_argon2_parameters_weaker_than_rfc_9106(weak):
    Argon2Parameters.from_environment(weak)  # allowed for dev (the local stack, the tests)
    with pytest.raises(ValueError, match="RFC 9106"):
        Argon2Parameters.from_environment({"STAGE": "prod", **weak})
    with pytest.raises(ValueError, match="RFC 9106"):
        Settings.from_environment({"TABLE_NAME": "tbl", "KMS_KEY_ID": "key", "STAGE": "prod", **weak})


@pytest.mark.parametrize("strong", [
    {},  # RFC 9106's second option, the default
    {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_COST_KIB": str(2 * 1024 * 1024)},  # RFC 9106's first option
    {"ARGON2_TIME_COST": "4", "ARGON2_MEMORY_COST_KIB": str(128 * 1024), "ARGON2_PARALLELISM": "2"},
])
def test_prod_accepts_rfc_9106_or_costlier(strong):
    assert Argon2Parameters.from_environment({"STAGE": "prod", **strong}).meets_rfc_9106()
