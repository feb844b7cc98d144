"""The service's notion of now.

Everything that expires reads time from a ``Clock``; the local stack moves it forward
(``POST /_local/clock``) to try expiry without waiting.
"""
from __future__ import annotations

import math
import threading
from datetime import UTC, datetime, timedelta
from typing import Any


class _Offset:
    """Seconds a clock runs ahead, with a lock: what ``multiprocessing.Value('d')`` offers."""

    def __init__(self) -> None:
        self.value = 0.0
        self._lock = threading.Lock()

    def get_lock(self) -> threading.Lock:
        return self._lock


class Clock:
    def __init__(self) -> None:
        self._offset: Any = _Offset()

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._offset.value)

    def advance(self, seconds: float) -> None:
        with self._offset.get_lock():
            self._offset.value += seconds

    def share_offset(self, shared: Any) -> None:
        """Local stack only: keep the offset in ``shared``, a ``multiprocessing.Value('d')``
        made before forking, so that every process of the stack runs on one clock."""
        with shared.get_lock():
            shared.value = self._offset.value
        self._offset = shared


# The process-wide clock. Services take a clock argument; this is the one they get by default.
system_clock = Clock()


def iso(moment: datetime) -> str:
    """ISO-8601 UTC with a Z, to the second, as api.md writes times."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds_until(moment: datetime, now: datetime) -> int:
    """Whole seconds from ``now`` to ``moment``, rounded up (a Retry-After); not clamped."""
    return math.ceil((moment - now).total_seconds())
