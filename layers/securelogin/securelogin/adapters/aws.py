"""boto3 clients, made on first use and kept for the life of the container, the limits
every AWS call runs under, and which AWS failures are outages (503) rather than bugs.

Endpoints come from the standard configuration (``AWS_ENDPOINT_URL`` and friends), which
is how the local stack points everything at its embedded AWS."""
from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Every AWS call: 1 s to connect, 2 s for the answer, and one retry in botocore's
# standard mode (which backs off up to 1 s first). A call that hangs gives up after about
# 5 s, inside the functions' 10 s timeout, and a single blip is retried unseen.
CONNECT_TIMEOUT_SECONDS = 1
READ_TIMEOUT_SECONDS = 2
RETRIES = 1

_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1 + RETRIES},
                 connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=READ_TIMEOUT_SECONDS)
_clients: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()

# Error codes of an AWS service that is failing or refusing load, not of a wrong request.
OUTAGE_CODES = frozenset({
    "InternalServerError", "InternalFailure", "InternalError", "ServiceUnavailable", "ServiceUnavailableException",
    "ThrottlingException", "Throttling", "ThrottledException", "RequestLimitExceeded", "TooManyRequestsException",
    "ProvisionedThroughputExceededException", "LimitExceededException", "TransactionInProgressException",
    "KMSInternalException", "KeyUnavailableException", "DependencyTimeoutException",
})
# Reasons a transaction was cancelled for that are the service's load, not a condition.
OUTAGE_CANCELLATIONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})


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


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` (raised by boto3 or PynamoDB) is AWS failing: a timeout, a lost
    connection, a 5xx or throttling, after the retries. Such a request can be sent again;
    anything else (a validation error, a missing permission) is a fault of ours."""
    seen: set[int] = set()
    cause: BaseException | None = error
    while cause is not None and id(cause) not in seen:  # PynamoDB wraps botocore's errors
        seen.add(id(cause))
        if isinstance(cause, BotoCoreError):
            return True
        if isinstance(cause, ClientError):
            response = cause.response
            code = response.get("Error", {}).get("Code", "")
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            reasons = {getattr(r, "code", None) for r in getattr(cause, "cancellation_reasons", None) or []}
            return code in OUTAGE_CODES or status >= 500 or bool(reasons & OUTAGE_CANCELLATIONS)
        cause = getattr(cause, "cause", None) or cause.__cause__
    return False
