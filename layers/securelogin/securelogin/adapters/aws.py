"""boto3 clients, made on first use and kept for the life of the container.

Endpoints come from the standard configuration (``AWS_ENDPOINT_URL`` and friends), which
is how the local stack points everything at its embedded AWS."""
from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5)
_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


def client(service: str, region: str) -> Any:
    with _lock:
        key = (service, region)
        if key not in _clients:
            import boto3  # on first use: functions that never call KMS or SNS never load it

            _clients[key] = boto3.session.Session().client(service, region_name=region, config=_CONFIG)
        return _clients[key]


def forget_clients() -> None:
    """Drop every cached client (tests that switch between AWS fakes call this)."""
    with _lock:
        _clients.clear()
