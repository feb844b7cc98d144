"""KMS envelope encryption: data keys are cached, so KMS is not called per request."""
from collections import Counter

import boto3
import pytest

from securelogin.adapters.kms import CodeDigestKey, KmsKeyring, KmsSecretBox
from securelogin.adapters.table import ConfigItem, bind_table
from securelogin.crypto.envelope import SealedValueError


@pytest.fixture
def kms(aws):
    client = boto3.client("kms", region_name="us-east-1")
    calls = Counter()
    client.meta.events.register("before-call.kms.*", lambda model, **_: calls.update([model.name]))
    bind_table(aws.physical["Table"]["Ref"], "us-east-1")
    return client, calls, aws.physical["DataKey"]["Ref"]


def test_many_values_seal_and_open_with_one_kms_call(kms):
    client, calls, key_id = kms
    box = KmsSecretBox(KmsKeyring(lambda: client, key_id))
    sealed = [box.seal(f"secret {i}".encode(), f"item#{i}") for i in range(50)]
    assert [box.open(s, f"item#{i}") for i, s in enumerate(sealed)] == [f"secret {i}".encode() for i in range(50)]
    assert calls == {"GenerateDataKey": 1}


def test_another_container_opens_with_one_decrypt_per_data_key(kms):
    client, calls, key_id = kms
    sealed = KmsSecretBox(KmsKeyring(lambda: client, key_id)).seal(b"seed", "device#1")
    other = KmsSecretBox(KmsKeyring(lambda: client, key_id))
    for _ in range(5):
        assert other.open(sealed, "device#1") == b"seed"
    assert calls == {"GenerateDataKey": 1, "Decrypt": 1}


def test_data_keys_rotate_after_their_uses(kms):
    client, calls, key_id = kms
    box = KmsSecretBox(KmsKeyring(lambda: client, key_id, max_uses=3))
    for i in range(7):
        box.seal(b"x", str(i))
    assert calls == {"GenerateDataKey": 3}


def test_a_value_moved_to_another_item_does_not_open(kms):
    client, _, key_id = kms
    box = KmsSecretBox(KmsKeyring(lambda: client, key_id))
    with pytest.raises(SealedValueError):
        box.open(box.seal(b"seed", "device#1"), "device#2")


def test_the_code_digest_key_is_made_once_and_shared(kms):
    client, calls, key_id = kms
    first = CodeDigestKey(lambda: client, key_id)()
    second = CodeDigestKey(lambda: client, key_id)()  # another container
    assert first == second and len(first) == 32
    assert calls == {"GenerateDataKey": 1, "Decrypt": 1}
    assert first.hex() not in str(ConfigItem.get("CONFIG", CodeDigestKey.NAME).value)
