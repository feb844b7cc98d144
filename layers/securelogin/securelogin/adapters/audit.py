"""Data access for the audit trail: append-only, one partition per username, read
newest first."""
from __future__ import annotations

import secrets
from datetime import timedelta

from securelogin.adapters.dynamo import save_if
from securelogin.adapters.table import AuditItem
from securelogin.domain.models import AuditEvent
from securelogin.ports import AlreadyExists, Completing


def _item(username: str, event: AuditEvent, keep_for: timedelta) -> AuditItem:
    return AuditItem.keyed(username, event.at, secrets.token_hex(8), type=event.type, at=event.at,
                           details=event.details, expires_ttl=event.at + keep_for)


class AuditStore:
    def append(self, username: str, event: AuditEvent, keep_for: timedelta) -> None:
        item = _item(username, event, keep_for)
        if not save_if(item, AuditItem.pk.does_not_exist()):
            raise AlreadyExists(item.sk)

    def writes(self, username: str, event: AuditEvent, keep_for: timedelta) -> Completing:
        """The event as a write of another store's transaction: it is recorded if, and
        only if, what it records happened."""
        item = _item(username, event, keep_for)
        return lambda tx: tx.save(item, condition=AuditItem.pk.does_not_exist())

    def newest_first(self, username: str, limit: int) -> list[AuditEvent]:
        items = AuditItem.query(AuditItem.trail(username), scan_index_forward=False, limit=limit)
        return [AuditEvent(at=i.at, type=i.type, details=dict(i.details.as_dict())) for i in items]
