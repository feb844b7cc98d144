"""Delivers what the outbox holds: each message written with a change is sent after the
change commits, by the request that made the change (at once, while it still holds the
message), and else by the consumer of the table's stream (functions/outbox), which retries
until it goes out."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from securelogin.clock import Clock
from securelogin.domain.models import OutgoingMessage
from securelogin.logs import logger
from securelogin.observability import Metric, count
from securelogin.policy import Policy
from securelogin.ports import DeliveryFailed, MessageSender, OutboxStore

# What one SMS may take at worst (two attempts of 1 s to connect and 2 s to answer): the
# request sends a message only with that much of its time left.
SEND_RESERVE_SECONDS = 6.0

# The messages of the changes the running request committed, that it sends itself before it
# answers: None outside a request that does (a test driving the services, the consumer).
Committed = list[tuple[str, OutgoingMessage]]
_committed: ContextVar[Committed | None] = ContextVar("outbox_committed", default=None)


@contextmanager
def sent_by_the_request() -> Iterator[Committed]:
    """Within: a message recorded with a change is held for the request, and collected
    once the change commits, for ``OutboxDelivery.send_committed``."""
    committed: Committed = []
    token = _committed.set(committed)
    try:
        yield committed
    finally:
        _committed.reset(token)


def request_sending() -> Committed | None:
    """Where the running request collects what it sends itself; None when it does not."""
    return _committed.get()


class OutboxDelivery:
    def __init__(self, outbox: OutboxStore, sender: MessageSender, clock: Clock, policy: Policy) -> None:
        self._outbox = outbox
        self._sender = sender
        self._clock = clock
        self._policy = policy

    def deliver(self, outbox_id: str) -> bool:
        """Sends the message unless it went out already. True when it is out (now or
        before); False when it must be tried again later: the message could not be sent,
        or another delivery holds it. A delivery that dies between sending and marking
        lets the hold lapse, and the message goes out again: at least once, and once
        whenever the delivery lives to mark it."""
        claim = self._outbox.claim(outbox_id, self._clock.now(), self._policy.outbox_hold)
        if claim.message is None:
            return claim.sent
        try:
            self._sender.send(claim.message)
        except DeliveryFailed:
            self._outbox.release(outbox_id)
            count(Metric.OUTBOX_FAILED)
            logger.warning("outbox message not sent; it will be tried again", extra={"outbox_id": outbox_id})
            return False
        self._outbox.mark_sent(outbox_id, self._clock.now())
        count(Metric.OUTBOX_DELIVERED)
        return True

    def send_committed(self, committed: Committed, seconds_left: Callable[[], float] = lambda: float("inf")) -> None:
        """What the request's committed changes recorded, sent by the request while it holds
        them: so a notice normally goes out before the answer. The change has happened, so
        nothing here fails the request: a message that SNS did not take is let go at once for
        the consumer, one that went out but could not be marked may go out once more, and
        what there is no time left to send (``seconds_left``, the function's) stays held, for
        the consumer once the hold lapses: the request still answers within its timeout."""
        for outbox_id, message in committed:
            if seconds_left() < SEND_RESERVE_SECONDS:
                logger.warning("outbox message left to the consumer: no time to send it",
                               extra={"outbox_id": outbox_id})
                continue
            try:
                self._sender.send(message)
            except DeliveryFailed:
                count(Metric.OUTBOX_FAILED)
                try:
                    self._outbox.release(outbox_id)
                except Exception as error:  # the hold lapses by itself
                    logger.warning("outbox message not let go", extra={"error_type": type(error).__name__})
                continue
            try:
                self._outbox.mark_sent(outbox_id, self._clock.now())
                count(Metric.OUTBOX_DELIVERED)
            except Exception as error:
                logger.warning("outbox message sent but not marked", extra={"error_type": type(error).__name__})
