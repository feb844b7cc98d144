"""What the service reports about itself besides its logs: counters as CloudWatch metrics
(embedded metric format, one JSON line per invocation on stdout, flushed by
``api.http.lambda_entry``) and X-Ray traces.

Each counter is counted at the one place that decides its outcome (a service, or the
messaging adapter for deliveries), once that outcome is durable, never in a handler. No
metric carries anything that identifies a person: no dimensions but the service's name,
no metadata. ``docs/operations.md`` says what each one counts.

Powertools for AWS Lambda does the work. What it leaves to us:

- ``POWERTOOLS_METRICS_DISABLED=true`` stops its flush, but not the cold-start metric, nor
  the print it makes when a metric reaches 100 values, nor values piling up in memory:
  ``count`` and ``lambda_entry`` honour it fully.
- Its metric store is one per process and not thread-safe: in Lambda an environment
  handles one event at a time; ``count`` takes a lock, but a flush can still meet a
  count on another thread, so a host that runs handlers on threads (the local stack)
  should disable metrics.
- Its Tracer loads the X-Ray SDK even where it will not trace, and outside Lambda that
  costs over 100 ms: there, ``tracer()`` does without it.
"""
from __future__ import annotations

import os
import threading
import warnings
from enum import StrEnum
from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

NAMESPACE = os.getenv("POWERTOOLS_METRICS_NAMESPACE") or "SecureLogin"
SERVICE = os.getenv("POWERTOOLS_SERVICE_NAME") or "securelogin"
# The AWS SDK: boto3's clients and PynamoDB both call through botocore's client, so each
# DynamoDB, KMS, SNS and voice call is a subsegment (named after the service; its
# parameters are not recorded, except X-Ray's own list: table names, an SNS topic ARN).
TRACED_MODULES = ("botocore",)
TRUTHY = frozenset({"1", "y", "yes", "t", "true", "on"})  # strtobool's, as Powertools reads its variables


class Metric(StrEnum):
    """The counters (unit Count). CloudWatch alarms and the dashboard use these names."""
    LOGIN_SUCCEEDED = "LoginSucceeded"
    LOGIN_FAILED = "LoginFailed"
    DEVICE_LOCKED = "DeviceLocked"
    PASSWORD_LOCKOUT = "PasswordLockout"  # noqa: S105 - a metric name
    SMS_SENT = "SmsSent"
    SMS_FAILED = "SmsFailed"
    VOICE_SENT = "VoiceSent"
    VOICE_FAILED = "VoiceFailed"
    PUSH_SENT = "PushSent"
    PUSH_FAILED = "PushFailed"
    PUSH_APPROVED = "PushApproved"
    PUSH_DENIED = "PushDenied"
    WITHDRAWAL_AUTHORIZED = "WithdrawalAuthorized"
    WITHDRAWAL_REFUSED = "WithdrawalRefused"
    SERVICE_UNAVAILABLE = "ServiceUnavailable"
    OUTBOX_DELIVERED = "OutboxDelivered"
    OUTBOX_FAILED = "OutboxDeliveryFailed"


# One store per process (Powertools shares it between instances); the only dimension is
# the service, which Powertools adds.
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
_adding = threading.Lock()

# Most requests count nothing (a status poll, a profile read): an empty flush is normal.
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)


def metrics_enabled() -> bool:
    """Powertools' own reading of POWERTOOLS_METRICS_DISABLED (and POWERTOOLS_DEV)."""
    return not is_metrics_disabled()


def count(metric: Metric) -> None:
    """One more ``metric``, published when the invocation ends."""
    if metrics_enabled():
        with _adding:  # services called from threads (tests' races): Powertools may print mid-add
            metrics.add_metric(name=metric.value, unit=MetricUnit.Count, value=1)


class _Untraced:
    """Stands in for the Tracer where it could record nothing: the X-Ray SDK, loaded
    outside Lambda, makes an X-Ray client for its sampler (over 100 ms), for nothing."""

    @staticmethod
    def capture_lambda_handler(lambda_handler: Any = None, capture_response: bool | None = None,
                               capture_error: bool | None = None) -> Any:
        return lambda_handler if lambda_handler is not None else (lambda handler: handler)


def tracing_possible() -> bool:
    """Powertools' own conditions for tracing, read the same way: in Lambda (not SAM's
    emulator), and POWERTOOLS_TRACE_DISABLED not true."""
    in_lambda = bool(os.getenv("LAMBDA_TASK_ROOT")) and not os.getenv("AWS_SAM_LOCAL")
    disabled = os.getenv("POWERTOOLS_TRACE_DISABLED", "false").strip().lower() in TRUTHY
    return in_lambda and not disabled


@cache
def tracer() -> Tracer | _Untraced:
    """The X-Ray tracer, made on first use (the functions' import), when tracing is possible.
    It patches botocore, and so every AWS call (boto3's clients, PynamoDB)."""
    if not tracing_possible():
        return _Untraced()
    return Tracer(service=SERVICE, patch_modules=TRACED_MODULES)
