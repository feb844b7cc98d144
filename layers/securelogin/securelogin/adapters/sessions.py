"""Data access for sessions, stored under the lookup key of their token: deleting one
revokes it."""
from __future__ import annotations

from datetime import datetime

from pynamodb.transactions import TransactWrite

from securelogin.adapters.dynamo import conditional_transaction, save_if
from securelogin.adapters.records import session_from
from securelogin.adapters.table import SessionItem
from securelogin.domain.models import DeviceType, Session
from securelogin.ports import AlreadyExists, Completing


def session_item(session: Session) -> SessionItem:
    return SessionItem.keyed(session.key, username=session.username, scope=session.scope.value,
                             created_at=session.created_at, expires_at=session.expires_at,
                             device_id=session.device_id, platform=session.platform, proved_at=session.proved_at,
                             proved_with=session.proved_with.value if session.proved_with else None,
                             proved_by=session.proved_by,
                             expires_ttl=session.expires_at)


class SessionStore:
    def put(self, session: Session) -> None:
        if not save_if(session_item(session), SessionItem.pk.does_not_exist()):
            raise AlreadyExists(session.key)

    def get(self, key: str) -> Session | None:
        item = SessionItem.find(key, consistent_read=False)
        return session_from(item) if item is not None else None

    def delete(self, key: str, also: Completing | None = None) -> None:
        """Ends the session, with ``also`` (its audit event) in the same transaction."""
        if also is None:
            SessionItem.keyed(key).delete()
            return
        with conditional_transaction(key) as tx:
            tx.delete(SessionItem.keyed(key))
            also(tx)

    def proving(self, key: str, now: datetime, device_type: DeviceType, device_id: str | None = None) -> Completing:
        """A step-up: the session proved possession again, now, with this device."""
        def write(tx: TransactWrite) -> None:
            proved_by = SessionItem.proved_by.set(device_id) if device_id else SessionItem.proved_by.remove()
            tx.update(SessionItem.keyed(key), actions=[SessionItem.proved_at.set(now),
                                                       SessionItem.proved_with.set(device_type.value), proved_by],
                      condition=SessionItem.pk.exists())
        return write
