"""The audit trail service: security events recorded per user, alone or inside the
transaction of what they record."""
from __future__ import annotations

from securelogin.clock import Clock
from securelogin.domain.models import AuditEvent
from securelogin.policy import Policy
from securelogin.ports import AlreadyExists, AuditStore, Completing

Detail = str | int | bool | None


class AuditTrail:
    """The append-only record of security events, per user. Details must never carry a
    secret, code, PIN or password: callers pass ids, types and counts only."""

    def __init__(self, store: AuditStore, clock: Clock, policy: Policy) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy

    def record(self, username: str, event_type: str, **details: Detail) -> None:
        event = AuditEvent(at=self._clock.now(), type=event_type, details=details)
        try:
            self._store.append(username, event, self._policy.audit_retention)
        except AlreadyExists:  # two events in the same microsecond with the same random suffix
            self._store.append(username, event, self._policy.audit_retention)

    def recording(self, username: str, event_type: str, **details: Detail) -> Completing:
        """The event, to be written by the transaction that does what it records, so that
        a failure leaves neither: the request can be sent again."""
        event = AuditEvent(at=self._clock.now(), type=event_type, details=details)
        return self._store.writes(username, event, self._policy.audit_retention)

    def newest_first(self, username: str, limit: int = 100) -> list[AuditEvent]:
        return self._store.newest_first(username, limit)
