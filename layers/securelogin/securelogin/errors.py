"""Domain errors.

A domain error names what went wrong (``code``, a human ``message``, and extra fields
the contract promises, such as ``attempts_left``). Its category says how serious it
is; the only mapping from category to HTTP status is ``securelogin.api.errors``.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


class InvalidInput(DomainError):
    """The request is well-formed but its content is refused (e.g. a weak PIN)."""


class Unauthenticated(DomainError):
    """Credentials, codes or responses that do not prove who the caller is."""


class Forbidden(DomainError):
    """The caller is known but may not do this."""


class StepUpRequired(Forbidden):
    """A change to the account's protection from a session that did not prove possession
    lately with a strong enough device; ``devices`` are those that can step it up."""

    def __init__(self, devices: list[Any]) -> None:
        super().__init__("step_up_required", "Confirm it is you with one of these devices first, then try again.")
        self.devices = devices


class NotFound(DomainError):
    pass


class Conflict(DomainError):
    """The request clashes with the current state (taken name, last device, ...)."""


class Gone(DomainError):
    """A flow that expired or was already used."""


class Locked(DomainError):
    pass


class Throttled(DomainError):
    """Too many tries or too soon; carries ``retry_after_seconds``."""

    def __init__(self, code: str, message: str, retry_after_seconds: int, **extra: Any) -> None:
        super().__init__(code, message, retry_after_seconds=max(1, int(retry_after_seconds)), **extra)


class Unavailable(DomainError):
    """A downstream service failed; nothing was spent, so the caller may send the same
    request again after ``retry_after_seconds``."""

    def __init__(self, code: str, message: str, retry_after_seconds: int = 1, **extra: Any) -> None:
        super().__init__(code, message, retry_after_seconds=max(1, int(retry_after_seconds)), **extra)


def aws_unavailable() -> Unavailable:
    """What an AWS outage (an error, throttling, a timeout) answers."""
    return Unavailable("service_unavailable", "A service we depend on is not answering. Try again shortly.")
