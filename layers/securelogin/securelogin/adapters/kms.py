"""KMS envelope encryption with cached data keys, and the key for code digests.

Data keys: one plaintext data key seals values for up to ``max_age`` or ``max_uses``,
then a fresh one is asked for (GenerateDataKey). Opening a value needs its data key:
decrypted once (Decrypt) and kept in a small cache. So KMS is called about once per
container per few minutes, not once per request.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from securelogin.adapters.dynamo import save_if
from securelogin.adapters.table import ConfigItem
from securelogin.crypto import envelope

ENCRYPTION_CONTEXT = {"service": "securelogin"}


class KmsKeyring:
    def __init__(self, kms: Callable[[], Any], key_id: str, max_age_seconds: float = 300, max_uses: int = 1000,
                 cache_size: int = 256) -> None:
        self._kms = kms
        self._key_id = key_id
        self._max_age = max_age_seconds
        self._max_uses = max_uses
        self._cache_size = cache_size
        self._current: tuple[bytes, bytes, float] | None = None  # plaintext, encrypted, since
        self._uses = 0
        self._opened: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()
        self._lock = threading.Lock()

    def data_key(self) -> tuple[bytes, bytes]:
        """A (plaintext, encrypted) data key to seal with."""
        with self._lock:
            fresh = (self._current is not None and time.monotonic() - self._current[2] < self._max_age
                     and self._uses < self._max_uses)
            if not fresh:
                answer = self._kms().generate_data_key(KeyId=self._key_id, KeySpec="AES_256",
                                                       EncryptionContext=ENCRYPTION_CONTEXT)
                self._current = (answer["Plaintext"], answer["CiphertextBlob"], time.monotonic())
                self._uses = 0
                self._remember(answer["CiphertextBlob"], answer["Plaintext"])
            self._uses += 1
            assert self._current is not None
            return self._current[0], self._current[1]

    def open_data_key(self, encrypted: bytes) -> bytes:
        with self._lock:
            cached = self._opened.get(encrypted)
            if cached and time.monotonic() - cached[1] < self._max_age:
                self._opened.move_to_end(encrypted)
                return cached[0]
        plaintext = self._kms().decrypt(CiphertextBlob=encrypted, KeyId=self._key_id,
                                        EncryptionContext=ENCRYPTION_CONTEXT)["Plaintext"]
        with self._lock:
            self._remember(encrypted, plaintext)
        return plaintext

    def _remember(self, encrypted: bytes, plaintext: bytes) -> None:
        """Caches an opened data key; the caller holds the lock."""
        self._opened[encrypted] = (plaintext, time.monotonic())
        while len(self._opened) > self._cache_size:
            self._opened.popitem(last=False)


class KmsSecretBox:
    """Seals values for storage; ``context`` names where a value lives (e.g. the item key)."""

    def __init__(self, keyring: KmsKeyring) -> None:
        self._keyring = keyring

    def seal(self, plaintext: bytes, context: str) -> str:
        key, encrypted_key = self._keyring.data_key()
        return envelope.seal(key, encrypted_key, plaintext, context)

    def open(self, sealed: str, context: str) -> bytes:
        key = self._keyring.open_data_key(envelope.encrypted_data_key_of(sealed))
        return envelope.open_sealed(key, sealed, context)


class CodeDigestKey:
    """The HMAC key for one-time code digests: 32 random bytes made by KMS, stored
    encrypted in the table (``CONFIG`` / ``code-digest-key``), opened once per container.
    The first container to need it creates it; a losing racer reads the winner's."""

    NAME = "code-digest-key"

    def __init__(self, kms: Callable[[], Any], key_id: str) -> None:
        self._kms = kms
        self._key_id = key_id
        self._key: bytes | None = None
        self._lock = threading.Lock()

    def __call__(self) -> bytes:
        with self._lock:
            if self._key is None:
                self._key = self._load_or_create()
            return self._key

    def _load_or_create(self) -> bytes:
        stored = ConfigItem.find(self.NAME, consistent_read=False)
        if stored is None:
            answer = self._kms().generate_data_key(KeyId=self._key_id, KeySpec="AES_256",
                                                   EncryptionContext={**ENCRYPTION_CONTEXT, "use": self.NAME})
            if save_if(ConfigItem.keyed(self.NAME, value=envelope.b64(answer["CiphertextBlob"])),
                       ConfigItem.pk.does_not_exist()):
                return answer["Plaintext"]
            stored = ConfigItem.get(*ConfigItem.key(self.NAME))
        return self._kms().decrypt(CiphertextBlob=envelope.unb64(stored.value), KeyId=self._key_id,
                                   EncryptionContext={**ENCRYPTION_CONTEXT, "use": self.NAME})["Plaintext"]
