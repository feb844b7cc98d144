"""Withdrawal limits (rules.md): what a confirming device type still allows."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

Limit = tuple[float | None, float | None]  # (per UTC day, per five business days); None is unlimited

DEFAULT_HOLIDAYS = "NYSE"
NO_HOLIDAYS = "none"
Holidays = str | Iterable[date]  # a market of the ``holidays`` package, NO_HOLIDAYS, or the dates themselves


@lru_cache(maxsize=64)
def _market_holidays(market: str, year: int) -> frozenset[date]:
    """One year of a market's holidays, computed once per process. The neighbouring years are
    computed too, so that a holiday observed on a day of another year is not missed."""
    import holidays  # on first use: a cold start that never asks pays nothing (about 0.1 s)

    try:
        computed = holidays.financial_holidays(market, years=range(year - 1, year + 2))
    except NotImplementedError:
        raise ValueError(f"unknown holiday calendar {market!r}") from None
    return frozenset(day for day in computed if day.year == year)


class BusinessCalendar:
    """The one answer to "is this a business day?" (rules.md "Withdrawal limits"): a UTC date,
    Monday to Friday, that is not a holiday. The holidays are a market's calendar from the
    ``holidays`` package (NYSE unless told otherwise), for any year, each year computed on
    first use and kept; or exactly the dates given (none at all for ``NO_HOLIDAYS``)."""

    def __init__(self, holidays: Holidays = DEFAULT_HOLIDAYS) -> None:
        self._market: str | None = None
        self._dates: frozenset[date] = frozenset()
        if isinstance(holidays, str):
            if holidays != NO_HOLIDAYS:
                self._market = holidays
                if holidays != DEFAULT_HOLIDAYS:
                    _market_holidays(holidays, 2000)  # refuses an unknown market now, not on a withdrawal
        else:
            self._dates = frozenset(holidays)

    def is_holiday(self, day: date) -> bool:
        return day in self._dates or (self._market is not None and day in _market_holidays(self._market, day.year))

    def is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def __repr__(self) -> str:
        return f"BusinessCalendar({self._market or sorted(self._dates)!r})"


def five_business_day_window(today: date, calendar: BusinessCalendar, business_days: int = 5) -> list[date]:
    """Today and the days before it, back to the fourth business day before the current
    one. Weekends and holidays in between are in the window too: money moved on them counts."""
    window, day = [today], today
    counted = 1 if calendar.is_business_day(today) else 0
    while counted < business_days:
        day -= timedelta(days=1)
        window.append(day)
        counted += calendar.is_business_day(day)
    return window


@dataclass(frozen=True)
class Availability:
    today: float | None
    five_business_days: float | None

    def covers(self, amount: float) -> bool:
        return all(left is None or amount <= left for left in (self.today, self.five_business_days))


def availability(limit: Limit, totals: dict[date, float], today: date, calendar: BusinessCalendar,
                 reserved: float = 0.0) -> Availability:
    """What is left under ``limit`` given the authorized ``totals`` per day, less any fee
    ``reserved`` until a replaced device is returned."""
    per_day, per_window = limit
    used_today = totals.get(today, 0.0)
    used_window = sum(totals.get(day, 0.0) for day in five_business_day_window(today, calendar))
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


def room_today(limit: Limit, totals: dict[date, float], today: date, calendar: BusinessCalendar, amount: float,
               reserved: float = 0.0) -> float | None:
    """The most that may already be withdrawn today for ``amount`` to still fit under
    ``limit``: the condition of the atomic add that records it. Past days of the window
    no longer change, so only today's total needs a condition. None when unlimited;
    negative when ``amount`` cannot fit at all."""
    per_day, per_window = limit
    past = sum(totals.get(day, 0.0) for day in five_business_day_window(today, calendar) if day != today)
    rooms = [cap - reserved - amount - extra for cap, extra in ((per_day, 0.0), (per_window, past)) if cap is not None]
    return min(rooms, default=None)
