"""The request that is running, as its ``Idempotency-Key`` names it (api/idempotency.py
sets it for a keyed request): a write that completes a flow records it, so that the same
request sent again after the answer to that write was lost is known for what it is, and
gets the answer it should have had instead of "already used"."""
from __future__ import annotations

from contextvars import ContextVar

# A digest of the caller, the key and the request's fingerprint; None for a request without a key.
current_request: ContextVar[str | None] = ContextVar("current_request", default=None)


def is_current(recorded: str | None) -> bool:
    """Whether ``recorded`` names the request now running (never true without a key)."""
    running = current_request.get()
    return running is not None and recorded == running
