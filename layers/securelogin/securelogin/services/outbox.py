"""Delivers what the outbox holds: each message written with a change is sent once after
the change commits, by the consumer of the table's stream (functions/outbox)."""
from __future__ import annotations

from securelogin.clock import Clock
from securelogin.logs import logger
from securelogin.observability import Metric, count
from securelogin.policy import Policy
from securelogin.ports import DeliveryFailed, MessageSender, OutboxStore


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
