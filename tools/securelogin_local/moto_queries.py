"""Makes moto's DynamoDB Query on a table's own key read only the queried partition, as
DynamoDB does, for the embedded AWS.

moto 5.2.5 answers such a Query by sorting every item of the table and keeping those of
the partition, so a login's one Query costs in proportion to the whole table (about 1 s
with 100,000 items). Here, for the duration of that Query, the table's ``all_items``
yields the partition alone; everything else (conditions, order, paging, projections) is
moto's own code. Queries on an index are left as they are. Calls into moto are
serialised (``aws._MOTO_LOCK``), so the swap is seen by that Query only.
"""
from __future__ import annotations

from typing import Any

from moto.dynamodb.models.table import Table

_moto_query: Any = None


def install() -> None:
    """Patches moto's Table.query in this process; calling it again does nothing."""
    global _moto_query
    if _moto_query is None:
        _moto_query = Table.query
        Table.query = _query  # type: ignore[method-assign]


def _query(self: Table, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
    index_name = kwargs.get("index_name", args[6] if len(args) > 6 else None)
    if index_name or hash_key is None or not self.range_key_attr:
        return _moto_query(self, hash_key, *args, **kwargs)
    partition = sorted(self.items.get(hash_key, {}).values(), key=lambda item: item.range_key)
    self.all_items = lambda: partition  # type: ignore[method-assign]
    try:
        return _moto_query(self, hash_key, *args, **kwargs)
    finally:
        del self.all_items
