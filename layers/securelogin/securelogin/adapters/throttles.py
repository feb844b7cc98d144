"""Data access for the guards on messages sent to a user: one send per interval for each
purpose, and a cap on pushes left unanswered (the push-bombing guard)."""
from __future__ import annotations

from datetime import datetime, timedelta

from securelogin.adapters.dynamo import delete_if, update_if
from securelogin.adapters.table import PushGuardItem, ThrottleItem
from securelogin.domain.models import Purpose


class ThrottleStore:
    def reserve(self, username: str, purpose: Purpose, now: datetime, interval: timedelta) -> timedelta | None:
        """Reserves a send for ``purpose``. None when reserved; otherwise how long to wait."""
        if update_if(ThrottleItem.keyed(username, purpose.value),
                     [ThrottleItem.last_sent_at.set(now), ThrottleItem.kind.set(ThrottleItem),
                      ThrottleItem.expires_ttl.set(now + interval)],
                     ThrottleItem.last_sent_at.does_not_exist() | (ThrottleItem.last_sent_at <= now - interval)):
            return None
        current = ThrottleItem.find(username, purpose.value)
        if current is None:
            return timedelta(seconds=1)
        return max(timedelta(seconds=1), current.last_sent_at + interval - now)

    def release(self, username: str, purpose: Purpose, reserved_at: datetime) -> None:
        """Gives back a reservation whose message was not sent, if it is still ours."""
        delete_if(ThrottleItem.keyed(username, purpose.value), ThrottleItem.last_sent_at == reserved_at)

    def count_push(self, username: str, now: datetime, window: timedelta, limit: int) -> timedelta | None:
        """Counts a push about to be sent. None when allowed; otherwise how long until the
        guard's window ends. A window older than ``window`` starts afresh."""
        item = PushGuardItem.keyed(username)
        if update_if(item, [PushGuardItem.window_start.set(now), PushGuardItem.unanswered.set(1),
                            PushGuardItem.kind.set(PushGuardItem), PushGuardItem.expires_ttl.set(now + window)],
                     PushGuardItem.window_start.does_not_exist() | (PushGuardItem.window_start <= now - window)):
            return None
        if update_if(item, [PushGuardItem.unanswered.add(1)], PushGuardItem.unanswered < limit):
            return None
        started = PushGuardItem.get(*PushGuardItem.key(username), consistent_read=True).window_start
        return max(timedelta(seconds=1), started + window - now)

    def push_answered(self, username: str) -> None:
        update_if(PushGuardItem.keyed(username), [PushGuardItem.unanswered.add(-1)], PushGuardItem.unanswered > 0)
