"""Keeps moto's DynamoDB as cheap on its ten-thousandth call as on its first, for the embedded AWS.

moto 5.2.5 does two things that real DynamoDB does not, and :func:`install` undoes both:

- ``TransactWriteItems`` deep-copies every table it names before it starts, to put the
  copy back if the transaction is cancelled: each transaction costs time and memory in
  proportion to the whole table. Here moto's own code still runs the transaction
  (conditions, Put/Update/Delete, cancellation reasons), but with a ``copy`` that hands
  back a table itself, so its backup is the live table and its rollback a no-op. Before
  it runs, a copy of each item the transaction names (or the fact that it is absent) is
  kept, and put back if the transaction fails in any way. GSIs need nothing more: moto
  computes them from the items at query time. moto has no ``ClientRequestToken``
  idempotency to keep. Stream records written by a cancelled transaction are not taken
  back (moto's full copy took them back; the service's table has no stream).
- Every DynamoDB model object moto ever builds (each table copy, each item, each copy of
  an item that a Query returns) is appended to its class's ``instances_tracked`` list for
  moto's dashboard, and kept until a reset: memory grows with every read and write.
  DynamoDB's models are no longer tracked (the dashboard shows none of them).

moto's state and classes are per process: once installed, every moto in the process has
both fixes, the embedded server and ``mock_aws`` alike.
"""
from __future__ import annotations

import copy
import types
from typing import Any

from moto.core.model_instances import model_data
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

# (table, hash key, range key or None) -> a copy of the item before the transaction, or None
Saved = dict[tuple[Table, DynamoType, DynamoType | None], Item | None]


class _TablesUncopied:
    """``copy`` as moto's transaction code sees it: a table "copy" is the table itself."""

    @staticmethod
    def deepcopy(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


def _without_table_copies(moto_transact: types.FunctionType) -> types.FunctionType:
    """moto's own ``transact_write_items``, run with :class:`_TablesUncopied` for ``copy``."""
    namespace = {**moto_transact.__globals__, "copy": _TablesUncopied}
    return types.FunctionType(moto_transact.__code__, namespace, moto_transact.__name__,
                              moto_transact.__defaults__, moto_transact.__closure__)


_moto_transact: types.FunctionType | None = None


def install() -> None:
    """Patches moto's DynamoDB in this process; calling it again does nothing."""
    global _moto_transact
    if _moto_transact is None:
        _moto_transact = _without_table_copies(DynamoDBBackend.transact_write_items)
        DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    for model in model_data["dynamodb"].values():
        model.__new__ = staticmethod(_untracked_new)  # type: ignore[attr-defined]


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``BaseModel.__new__`` without appending the new object to ``cls.instances_tracked``."""
    return object.__new__(cls)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    saved = _save_touched(self, transact_items)
    try:
        _moto_transact(self, transact_items)  # type: ignore[misc]
    except BaseException:
        _restore(saved)
        raise


def _save_touched(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> Saved:
    saved: Saved = {}
    for entry in transact_items:
        for op_type, op in entry.items():
            key = _key_of(backend, op_type, op)
            if key is not None and key not in saved:
                saved[key] = copy.deepcopy(_stored(*key))  # moto's Update changes the stored item in place
    return saved


def _key_of(backend: DynamoDBBackend, op_type: str, op: Any) -> tuple[Table, DynamoType, DynamoType | None] | None:
    """The item an operation names; None when moto will refuse the operation before writing it."""
    try:
        table = backend.get_table(op["TableName"])
        attributes = op["Item"] if op_type == "Put" else op["Key"]
        range_key = DynamoType(attributes[table.range_key_attr]) if table.range_key_attr else None
        return table, DynamoType(attributes[table.hash_key_attr]), range_key
    except Exception:  # a malformed operation: moto cancels the transaction on it
        return None


def _stored(table: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    # .get, not []: table.items is a defaultdict, and [] would add an empty partition
    stored = table.items.get(hash_key)
    return stored.get(range_key) if stored is not None and table.has_range_key else stored


def _restore(saved: Saved) -> None:
    for (table, hash_key, range_key), item in saved.items():
        if not table.has_range_key:
            if item is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = item
            continue
        partition = table.items[hash_key]
        if item is None:
            partition.pop(range_key, None)
        else:
            partition[range_key] = item
        if not partition:
            del table.items[hash_key]
