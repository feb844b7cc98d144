from datetime import date

from securelogin.domain.limits import (
    NO_HOLIDAYS,
    Availability,
    BusinessCalendar,
    availability,
    five_business_day_window,
    most_generous,
    room_today,
)

NONE = BusinessCalendar(NO_HOLIDAYS)


def test_the_window_on_a_monday_reaches_back_over_the_weekend():
    monday = date(2026, 11, 23)
    assert five_business_day_window(monday, NONE) == [
        date(2026, 11, 23), date(2026, 11, 22), date(2026, 11, 21), date(2026, 11, 20), date(2026, 11, 19),
        date(2026, 11, 18), date(2026, 11, 17)]


def test_the_window_on_a_saturday_is_today_and_the_last_five_business_days():
    saturday = date(2026, 11, 21)
    window = five_business_day_window(saturday, NONE)
    assert window[0] == saturday and window[-1] == date(2026, 11, 16) and len(window) == 6


def test_holidays_are_skipped_like_weekends():
    friday = date(2026, 11, 27)
    thanksgiving = date(2026, 11, 26)
    assert date(2026, 11, 20) in five_business_day_window(friday, BusinessCalendar([thanksgiving]))
    assert date(2026, 11, 20) not in five_business_day_window(friday, NONE)


def test_what_is_left_today_and_in_the_window_less_reserves():
    today = date(2026, 11, 20)
    totals = {today: 150_000, date(2026, 11, 19): 300_000, date(2026, 11, 10): 999_999}
    left = availability((200_000, 600_000), totals, today, NONE)
    assert left == Availability(50_000, 150_000)
    assert availability((200_000, 600_000), totals, today, NONE, reserved=20) == Availability(49_980, 149_980)
    assert left.covers(50_000) and not left.covers(50_001)


def test_unlimited_and_spent_out():
    today = date(2026, 11, 20)
    assert availability((None, None), {today: 10**9}, today, NONE).covers(10**10)
    assert availability((0, 0), {}, today, NONE) == Availability(0, 0)


def test_the_most_generous_option():
    assert most_generous([Availability(1, 5), Availability(None, None), Availability(3, 3)]) == Availability(None, None)
    assert most_generous([]) == Availability(0, 0)


def test_the_room_left_today_is_the_condition_of_the_atomic_add():
    today = date(2026, 11, 20)  # a Friday
    totals = {date(2026, 11, 17): 500_000.0, today: 50_000.0}
    # 200,000 a day and 600,000 over five business days: the window is what binds
    assert room_today((200_000, 600_000), totals, today, NONE, 30_000) == 70_000
    assert room_today((200_000, None), totals, today, NONE, 30_000) == 170_000
    assert room_today((None, None), totals, today, NONE, 30_000) is None
    assert room_today((200_000, 600_000), totals, today, NONE, 30_000, reserved=20) == 69_980
    assert room_today((200_000, 600_000), {}, today, NONE, 250_000) < 0
