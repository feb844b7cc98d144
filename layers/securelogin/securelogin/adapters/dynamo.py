"""The DynamoDB toolkit every store writes with: conditional writes, alone or in one
transaction, and what a failed condition means.

A condition that fails is an answer, not a fault: the item changed since it was read, or
was never in the state the write needs. ``update_if`` and ``conditional_transaction`` turn
that answer into a value (False) or ``StaleWrite``; every other error goes on up.
"""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from pynamodb.attributes import Attribute
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.condition import Condition
from pynamodb.expressions.update import Action
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from securelogin.adapters.aws import is_outage
from securelogin.adapters.table import connection
from securelogin.ports import StaleWrite


def failed_on_condition(error: Exception) -> bool:
    return getattr(error, "cause_response_code", None) in ("ConditionalCheckFailedException",
                                                           "TransactionCanceledException")


# Cancellation reasons that mean "the items changed": anything else (a validation error) is a fault.
STALE_REASONS = {"None", "ConditionalCheckFailed", "TransactionConflict"}


AFTER_COMMIT = "_after_commit"


def after_commit(tx: TransactWrite, action: Callable[[], None]) -> None:
    """``action`` runs once ``tx`` (a ``conditional_transaction``) has committed; never if it
    did not."""
    tx.__dict__.setdefault(AFTER_COMMIT, []).append(action)


@contextmanager
def conditional_transaction(key: str) -> Iterator[TransactWrite]:
    """A write transaction whose conditions guard it: if one fails, the items changed
    since they were read, and StaleWrite(key) says so. One that answers an outage but did
    commit (its answer and its retry's were lost) is found out and counts as made; what is
    to happen after the commit (``after_commit``) happens then."""
    try:
        # The token lets the SDK's retry of a transaction whose answer was lost find it
        # done (DynamoDB keeps tokens 10 minutes) instead of failing its own conditions.
        with TransactWrite(connection=connection(), client_request_token=secrets.token_hex(16)) as tx:
            yield tx
    except TransactWriteError as exc:
        if is_outage(exc) and _committed_all_the_same(tx):
            pass  # its answer was lost, the SDK's retry too: it is done, and the request goes on
        else:
            _raise_stale_or(exc, key)
    for action in tx.__dict__.get(AFTER_COMMIT, ()):
        action()


def _committed_all_the_same(tx: TransactWrite) -> bool:
    """Whether a transaction that answered an outage committed anyway: the first item it put
    (a new item with random parts: an audit event, a device, a flow) is stored exactly as put.
    One consistent read; when that fails too, it did not (as far as anyone can tell)."""
    if not tx._put_items:
        return False
    put = tx._put_items[0]
    try:
        return _stored_exactly(put["TableName"], put["Item"])
    except Exception:  # AWS still failing: the outage stands
        return False


def _stored_exactly(table_name: str, attributes: dict[str, Any]) -> bool:
    """Whether the table holds, under these attributes' key, an item of exactly these
    attributes (as serialised): one consistent read."""
    stored = connection().get_item(table_name, attributes["pk"]["S"], attributes["sk"]["S"], consistent_read=True)
    return bool(stored.get("Item") == attributes)


def _raise_stale_or(exc: TransactWriteError, key: str) -> None:
    """StaleWrite when the transaction failed on its conditions; else ``exc`` itself."""
    codes = [r.code if r is not None else "None" for r in (exc.cancellation_reasons or [])]
    if failed_on_condition(exc) and set(codes) <= STALE_REASONS:
        raise StaleWrite(key, tuple(i for i, code in enumerate(codes) if code == "ConditionalCheckFailed")) from exc
    raise exc


def _made(write: Callable[[], object]) -> bool:
    try:
        write()
    except (UpdateError, PutError, DeleteError) as exc:
        if failed_on_condition(exc):
            return False
        raise
    return True


def update_if(item: Model, actions: list[Action], condition: Condition | None) -> bool:
    """One conditional update: True when made (``item`` then holds the new values), False
    when the condition did not hold."""
    return _made(lambda: item.update(actions=actions, condition=condition))


def save_if(item: Model, condition: Condition, recognise: bool = True) -> bool:
    """One conditional put: True when made, False when the condition did not hold. A put
    whose answer was lost and that the SDK sent again finds its own item and fails its own
    condition: when the item stored is, attribute for attribute, the one this put wrote, the
    put was made (items carry random ids and times, so no other write stores the same).
    ``recognise=False`` for a caller that reads the item itself when the put fails."""
    if _made(lambda: item.save(condition=condition)):
        return True
    return recognise and _stored_as(item)


def _stored_as(item: Model) -> bool:
    """Whether the table holds ``item`` exactly as it is here."""
    return _stored_exactly(item.Meta.table_name, item.serialize())


def delete_if(item: Model, condition: Condition) -> bool:
    """One conditional delete: True when made, False when the condition did not hold."""
    return _made(lambda: item.delete(condition=condition))


def lock_when_due(item: Model, failures: Attribute, locked_until: Attribute, lock_count: Attribute,
                  until: datetime, lock_after: int) -> bool:
    """The lock of a guarded secret (a device's answers, an app's PIN): once ``failures``
    reached ``lock_after``, lock until ``until`` and start a new count; of parallel
    failures, exactly one sets the lock. True for that one."""
    return update_if(item, [failures.set(0), locked_until.set(until), lock_count.add(1)],
                     failures >= lock_after)
