"""The guards on what is sent to one user, as one record (rules.md, lifetimes: "challenges
issued", "pushes", "SMS resend"): every challenge of any kind counts toward a cap over any
window; a push holds a place among a few until it is approved (a denied, expired,
withdrawn or unanswered one keeps it); a few denials in a window pause pushes for a while;
a code by SMS or voice waits a while after the last one of the same purpose. A challenge
whose message could not be sent gives back what it took (``give_back``).

Pure: the store reads the record, these functions say what it becomes, and the store
writes it back on the condition that nobody wrote it meanwhile (``version``)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from securelogin.policy import Policy


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def moment(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


class TooManyChallenges(Exception):
    def __init__(self, free_at: datetime) -> None:
        super().__init__(free_at)
        self.free_at = free_at


class TooManyPushes(Exception):
    def __init__(self, free_at: datetime) -> None:
        super().__init__(free_at)
        self.free_at = free_at


class ResendTooSoon(Exception):
    def __init__(self, free_at: datetime) -> None:
        super().__init__(free_at)
        self.free_at = free_at


class PushesPaused(Exception):
    def __init__(self, until: datetime) -> None:
        super().__init__(until)
        self.until = until


@dataclass(frozen=True)
class SendGuard:
    """One user's guard. Times are epoch milliseconds; ``pushes`` maps a push's key to
    when it was sent, for the pushes that still hold a place."""
    issued: tuple[int, ...] = ()
    pushes: dict[str, int] = field(default_factory=dict)
    denials: tuple[int, ...] = ()
    paused_until: datetime | None = None
    # The last code sent by SMS or voice, by purpose (login, activation, ...).
    sent: dict[str, int] = field(default_factory=dict)
    version: int = 0  # 0: never written

    def take(self, now: datetime, policy: Policy, push_key: str | None = None,
             code_for: str | None = None) -> SendGuard:
        """The guard once one more challenge is issued (a push, with ``push_key``; a code by
        SMS or voice for the purpose ``code_for``), or the reason it may not be:
        TooManyChallenges, PushesPaused, TooManyPushes or ResendTooSoon."""
        issued = _within(self.issued, now, policy.challenge_window)
        if len(issued) >= policy.challenges_per_window:
            raise TooManyChallenges(moment(sorted(issued)[len(issued) - policy.challenges_per_window])
                                    + policy.challenge_window)
        pushes = {k: at for k, at in self.pushes.items() if at > millis(now - policy.push_window)}
        if push_key is not None:
            if self.paused_until is not None and self.paused_until > now:
                raise PushesPaused(self.paused_until)
            if len(pushes) >= policy.pushes_per_window:
                oldest = sorted(pushes.values())[len(pushes) - policy.pushes_per_window]
                raise TooManyPushes(moment(oldest) + policy.push_window)
            pushes[push_key] = millis(now)
        sent = {p: at for p, at in self.sent.items() if at > millis(now - policy.resend_interval)}
        if code_for is not None:
            if code_for in sent:
                raise ResendTooSoon(moment(sent[code_for]) + policy.resend_interval)
            sent[code_for] = millis(now)
        return replace(self, issued=(*issued, millis(now)), pushes=pushes,
                       denials=_within(self.denials, now, policy.push_window), sent=sent)

    def give_back(self, taken_at: datetime, push_key: str | None = None, code_for: str | None = None) -> SendGuard:
        """The guard without what ``take`` at ``taken_at`` added (the challenge, its push,
        its code's resend wait): a challenge whose message could not be sent leaves nothing."""
        stamp = millis(taken_at)
        issued = list(self.issued)
        if stamp in issued:
            issued.remove(stamp)
        sent = {p: at for p, at in self.sent.items() if not (p == code_for and at == stamp)}
        pushes = {k: at for k, at in self.pushes.items() if k != push_key}
        return replace(self, issued=tuple(issued), pushes=pushes, sent=sent)

    def deny(self, now: datetime, policy: Policy) -> tuple[SendGuard, bool]:
        """The guard once a push was denied (it keeps its place), and whether this denial
        pauses pushes now."""
        denials = (*_within(self.denials, now, policy.push_window), millis(now))
        pausing = len(denials) >= policy.push_denials_to_pause and not (
            self.paused_until is not None and self.paused_until > now)
        paused_until = now + policy.push_pause if pausing else self.paused_until
        return replace(self, denials=denials, paused_until=paused_until), pausing


def _within(stamps: tuple[int, ...], now: datetime, window: timedelta) -> tuple[int, ...]:
    cutoff = millis(now - window)
    return tuple(at for at in stamps if at > cutoff)
