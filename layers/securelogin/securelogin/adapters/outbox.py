"""Data access for the outbox: messages written with the change they follow, then
claimed, sent and marked sent by the consumer of the table's stream."""
from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from pynamodb.transactions import TransactWrite

from securelogin.adapters.dynamo import after_commit, update_if
from securelogin.adapters.table import OutboxItem
from securelogin.domain.models import Channel, OutgoingMessage
from securelogin.ports import Completing, OutboxClaim


def outbox_id_of(pk: str) -> str | None:
    """The outbox id in an item's partition key, or None when the item is not a message."""
    return pk.removeprefix(OutboxItem.PREFIX) if pk.startswith(OutboxItem.PREFIX) else None


class OutboxStore:
    def writes(self, username: str, message: OutgoingMessage, now: datetime, keep_for: timedelta,
               held_for: timedelta | None = None, committed: Callable[[str], None] | None = None) -> Completing:
        """The message as a write of the change's own transaction: it exists, and so is
        sent, if and only if the change committed. ``held_for``: held for the request that
        writes it, which sends it itself after the commit (``committed`` gets its id then)."""
        outbox_id = secrets.token_hex(16)
        item = OutboxItem.keyed(outbox_id, channel=message.channel.value, to=message.to,
                                body=message.body, data=dict(message.data) if message.data else None,
                                username=username, created_at=now, expires_ttl=now + keep_for,
                                claimed_until=now + held_for if held_for is not None else None)

        def write(tx: TransactWrite) -> None:
            tx.save(item, condition=OutboxItem.pk.does_not_exist())
            if committed is not None:
                after_commit(tx, lambda: committed(outbox_id))
        return write

    def claim(self, outbox_id: str, now: datetime, hold_for: timedelta) -> OutboxClaim:
        item = OutboxItem.keyed(outbox_id)
        free = OutboxItem.claimed_until.does_not_exist() | (OutboxItem.claimed_until < now)
        if update_if(item, [OutboxItem.claimed_until.set(now + hold_for)],
                     OutboxItem.pk.exists() & OutboxItem.sent_at.does_not_exist() & free):
            data = item.data.as_dict() if item.data is not None else None
            return OutboxClaim(OutgoingMessage(channel=Channel(item.channel), to=item.to, body=item.body,
                                               data=data))
        stored = OutboxItem.find(outbox_id)
        return OutboxClaim(None, sent=stored is None or stored.sent_at is not None)

    def mark_sent(self, outbox_id: str, now: datetime) -> None:
        update_if(OutboxItem.keyed(outbox_id), [OutboxItem.sent_at.set(now), OutboxItem.claimed_until.remove()],
                  OutboxItem.pk.exists())

    def release(self, outbox_id: str) -> None:
        update_if(OutboxItem.keyed(outbox_id), [OutboxItem.claimed_until.remove(), OutboxItem.failures.add(1)],
                  OutboxItem.pk.exists() & OutboxItem.sent_at.does_not_exist())
