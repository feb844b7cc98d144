"""Where the answers to ``Idempotency-Key`` requests are kept: Powertools' idempotency
persistence layer (``BasePersistenceLayer``, its documented extension point) over the
PynamoDB model ``IdempotencyItem`` in the service's single table, so it shares the functions'
one DynamoDB client (timeouts, retries), their grants and the table's key design.

What this adds to Powertools' own DynamoDB layer:
- the item is ``IDEMPOTENCY#<hash>`` / ``KEPT`` in the single table, with the table's TTL;
- a claim (the "in progress" put) carries a random token. The SDK re-sends a write whose
  answer was lost with the same token, so a retried claim that finds its own item goes on
  instead of answering "in progress" to itself; the kept answer's update and the claim's
  release are conditional on the token, so a request never overwrites or frees a claim
  that another one took over once its own had run out;
- what a request could not write because AWS failed (giving its claim back after a 5xx or a
  claim whose answer was lost, or the kept answer) is retried by the container (``Unfinished``):
  a 503 leaves no claim behind for longer than AWS stays down, at most until the claim runs out.

Times are Powertools' (the host's clock, as DynamoDB's TTL), not the service's Clock.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.idempotency import BasePersistenceLayer
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyItemAlreadyExistsError,
    IdempotencyItemNotFoundError,
)
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import STATUS_CONSTANTS, DataRecord

from securelogin.adapters.aws import is_outage
from securelogin.adapters.dynamo import delete_if, save_if, update_if
from securelogin.adapters.table import IdempotencyItem
from securelogin.logs import logger

IN_PROGRESS = STATUS_CONSTANTS["INPROGRESS"]


class Unfinished:
    """Writes a request could not make because AWS failed (giving a claim back, keeping an
    answer), made later: by a thread of the container that retries them with backoff for as
    long as a claim can hold, and by the next keyed request the container serves. Each write
    is idempotent and conditional on its claim's token, so it never touches another claim.

    In Lambda the thread runs while the container runs an invocation (the one that failed,
    for ``settle``'s short wait, then the next ones); where the process keeps running (the
    local stack) it gives a claim back as soon as AWS answers again. Either way a claim that
    could not be given back holds at most until it runs out (the function's timeout)."""

    MAX = 64  # beyond that the oldest are dropped: their claims run out by themselves
    PATIENCE_SECONDS = 30.0  # longer than any claim holds
    FIRST_WAIT_SECONDS = 0.05
    LONGEST_WAIT_SECONDS = 2.0

    def __init__(self) -> None:
        self._writes: list[Callable[[], object]] = []
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self._pass_done = threading.Condition(self._lock)

    def add(self, write: Callable[[], object]) -> None:
        with self._lock:
            self._writes.append(write)
            del self._writes[:-self.MAX]
            if self._worker is None:
                self._worker = threading.Thread(target=self._retry, name="kept-answers-unfinished", daemon=True)
                self._worker.start()

    def __len__(self) -> int:
        return len(self._writes)

    def settle(self, seconds: float) -> None:
        """Waits up to ``seconds`` for the retrying thread's next pass (before a 5xx is answered)."""
        with self._lock:
            if self._writes and self._worker is not None:
                self._pass_done.wait(seconds)

    def _retry(self) -> None:
        wait, deadline = self.FIRST_WAIT_SECONDS, time.monotonic() + self.PATIENCE_SECONDS
        while True:
            self.finish()
            with self._lock:
                self._pass_done.notify_all()
                if not self._writes or time.monotonic() >= deadline:
                    self._worker = None
                    return
            time.sleep(wait)
            wait = min(wait * 2, self.LONGEST_WAIT_SECONDS)

    def finish(self) -> None:
        """Makes the remembered writes, oldest first, until AWS fails again."""
        with self._lock:
            pending, self._writes = self._writes, []
        for index, write in enumerate(pending):
            try:
                write()
            except Exception as error:  # an outage keeps the rest for later
                if is_outage(error):
                    with self._lock:
                        self._writes[:0] = pending[index:]
                    return
                logger.warning("dropped an unfinished kept-answer write", extra={"error_type": type(error).__name__})


unfinished = Unfinished()  # one per container


def _when(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


class KeptAnswers(BasePersistenceLayer):
    """One request's view of the kept answers (one instance per request: it holds the token
    of the claim it made)."""

    def __init__(self) -> None:
        super().__init__()
        self._token: str | None = None

    @staticmethod
    def _record(item: IdempotencyItem) -> DataRecord:
        return DataRecord(
            idempotency_key=item.pk, status=item.status,
            expiry_timestamp=int(item.expires_ttl.timestamp()) if item.expires_ttl else None,
            in_progress_expiry_timestamp=int(item.running_until_ms) if item.running_until_ms is not None else None,
            response_data=item.answer or "", payload_hash=item.fingerprint)

    def _get_record(self, idempotency_key: str) -> DataRecord:
        item = IdempotencyItem.find(idempotency_key)
        if item is None:
            raise IdempotencyItemNotFoundError
        return self._record(item)

    def _put_record(self, data_record: DataRecord) -> None:
        key, token, now = data_record.idempotency_key, secrets.token_urlsafe(16), time.time()
        item = IdempotencyItem.keyed(key, status=data_record.status, expires_ttl=_when(data_record.expiry_timestamp),
                                     running_until_ms=data_record.in_progress_expiry_timestamp,
                                     fingerprint=data_record.payload_hash or None, token=token)
        # Free: never claimed, its answer's 24 hours are over, or a claim that ran out.
        free = (IdempotencyItem.pk.does_not_exist() | (IdempotencyItem.expires_ttl < _when(int(now)))
                | ((IdempotencyItem.status == IN_PROGRESS) & (IdempotencyItem.running_until_ms < int(now * 1000))))
        try:
            made = save_if(item, free, recognise=False)  # a held key is read below, once
        except Exception as error:
            if is_outage(error):  # the claim may have been made (its answer lost): give it back later
                unfinished.add(lambda: delete_if(IdempotencyItem.keyed(key), (IdempotencyItem.token == token)
                                                 & (IdempotencyItem.status == IN_PROGRESS)))
            raise
        if not made:
            held = IdempotencyItem.find(key)
            if held is None:  # given back in between: Powertools tries again
                raise IdempotencyItemAlreadyExistsError
            if held.token != token:
                old = self._record(held)
                self._validate_payload(data_payload=data_record, stored_data_record=old)
                raise IdempotencyItemAlreadyExistsError(old_data_record=old)
            # else: our own claim, written by an attempt whose answer was lost
        self._token = token

    def _update_record(self, data_record: DataRecord) -> None:
        key, token = data_record.idempotency_key, self._token

        def write() -> object:
            return update_if(IdempotencyItem.keyed(key), [
                IdempotencyItem.status.set(data_record.status),
                IdempotencyItem.answer.set(data_record.response_data),
                IdempotencyItem.expires_ttl.set(_when(data_record.expiry_timestamp)),
                IdempotencyItem.running_until_ms.remove(),
            ], IdempotencyItem.token == token)

        self._write(write)

    def _delete_record(self, data_record: DataRecord) -> None:
        key, token = data_record.idempotency_key, self._token
        self._write(lambda: delete_if(IdempotencyItem.keyed(key), IdempotencyItem.token == token))

    @staticmethod
    def _write(write: Callable[[], object]) -> None:
        try:
            write()
        except Exception as error:
            if is_outage(error):
                unfinished.add(write)
            raise
