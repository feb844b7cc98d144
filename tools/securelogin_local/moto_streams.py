"""Keeps moto's DynamoDB Streams from growing with every write and every read, for the
embedded AWS, whose one reader is the local stack's stream poller (streams.py).

moto 5.2.5 keeps every stream record of a table for as long as the table lives, and every
shard iterator it ever handed out (each ``GetRecords`` hands out the next one) for as long
as the process lives; DynamoDB keeps records 24 hours and iterators 15 minutes. Here
(:func:`install`):

- a shard iterator is used once: ``GetRecords`` forgets the iterator it was given (it
  answers with the next one), and one it no longer knows is ``ExpiredIteratorException``,
  as DynamoDB answers an iterator past its 15 minutes;
- ``GetRecords`` with an iterator at a sequence number drops the shard's records before
  it: whoever reads from there has read them (the poller holds what it still has to
  deliver). The shard's trim horizon moves on past them, sequence numbers go on from
  where they were, and an iterator that pointed at a dropped record starts at the trim
  horizon, as in DynamoDB once records expire. A second reader would miss what the
  first one read: the local stack has one.
- shard iterators are no longer tracked for moto's dashboard (moto_transactions.py does
  the same for DynamoDB's models, stream records included).

What a moto upgrade could break, each shown by tests/integration/test_local_outbox.py
failing: ``StreamShard`` keeping ``items`` (a list) and ``starting_sequence_number`` (the
first item's), ``ShardIterator.sequence_number``, and the backend's ``shard_iterators``
dict by iterator ARN.
"""
from __future__ import annotations

from typing import Any

from moto.core.exceptions import JsonRESTError
from moto.dynamodb.models.table import StreamShard
from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

_installed = False


class ExpiredIteratorException(JsonRESTError):
    def __init__(self) -> None:
        super().__init__("ExpiredIteratorException", "Iterator expired or already used: get another one.")


def install() -> None:
    """Patches moto's DynamoDB Streams in this process; calling it again does nothing."""
    global _installed
    if _installed:
        return
    _installed = True
    moto_get = StreamShard.get

    def get(self: StreamShard, start: int, quantity: int) -> list[dict[str, Any]]:
        # An iterator that pointed at a record dropped since reads from the trim horizon.
        return moto_get(self, max(start, self.starting_sequence_number), quantity)

    StreamShard.get = get  # type: ignore[method-assign]
    DynamoDBStreamsBackend.get_records = _get_records  # type: ignore[method-assign]
    ShardIterator.__new__ = staticmethod(_untracked_new)  # type: ignore[assignment]


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    return object.__new__(cls)


def _get_records(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
    iterator = self.shard_iterators.pop(iterator_arn, None)
    if iterator is None:
        raise ExpiredIteratorException
    shard = iterator.stream_shard
    read = min(max(0, iterator.sequence_number - shard.starting_sequence_number), len(shard.items))
    if read:
        del shard.items[:read]
        shard.starting_sequence_number += read
    return iterator.get(limit)
