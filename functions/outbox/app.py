"""The outbox's consumer: sends each message the table's stream says was written (an
``OUTBOX#`` item's INSERT), once its change committed (services/outbox.py).

template.yaml's event filters the stream to those INSERTs and has Lambda report partial
batch failures: a message that is not out yet (SNS failed, or another delivery holds it),
or whose delivery raised, is a batch item failure, and Lambda retries the stream from the
first of them. A message already sent is not sent again. Nothing of a message (its body,
its phone number or endpoint) is logged: only its outbox id."""
from __future__ import annotations

from typing import Any

from securelogin.adapters.outbox import outbox_id_of
from securelogin.logs import logger
from securelogin.observability import metrics, metrics_enabled, tracer
from securelogin.runtime import services

# A record is not started with less time than this left, but handed back to be retried: one
# delivery is up to three AWS calls, and a hung one gives up after about 5 s (adapters/aws.py).
# Stopped at its Timeout instead, the whole batch would be retried (and bisected).
RESERVE_MS = 6000


def _outbox_id(record: dict[str, Any]) -> str | None:
    """The id of the message a stream record announces, or None for any other record."""
    if record.get("eventName") != "INSERT":
        return None
    pk = record.get("dynamodb", {}).get("Keys", {}).get("pk", {}).get("S")
    return outbox_id_of(pk) if isinstance(pk, str) else None


def _delivered(outbox_id: str) -> bool:
    try:
        return services().outbox.deliver(outbox_id)
    except Exception as error:  # AWS failing under the claim or the mark: retried with the batch
        # The error's type only: a message from AWS may quote what was sent.
        logger.warning("outbox message not delivered; it will be tried again",
                       extra={"outbox_id": outbox_id, "error": type(error).__name__})
        return False


@logger.inject_lambda_context(log_event=False)  # a record's keys are not logged either
@tracer().capture_lambda_handler(capture_response=False, capture_error=False)
@metrics.log_metrics(capture_cold_start_metric=metrics_enabled())
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    failures: list[dict[str, str]] = []
    for record in event.get("Records", []):
        outbox_id = _outbox_id(record)
        if outbox_id is None:  # not a message (the event's filter lets none through)
            continue
        sequence_number = record["dynamodb"]["SequenceNumber"]
        if context.get_remaining_time_in_millis() < RESERVE_MS or not _delivered(outbox_id):
            failures.append({"itemIdentifier": sequence_number})
    if failures:
        logger.info("outbox messages to retry", extra={"count": len(failures)})
    return {"batchItemFailures": failures}
