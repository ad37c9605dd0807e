"""engine.workdays: working days in the Chinese holiday calendar, with make-up working days."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from engine import workdays
from engine.clock import FixedClock, parse_moment
from engine.scripts import RestrictedEnvironment, make_helpers
from engine.workdays import (WorkdayCalendarMissing, add_working_days, add_workdays, is_working_day,
                             last_working_day, working_days_between)

# 2023: Mid-Autumn and National Day joined, 2023-09-29 (Fri) .. 2023-10-06 (Fri) off;
# Saturday 2023-10-07 and Sunday 2023-10-08 are make-up working days.
NATIONAL_DAY_OFF = [date(2023, 9, 29) + timedelta(days=i) for i in range(8)]


def test_national_day_2023_and_its_make_up_weekend() -> None:
    assert NATIONAL_DAY_OFF[0] == date(2023, 9, 29) and NATIONAL_DAY_OFF[-1] == date(2023, 10, 6)
    assert not any(is_working_day(d) for d in NATIONAL_DAY_OFF)
    assert is_working_day(date(2023, 10, 7)) and is_working_day(date(2023, 10, 8))  # Saturday, Sunday
    assert is_working_day(date(2023, 9, 28)) and is_working_day(date(2023, 10, 9))


@pytest.mark.parametrize("start, n, expected", [
    (date(2023, 9, 27), 1, date(2023, 9, 28)),
    (date(2023, 9, 27), 2, date(2023, 10, 7)),   # the make-up Saturday
    (date(2023, 9, 27), 3, date(2023, 10, 8)),   # and Sunday
    (date(2023, 9, 27), 4, date(2023, 10, 9)),
    (date(2023, 9, 28), 1, date(2023, 10, 7)),
    (date(2023, 10, 1), 1, date(2023, 10, 7)),   # from inside the holiday
    (date(2023, 10, 9), -1, date(2023, 10, 8)),  # backwards over the make-up days
    (date(2023, 10, 7), -1, date(2023, 9, 28)),  # and over the holiday
    (date(2023, 10, 8), -3, date(2023, 9, 27)),
    (date(2023, 9, 27), 0, date(2023, 9, 27)),
])
def test_add_working_days_across_national_day(start: date, n: int, expected: date) -> None:
    assert add_working_days(start, n) == expected


def test_an_ordinary_weekend() -> None:
    friday, saturday, monday = date(2023, 11, 17), date(2023, 11, 18), date(2023, 11, 20)
    assert add_working_days(friday, 1) == monday
    assert add_working_days(saturday, 1) == monday
    assert add_working_days(monday, -1) == friday
    assert add_working_days(friday, 5) == date(2023, 11, 24)
    assert working_days_between(friday, monday) == 1
    assert last_working_day(date(2023, 11, 19)) == friday


def test_spring_festival_2024() -> None:
    # 2024-02-10..17 off; Sunday 2024-02-04 and Sunday 2024-02-18 are make-up working days.
    assert not any(is_working_day(date(2024, 2, d)) for d in range(10, 18))
    assert is_working_day(date(2024, 2, 4)) and is_working_day(date(2024, 2, 18))
    assert is_working_day(date(2024, 2, 9))  # New Year's Eve was officially a working day in 2024
    assert add_working_days(date(2024, 2, 9), 1) == date(2024, 2, 18)
    assert add_working_days(date(2024, 2, 18), -1) == date(2024, 2, 9)
    assert add_working_days(date(2024, 2, 5), 5) == date(2024, 2, 18)
    assert working_days_between(date(2024, 2, 8), date(2024, 2, 19)) == 3  # 2-09, 2-18, 2-19


def test_working_days_between_counts_the_half_open_interval() -> None:
    a, b = date(2023, 9, 27), date(2023, 10, 9)
    assert working_days_between(a, b) == 4  # 9-28, 10-07, 10-08, 10-09
    assert working_days_between(b, a) == -4
    assert working_days_between(a, a) == 0
    for n in range(-6, 7):  # the two functions agree
        assert working_days_between(a, add_working_days(a, n)) == n


def test_years_the_calendar_lacks_are_refused_clearly() -> None:
    first, last = workdays.covered_years()
    assert first <= 2023 < 2024 <= last
    with pytest.raises(WorkdayCalendarMissing, match=rf"covers {first}–{last}, not {last + 1}"):
        is_working_day(date(last + 1, 3, 2))
    with pytest.raises(WorkdayCalendarMissing):
        add_working_days(date(last, 12, 30), 10)
    # Callers that must not fail (the lights) count Monday to Friday beyond the calendar.
    monday = date(last + 1, 3, 1) + timedelta(days=-date(last + 1, 3, 1).weekday() % 7)
    assert monday.weekday() == 0
    assert add_working_days(monday, 5, strict=False) == monday + timedelta(days=7)
    assert add_working_days(monday, -1, strict=False) == monday - timedelta(days=3)


def test_script_helper_add_workdays() -> None:
    assert add_workdays("2023-09-27", 2) == "2023-10-07"
    assert add_workdays("2023-09-28T23:30:00+08:00", 1) == "2023-10-07"
    assert add_workdays("2023-09-27T16:30:00+00:00", 1) == "2023-10-07"  # already 9-28 in Shanghai
    assert add_workdays("2023-09-27T15:30:00+00:00", 1) == "2023-09-28"
    env = RestrictedEnvironment(make_helpers(FixedClock(parse_moment("2023-09-27T10:00:00"))), 1.0)
    assert env.evaluate("add_workdays(now_iso(), 3)", {}) == "2023-10-08"
    assert env.evaluate("end_of_day(add_workdays(d, -1))", {"d": "2023-10-09"}) == "2023-10-09T00:00:00+08:00"
