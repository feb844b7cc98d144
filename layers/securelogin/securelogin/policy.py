"""Every number of rules.md, in one place.

``Policy()`` holds the defaults; ``Settings.policy_overrides`` (JSON in the
``POLICY_OVERRIDES`` environment variable) may replace any of them by name.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import date, timedelta
from typing import Any


@dataclass(frozen=True)
class Policy:
    login_ttl: timedelta = timedelta(minutes=5)
    challenge_ttl: timedelta = timedelta(seconds=120)
    message_code_ttl: timedelta = timedelta(minutes=5)
    message_code_digits: int = 6
    resend_interval: timedelta = timedelta(minutes=2)
    attempts_per_transaction: int = 5
    device_lock_after: int = 10
    device_lock_duration: timedelta = timedelta(minutes=15)
    # The per-user cap on answers to challenges, exact over any window of this length.
    user_failures_per_hour: int = 100
    user_failure_window: timedelta = timedelta(hours=1)
    password_lock_after: int = 10
    password_lock_duration: timedelta = timedelta(minutes=15)
    session_ttl: timedelta = timedelta(hours=12)
    activation_code_digits: int = 8
    activation_ttl: timedelta = timedelta(minutes=10)
    # An IB Key app's PIN: wrong guesses in a row before it locks, and the first lock.
    app_pin_attempts: int = 5
    app_pin_lock_duration: timedelta = timedelta(minutes=15)
    qr_session_length: int = 16  # characters of Crockford's base32 (crypto/session_ids.py): 80 bits
    qr_ttl: timedelta = timedelta(minutes=10)
    # Pushes to one user, exact over any window; an approved push gives its place back.
    push_window: timedelta = timedelta(minutes=15)
    pushes_per_window: int = 5
    # Denials in one push window that pause pushes to the user, and for how long.
    push_denials_to_pause: int = 3
    push_pause: timedelta = timedelta(minutes=15)
    # Number matching: the digits the asking client shows and the app signs.
    match_number_digits: int = 3
    # Challenges issued to one user, of any kind, in any flow, exact over any window.
    challenges_per_window: int = 20
    challenge_window: timedelta = timedelta(minutes=15)
    # How long a code card keeps asking the same open pair of index numbers.
    index_pair_lifetime: timedelta = timedelta(hours=24)
    # How long a session opened or stepped up with a strong enough device may change protection.
    step_up_lifetime: timedelta = timedelta(minutes=10)
    # Passkeys: how long creation options may be answered, and how many a user may have.
    passkey_registration_ttl: timedelta = timedelta(minutes=5)
    passkeys_per_user: int = 10
    temporary_code_length: int = 12
    temporary_full_access: timedelta = timedelta(days=2)
    temporary_portal_access: timedelta = timedelta(days=10)  # after the full access
    online_card_validity: timedelta = timedelta(days=21)
    dsc_plus_min_balance_usd: float = 500_000
    dsc_plus_replacement_fee_usd: float = 20
    # Old trading platforms get no device choice below this version (M2FS).
    tws_min_version_with_choice: int = 966
    # Withdrawal limits by confirming device type: (per UTC day, per five business days)
    # in USD; None is unlimited. "none" is an opted-out password-only session.
    withdrawal_limits: dict[str, tuple[float | None, float | None]] = field(default_factory=lambda: {
        "scc": (200_000, 600_000),
        "online_scc": (200_000, 600_000),
        "ib_key": (200_000, 600_000),
        "sms": (200_000, 600_000),
        "dsc": (1_000_000, 1_500_000),
        "passkey": (1_000_000, 1_500_000),
        "dsc_plus": (None, None),
        "gold": (None, None),
        "platinum": (None, None),
        "none": (50_000, 100_000),
        "temporary_code": (0, 0),
    })
    # The holidays of the five-business-day window: a market calendar of the ``holidays``
    # package (NYSE, every year), "none", or explicit dates (YYYY-MM-DD) that replace the calendar.
    holidays: str | frozenset[date] = "NYSE"
    # How long audit events are kept before DynamoDB's TTL removes them.
    audit_retention: timedelta = timedelta(days=7 * 365)
    # A message to send after a change (the outbox): how long one delivery holds it before
    # another may take it over, and how long the item stays after it went out.
    outbox_hold: timedelta = timedelta(seconds=15)
    outbox_retention: timedelta = timedelta(days=7)

    def with_overrides(self, overrides: dict[str, Any]) -> Policy:
        """A copy with the named fields replaced; durations are given in seconds."""
        known = {f.name: f for f in fields(self)}
        changes: dict[str, Any] = {}
        for name, value in overrides.items():
            if name not in known:
                raise ValueError(f"unknown policy field {name!r}")
            current = getattr(self, name)
            if name == "holidays":
                changes[name] = value if isinstance(value, str) else frozenset(date.fromisoformat(d) for d in value)
            elif isinstance(current, timedelta):
                changes[name] = timedelta(seconds=value)
            elif isinstance(current, frozenset):
                changes[name] = frozenset(value)
            elif isinstance(current, dict):
                changes[name] = {**current, **{k: tuple(v) for k, v in value.items()}}
            else:
                changes[name] = type(current)(value)
        return replace(self, **changes)
