"""Withdrawal limits (rules.md): what a confirming device type still allows."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

Limit = tuple[float | None, float | None]  # (per UTC day, per five business days); None is unlimited


def is_business_day(day: date, holidays: frozenset[date]) -> bool:
    return day.weekday() < 5 and day not in holidays


def five_business_day_window(today: date, holidays: frozenset[date], business_days: int = 5) -> list[date]:
    """Today and the days before it, back to the fourth business day before the current
    one. Weekends and holidays in between are in the window too: money moved on them counts."""
    window, day = [today], today
    counted = 1 if is_business_day(today, holidays) else 0
    while counted < business_days:
        day -= timedelta(days=1)
        window.append(day)
        counted += is_business_day(day, holidays)
    return window


@dataclass(frozen=True)
class Availability:
    today: float | None
    five_business_days: float | None

    def covers(self, amount: float) -> bool:
        return all(left is None or amount <= left for left in (self.today, self.five_business_days))


def availability(limit: Limit, totals: dict[date, float], today: date, holidays: frozenset[date],
                 reserved: float = 0.0) -> Availability:
    """What is left under ``limit`` given the authorized ``totals`` per day, less any fee
    ``reserved`` until a replaced device is returned."""
    per_day, per_window = limit
    used_today = totals.get(today, 0.0)
    used_window = sum(totals.get(day, 0.0) for day in five_business_day_window(today, holidays))
    return Availability(
        today=None if per_day is None else max(0.0, per_day - used_today - reserved),
        five_business_days=None if per_window is None else max(0.0, per_window - used_window - reserved),
    )


def most_generous(options: Iterable[Availability]) -> Availability:
    def rank(value: float | None) -> float:
        return float("inf") if value is None else value

    options = list(options)
    if not options:
        return Availability(0.0, 0.0)
    return max(options, key=lambda a: (rank(a.today), rank(a.five_business_days)))


def room_today(limit: Limit, totals: dict[date, float], today: date, holidays: frozenset[date], amount: float,
               reserved: float = 0.0) -> float | None:
    """The most that may already be withdrawn today for ``amount`` to still fit under
    ``limit``: the condition of the atomic add that records it. Past days of the window
    no longer change, so only today's total needs a condition. None when unlimited;
    negative when ``amount`` cannot fit at all."""
    per_day, per_window = limit
    past = sum(totals.get(day, 0.0) for day in five_business_day_window(today, holidays) if day != today)
    rooms = [cap - reserved - amount - extra for cap, extra in ((per_day, 0.0), (per_window, past)) if cap is not None]
    return min(rooms, default=None)
