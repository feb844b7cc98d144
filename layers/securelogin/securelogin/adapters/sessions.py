"""Data access for sessions, stored under the lookup key of their token: deleting one
revokes it."""
from __future__ import annotations

from securelogin.adapters.records import session_from
from securelogin.adapters.table import SessionItem
from securelogin.domain.models import Session


def session_item(session: Session) -> SessionItem:
    return SessionItem.keyed(session.key, username=session.username, scope=session.scope.value,
                             created_at=session.created_at, expires_at=session.expires_at,
                             device_id=session.device_id, expires_ttl=session.expires_at)


class SessionStore:
    def put(self, session: Session) -> None:
        session_item(session).save(condition=SessionItem.pk.does_not_exist())

    def get(self, key: str) -> Session | None:
        item = SessionItem.find(key, consistent_read=False)
        return session_from(item) if item is not None else None

    def delete(self, key: str) -> None:
        SessionItem.keyed(key).delete()
