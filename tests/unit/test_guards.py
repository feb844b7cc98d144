"""The send guard of one user (domain/guards.py): every challenge counts toward a cap over
any window, exactly; a push holds one of a few places until it is approved; a few denials
pause pushes, and only pushes."""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from securelogin.domain.guards import PushesPaused, ResendTooSoon, SendGuard, TooManyChallenges, TooManyPushes
from securelogin.policy import Policy

T0 = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
POLICY = Policy()
WINDOW = POLICY.challenge_window
MS = timedelta(milliseconds=1)


def issue(guard: SendGuard, at: datetime, push_key: str | None = None) -> SendGuard:
    return guard.take(at, POLICY, push_key)


def test_the_policy_is_the_rules():
    assert (POLICY.challenges_per_window, POLICY.challenge_window) == (20, timedelta(minutes=15))
    assert (POLICY.pushes_per_window, POLICY.push_window) == (5, timedelta(minutes=15))
    assert (POLICY.push_denials_to_pause, POLICY.push_pause) == (3, timedelta(minutes=15))


# ------------------------------------------------------------------ challenges issued

def twenty(start: datetime = T0, step: timedelta = timedelta(seconds=30)) -> SendGuard:
    guard = SendGuard()
    for n in range(20):
        guard = issue(guard, start + n * step)
    return guard


def test_twenty_challenges_in_any_fifteen_minutes_and_not_one_more():
    guard = twenty()
    last = T0 + 19 * timedelta(seconds=30)
    with pytest.raises(TooManyChallenges) as full:
        issue(guard, last)
    assert full.value.free_at == T0 + WINDOW  # when the oldest leaves the window
    with pytest.raises(TooManyChallenges):
        issue(guard, T0 + WINDOW - MS)
    freed = issue(guard, T0 + WINDOW)  # exactly then, one place and no more
    with pytest.raises(TooManyChallenges) as again:
        issue(freed, T0 + WINDOW)
    assert again.value.free_at == T0 + timedelta(seconds=30) + WINDOW
    issue(freed, T0 + timedelta(seconds=30) + WINDOW)


def test_the_window_slides_and_is_not_a_bucket():
    """Twenty at the end of one quarter hour leave no room at the start of the next."""
    guard = twenty(T0 + timedelta(minutes=14), timedelta(seconds=1))
    with pytest.raises(TooManyChallenges):
        issue(guard, T0 + timedelta(minutes=16))
    issue(guard, T0 + timedelta(minutes=29))


def test_every_kind_of_challenge_counts_and_a_push_too():
    guard = SendGuard()
    for _ in range(19):
        guard = issue(guard, T0)
    guard = issue(guard, T0, "push-1")
    for push_key in (None, "push-2"):
        with pytest.raises(TooManyChallenges):
            issue(guard, T0 + timedelta(minutes=1), push_key)


def test_a_lower_cap_from_the_policy():
    policy = Policy().with_overrides({"challenges_per_window": 2})
    guard = SendGuard().take(T0, policy).take(T0, policy)
    with pytest.raises(TooManyChallenges):
        guard.take(T0, policy)


def test_taking_changes_nothing_of_the_guard_read():
    read = SendGuard()
    taken = issue(read, T0, "push-1")
    assert read == SendGuard() and taken.version == read.version == 0
    assert taken.issued == (int(T0.timestamp() * 1000),) and set(taken.pushes) == {"push-1"}


# ------------------------------------------------------------------ pushes

def five_pushes(step: timedelta = timedelta(minutes=1)) -> SendGuard:
    guard = SendGuard()
    for n in range(5):
        guard = issue(guard, T0 + n * step, f"push-{n}")
    return guard


def test_five_pushes_over_a_sliding_window_exactly():
    guard = five_pushes()
    with pytest.raises(TooManyPushes) as full:
        issue(guard, T0 + timedelta(minutes=5), "push-5")
    assert full.value.free_at == T0 + POLICY.push_window
    with pytest.raises(TooManyPushes):
        issue(guard, T0 + POLICY.push_window - MS, "push-5")
    freed = issue(guard, T0 + POLICY.push_window, "push-5")  # the first left the window
    with pytest.raises(TooManyPushes) as again:
        issue(freed, T0 + POLICY.push_window + timedelta(seconds=30), "push-6")
    assert again.value.free_at == T0 + timedelta(minutes=1) + POLICY.push_window


def test_a_full_set_of_pushes_leaves_other_challenges_alone():
    issue(five_pushes(), T0 + timedelta(minutes=5))


def test_an_approval_frees_its_place():
    guard = five_pushes()
    approved = replace(guard, pushes={k: v for k, v in guard.pushes.items() if k != "push-2"})  # what the store does
    issue(approved, T0 + timedelta(minutes=5), "push-5")


def test_a_denial_keeps_its_place():
    guard, _ = five_pushes().deny(T0 + timedelta(minutes=5), POLICY)
    assert set(guard.pushes) == {f"push-{n}" for n in range(5)}
    with pytest.raises(TooManyPushes):
        issue(guard, T0 + timedelta(minutes=5), "push-5")


# ------------------------------------------------------------------ denials

def denied(times: list[datetime], guard: SendGuard | None = None) -> tuple[SendGuard, list[bool]]:
    guard = guard or SendGuard()
    pausing = []
    for at in times:
        guard, pauses = guard.deny(at, POLICY)
        pausing.append(pauses)
    return guard, pausing


def test_three_denials_in_fifteen_minutes_pause_pushes_fifteen_minutes():
    third = T0 + timedelta(minutes=14)
    guard, pausing = denied([T0, T0 + timedelta(minutes=7), third])
    assert pausing == [False, False, True] and guard.paused_until == third + POLICY.push_pause
    with pytest.raises(PushesPaused) as paused:
        issue(guard, third + POLICY.push_pause - MS, "push-1")
    assert paused.value.until == third + POLICY.push_pause
    issue(guard, third + POLICY.push_pause, "push-1")


def test_denials_further_apart_than_the_window_do_not_pause():
    guard, pausing = denied([T0, T0 + timedelta(minutes=7), T0 + POLICY.push_window])
    assert pausing == [False, False, False] and guard.paused_until is None
    _, pausing = denied([T0, T0 + timedelta(minutes=7), T0 + POLICY.push_window - MS])
    assert pausing[-1] is True


def test_only_the_denial_that_starts_a_pause_reports_it():
    paused, _ = denied([T0, T0, T0])
    later, pausing = denied([T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)], paused)
    assert pausing == [False, False] and later.paused_until == paused.paused_until  # not prolonged
    after, pausing = denied([paused.paused_until], later)  # once the pause is over, a fresh one may start
    assert pausing == [True] and after.paused_until == paused.paused_until + POLICY.push_pause


def test_a_pause_refuses_pushes_only():
    guard, _ = denied([T0, T0, T0])
    issue(guard, T0 + timedelta(minutes=1))  # an SMS, a card, the app's offline code
    with pytest.raises(PushesPaused):
        issue(guard, T0 + timedelta(minutes=1), "push-1")


def test_a_pause_is_told_before_a_full_set_of_pushes():
    guard, _ = denied([T0, T0, T0], five_pushes(timedelta(0)))
    with pytest.raises(PushesPaused):
        issue(guard, T0, "push-5")


# ------------------------------------------------------------------ codes' resend wait, and giving back

def test_a_code_waits_the_resend_interval_after_the_last_of_its_purpose_only():
    guard = SendGuard().take(T0, POLICY, code_for="login")
    with pytest.raises(ResendTooSoon) as wait:
        guard.take(T0 + POLICY.resend_interval - MS, POLICY, code_for="login")
    assert wait.value.free_at == T0 + POLICY.resend_interval
    guard.take(T0 + MS, POLICY, code_for="activation")  # another purpose has its own wait
    guard.take(T0 + MS, POLICY)  # a challenge without a code waits for nothing
    guard.take(T0 + POLICY.resend_interval, POLICY, code_for="login")


def test_a_challenge_whose_message_was_not_sent_gives_back_all_it_took():
    before = issue(issue(SendGuard(), T0, "older"), T0 + MS)
    taken = before.take(T0 + 2 * MS, POLICY, "push-key")
    given = taken.give_back(T0 + 2 * MS, "push-key")
    assert (given.issued, given.pushes) == (before.issued, before.pushes)
    coded = before.take(T0 + 3 * MS, POLICY, code_for="login")
    back = coded.give_back(T0 + 3 * MS, code_for="login")
    assert (back.issued, back.sent) == (before.issued, before.sent)
    back.take(T0 + 4 * MS, POLICY, code_for="login")  # no wait left behind


def test_giving_back_removes_one_challenge_and_leaves_another_at_the_same_moment():
    twice = issue(issue(SendGuard(), T0), T0)
    assert twice.give_back(T0).issued == (int(T0.timestamp() * 1000),)
