"""Keeps moto's DynamoDB as cheap on its ten-thousandth call as on its first, and as
idempotent as DynamoDB, for the embedded AWS.

moto 5.2.5 does two things that real DynamoDB does not, and :func:`install` undoes both
(and adds a third that it lacks, below):

- ``TransactWriteItems`` deep-copies every table it names before it starts, to put the
  copy back if the transaction is cancelled: each transaction costs time and memory in
  proportion to the whole table. Here moto's own code still runs the transaction
  (conditions, Put/Update/Delete, cancellation reasons), but with a ``copy`` that hands
  back a table itself, so its backup is the live table and its rollback a no-op. Before
  it runs, a copy of each item the transaction names (or the fact that it is absent) is
  kept, and put back if the transaction fails in any way. GSIs need nothing more: moto
  computes them from the items at query time. The stream records its writes added are taken
  back too (the tables' full copies took them back): a cancelled transaction leaves no
  trace in a table's stream, as in DynamoDB (the outbox is read from the stream).
- Every DynamoDB model object moto ever builds (each table copy, each item, each copy of
  an item that a Query returns) is appended to its class's ``instances_tracked`` list for
  moto's dashboard, and kept until a reset: memory grows with every read and write.
  DynamoDB's models are no longer tracked (the dashboard shows none of them).

moto 5.2.5 ignores ``TransactWriteItems``' ``ClientRequestToken``, which botocore fills in
for every call and sends again with each retry of it. DynamoDB honours it for 10 minutes:
the same token with the same request answers success without applying it again, and with
another request ``IdempotentParameterMismatchException``. :func:`install` wraps moto's
response handler (``DynamoHandler.transact_write_items``, the one place that sees both the
token and the request) to do the same: a transaction that succeeded is remembered by its
token, per account and region, with a fingerprint of the rest of the request; one that
failed is not (sent again, it runs again, as in DynamoDB). Tokens live on moto's backend,
so moto's reset forgets them. Their 10 minutes run on :data:`CLOCK`, the local stack's
clock (``POST /_local/clock`` moves them on too).

What a moto upgrade could break, each shown by tests/integration/test_embedded_transactions.py
or test_local_faults.py failing: the copy fix needs moto's ``transact_write_items`` to keep
calling ``copy.deepcopy`` on tables through its module's ``copy``, and its ``Table`` items
layout (``table.items``); the token needs ``DynamoHandler.transact_write_items`` to stay
the action's method, with the parsed request in ``self.body`` and the backend in
``self.dynamodb_backend``. Should moto come to honour the token itself, the wrapper answers
first and moto's never sees a repeat.

moto's state and classes are per process: once installed, every moto in the process has
both fixes, the embedded server and ``mock_aws`` alike.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import threading
import types
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from moto.core.model_instances import model_data
from moto.core.responses import ActionResult
from moto.dynamodb.exceptions import DynamodbException
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table
from moto.dynamodb.responses import DynamoHandler

from securelogin.clock import Clock, system_clock

# DynamoDB keeps a transaction's ClientRequestToken this long after it succeeded.
TOKEN_LIFETIME = timedelta(minutes=10)
# The clock tokens expire on (tests may set another).
CLOCK: Clock = system_clock

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
        DynamoHandler.transact_write_items = _honouring_tokens(  # type: ignore[method-assign]
            DynamoHandler.transact_write_items)
    for model in model_data["dynamodb"].values():
        model.__new__ = staticmethod(_untracked_new)  # type: ignore[attr-defined]


def _untracked_new(cls: type, *args: Any, **kwargs: Any) -> Any:
    """``BaseModel.__new__`` without appending the new object to ``cls.instances_tracked``."""
    return object.__new__(cls)


def _transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    saved = _save_touched(self, transact_items)
    streams = {id(table.stream_shard): (table.stream_shard, len(table.stream_shard.items))
               for table, _, _ in saved if table.stream_shard is not None}
    try:
        _moto_transact(self, transact_items)  # type: ignore[misc]
    except BaseException:
        _restore(saved)
        for shard, length in streams.values():  # the records of the writes made before it failed
            del shard.items[length:]
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


class IdempotentParameterMismatchException(DynamodbException):
    error_type = "com.amazonaws.dynamodb.v20120810#IdempotentParameterMismatchException"

    def __init__(self) -> None:
        super().__init__(self.error_type, message=(
            "The ClientRequestToken has been used in a TransactWriteItems request with other parameters "
            "in the last 10 minutes."))


# Per backend (an account's region): token -> (fingerprint of the request, when it expires).
_TOKENS_ATTRIBUTE = "_securelogin_local_client_request_tokens"
_tokens_lock = threading.Lock()


def _honouring_tokens(handle: Callable[[DynamoHandler], ActionResult]) -> Callable[[DynamoHandler], ActionResult]:
    @functools.wraps(handle)
    def transact_write_items(self: DynamoHandler) -> ActionResult:
        token = self.body.get("ClientRequestToken")
        if not token:
            return handle(self)
        request = {name: value for name, value in self.body.items() if name != "ClientRequestToken"}
        fingerprint = hashlib.sha256(json.dumps(request, sort_keys=True, default=repr).encode()).hexdigest()
        backend = self.dynamodb_backend
        now = CLOCK.now()
        with _tokens_lock:
            tokens: dict[str, tuple[str, datetime]] = backend.__dict__.setdefault(_TOKENS_ATTRIBUTE, {})
            for expired in [t for t, (_, until) in tokens.items() if until <= now]:
                del tokens[expired]
            seen = tokens.get(token)
        if seen is not None:
            if seen[0] != fingerprint:
                raise IdempotentParameterMismatchException
            return ActionResult({"ConsumedCapacity": [], "ItemCollectionMetrics": {}})  # applied once already
        answer = handle(self)  # raises if the transaction is refused: its token is not kept
        with _tokens_lock:
            tokens[token] = (fingerprint, now + TOKEN_LIFETIME)
        return answer

    return transact_write_items
