"""The service's notion of now.

Everything that expires reads time from a ``Clock``; the local stack moves it forward
(``POST /_local/clock``) to try expiry without waiting.
"""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta


class Clock:
    def __init__(self) -> None:
        self._offset = timedelta()
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._offset += timedelta(seconds=seconds)


# The process-wide clock. Services take a clock argument; this is the one they get by default.
system_clock = Clock()


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, to the second, as api.md writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
