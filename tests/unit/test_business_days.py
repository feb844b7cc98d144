"""Business days (rules.md "Withdrawal limits"): Monday to Friday, less the NYSE's holidays
by default, or the dates POLICY_OVERRIDES gives instead ("none": no holidays)."""
from datetime import UTC, date, datetime
from types import SimpleNamespace

import holidays
import pytest

from securelogin.domain import limits
from securelogin.domain.limits import NO_HOLIDAYS, BusinessCalendar, availability, five_business_day_window
from securelogin.policy import Policy
from securelogin.services.withdrawals import WithdrawalService
from securelogin.settings import Settings

GOOD_FRIDAY = date(2026, 4, 3)
THANKSGIVING = date(2026, 11, 26)
NEW_YEARS_DAY = date(2027, 1, 1)  # a Friday


def calendar_from(overrides: str) -> BusinessCalendar:
    """The calendar the service builds from the environment."""
    settings = Settings.from_environment({"TABLE_NAME": "tbl", "KMS_KEY_ID": "key", "POLICY_OVERRIDES": overrides})
    return BusinessCalendar(settings.policy().holidays)


def test_the_default_calendar_is_the_nyse():
    calendar = BusinessCalendar(Policy().holidays)
    for holiday in (GOOD_FRIDAY, THANKSGIVING, NEW_YEARS_DAY, date(2026, 12, 25), date(2026, 6, 19)):
        assert holiday.weekday() < 5 and not calendar.is_business_day(holiday)
    assert calendar.is_business_day(date(2026, 11, 27))  # the day after Thanksgiving trades
    assert calendar.is_business_day(date(2021, 12, 31))  # the NYSE does not observe a Saturday New Year's Day
    assert not calendar.is_business_day(date(2026, 11, 28))  # a Saturday


def test_years_far_apart_are_covered():
    calendar = BusinessCalendar()
    assert not calendar.is_business_day(date(2000, 4, 21))  # Good Friday
    assert not calendar.is_business_day(date(2051, 11, 23))  # Thanksgiving


def test_the_window_skips_good_friday_and_thanksgiving():
    calendar = BusinessCalendar()
    easter_monday, day_after_thanksgiving = date(2026, 4, 6), date(2026, 11, 27)
    assert five_business_day_window(easter_monday, calendar)[-1] == date(2026, 3, 30)
    assert five_business_day_window(easter_monday, BusinessCalendar(NO_HOLIDAYS))[-1] == date(2026, 3, 31)
    assert five_business_day_window(day_after_thanksgiving, calendar)[-1] == date(2026, 11, 20)
    assert five_business_day_window(day_after_thanksgiving, BusinessCalendar(NO_HOLIDAYS))[-1] == date(2026, 11, 23)


def test_a_window_across_new_year_skips_new_years_day():
    tuesday = date(2027, 1, 5)
    assert five_business_day_window(tuesday, BusinessCalendar()) == [
        date(2027, 1, 5), date(2027, 1, 4), date(2027, 1, 3), date(2027, 1, 2), NEW_YEARS_DAY,
        date(2026, 12, 31), date(2026, 12, 30), date(2026, 12, 29)]
    assert five_business_day_window(tuesday, BusinessCalendar(NO_HOLIDAYS))[-1] == date(2026, 12, 30)


def test_money_moved_on_the_skipped_day_still_counts():
    totals = {date(2026, 12, 29): 100_000.0, NEW_YEARS_DAY: 50_000.0}
    assert availability((200_000, 600_000), totals, date(2027, 1, 5), BusinessCalendar()).five_business_days == 450_000
    assert availability((200_000, 600_000), totals, date(2027, 1, 5),
                        BusinessCalendar(NO_HOLIDAYS)).five_business_days == 550_000


def test_an_explicit_list_replaces_the_calendar():
    calendar = calendar_from('{"holidays": ["2026-12-24", "2026-12-31"]}')
    assert not calendar.is_business_day(date(2026, 12, 24)) and not calendar.is_business_day(date(2026, 12, 31))
    assert calendar.is_business_day(GOOD_FRIDAY) and calendar.is_business_day(THANKSGIVING)
    assert calendar.is_business_day(NEW_YEARS_DAY)


@pytest.mark.parametrize("overrides", ['{"holidays": "none"}', '{"holidays": []}'])
def test_none_empties_the_calendar(overrides):
    calendar = calendar_from(overrides)
    for day in (GOOD_FRIDAY, THANKSGIVING, NEW_YEARS_DAY, date(2026, 12, 25)):
        assert calendar.is_business_day(day)
    assert not calendar.is_business_day(date(2026, 12, 26))  # weekends stay


def test_without_an_override_the_settings_give_the_nyse():
    assert not calendar_from("{}").is_business_day(THANKSGIVING)


@pytest.mark.parametrize("overrides", ['{"holidays": ["2026-13-01"]}', '{"holidays": "NOPE"}'])
def test_a_wrong_holiday_setting_is_refused(overrides):
    with pytest.raises(ValueError):
        calendar_from(overrides)


def test_each_year_is_computed_once_however_often_it_is_asked(monkeypatch):
    computed: list[object] = []
    compute = holidays.financial_holidays

    def counting(market, years):
        computed.append(years)
        return compute(market, years=years)

    calendar, another = BusinessCalendar(), BusinessCalendar()
    limits._market_holidays.cache_clear()
    monkeypatch.setattr(holidays, "financial_holidays", counting)
    try:
        for _ in range(100):
            five_business_day_window(date(2027, 1, 5), calendar)
        five_business_day_window(date(2027, 1, 5), another)  # another calendar shares the years
        assert len(computed) == 2  # 2027 and 2026, once each
    finally:
        limits._market_holidays.cache_clear()


class _Ledger:
    def __init__(self, totals: dict[date, float]) -> None:
        self._totals = totals
        self.since: date | None = None

    def totals(self, username: str, since: date, until: date) -> dict[date, float]:
        self.since = since
        return {day: amount for day, amount in self._totals.items() if since <= day <= until}


@pytest.mark.parametrize(("policy", "since", "left"), [
    (Policy(), date(2026, 11, 20), 0.0),  # Thanksgiving skipped: last Friday is in the window
    (Policy().with_overrides({"holidays": "none"}), date(2026, 11, 23), 100_000.0),
])
def test_the_withdrawal_service_counts_over_the_policys_calendar(policy, since, left):
    ledger = _Ledger({date(2026, 11, 20): 100_000.0})
    clock = SimpleNamespace(now=lambda: datetime(2026, 11, 27, 15, tzinfo=UTC))
    service = WithdrawalService(None, None, ledger, None, clock, policy)  # type: ignore[arg-type]
    shown = service.limits(SimpleNamespace(username="alice", reserves={}), [])  # type: ignore[arg-type]
    assert ledger.since == since
    assert shown["none"]["remaining_five_business_days"] == left
