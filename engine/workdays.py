"""Working days in Asia/Shanghai: weekends and public holidays off, make-up days (调休) on.

The calendar is the State Council's, as published each year and kept by the `chinesecalendar`
package (`chinese_calendar.is_workday`). It only knows the years it was released with: asking
about another year raises `WorkdayCalendarMissing` (upgrade the package when the State Council
publishes the next year's arrangement, usually in November). Callers that must never fail, such
as the lights, pass `strict=False` and get Monday to Friday for years the package lacks.

Counting convention, the one deadlines use: the start day itself is not counted.
`add_working_days(d, n)` is the n-th working day after d (n > 0) or before d (n < 0), and
`working_days_between(a, b)` counts the working days in (a, b].
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import chinese_calendar

from .clock import SHANGHAI
from .errors import EngineError, ValidationFailed

if TYPE_CHECKING:
    from .context import Context

ONE_DAY = timedelta(days=1)


class WorkdayCalendarMissing(EngineError, ValueError):
    """The holiday calendar has no data for this year."""

    code = "workday_calendar_missing"


def covered_years() -> tuple[int, int]:
    """First and last year the installed holiday calendar describes."""
    years = [d.year for d in chinese_calendar.holidays]
    return min(years), max(years)


@lru_cache(maxsize=8192)
def is_working_day(day: date, strict: bool = True) -> bool:
    """Whether people work on `day` in mainland China.

    :raises WorkdayCalendarMissing: `day` is in a year the calendar lacks (unless not strict,
        when Monday to Friday count as working days).
    """
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError as exc:
        if not strict:
            return day.weekday() < 5
        first, last = covered_years()
        raise WorkdayCalendarMissing(
            f"the holiday calendar covers {first}–{last}, not {day.year}: upgrade the chinesecalendar "
            f"package once that year's holidays are published") from exc


def add_working_days(start: date, n: int, strict: bool = True) -> date:
    """The n-th working day after `start` (n > 0) or before it (n < 0); `start` itself for 0.

    :raises WorkdayCalendarMissing: the walk reaches a year the calendar lacks (strict only).
    """
    step = ONE_DAY if n >= 0 else -ONE_DAY
    day, left = start, abs(n)
    while left:
        day += step
        if is_working_day(day, strict):
            left -= 1
    return day


def working_days_between(a: date, b: date, strict: bool = True) -> int:
    """Working days in (a, b]; negative, counting (b, a], when b is before a.

    :raises WorkdayCalendarMissing: a day in between is in a year the calendar lacks (strict only).
    """
    if b < a:
        return -working_days_between(b, a, strict)
    count, day = 0, a
    while day < b:
        day += ONE_DAY
        count += is_working_day(day, strict)
    return count


def last_working_day(on_or_before: date, strict: bool = True) -> date:
    """`on_or_before` if people work that day, else the working day before it."""
    day = on_or_before
    while not is_working_day(day, strict):
        day -= ONE_DAY
    return day


def add_workdays(moment: str, n: int) -> str:
    """Script helper: `add_workdays("2023-09-27", 3)` → "2023-10-08" (YYYY-MM-DD).

    Accepts a date or an ISO datetime (read in Asia/Shanghai), so it combines with `now_iso()`
    and the campaign's phase variables; pass the result to `end_of_day()` for a timer.
    """
    text = str(moment).strip()
    if len(text) == 10:
        day = date.fromisoformat(text)
    else:
        parsed = datetime.fromisoformat(text)
        day = (parsed.astimezone(SHANGHAI) if parsed.tzinfo else parsed).date()
    return add_working_days(day, int(n)).isoformat()


# --- deadlines entered as a number of working days (forms) -----------------------------------------

#: Longest deadline that may be given in working days (about a year).
MAX_FORM_WORKING_DAYS = 250


def working_day_fields(schema: dict[str, Any]) -> dict[str, str]:
    """A form's working-day companions: {companion field: date field it sets}.

    A form offers "N working days" for a date field by declaring an integer property with
    `"x-workdays-for": "<date field>"` (e.g. `deadline_workdays` for `deadline`).
    """
    return {name: prop["x-workdays-for"] for name, prop in schema.get("properties", {}).items()
            if isinstance(prop, dict) and prop.get("x-workdays-for")}


def _count(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def resolve_working_day_fields(schema: dict[str, Any], data: dict[str, Any], today: date) -> dict[str, Any]:
    """Turn "N working days" entries into the date they mean, counted from `today` (Asia/Shanghai).

    Returns a copy of `data` in which each date field whose companion holds a count in
    1..MAX_FORM_WORKING_DAYS is set to that working day (the count stays, so the submission
    records both). Anything else is left for the form's schema to refuse.

    :raises ValidationFailed: a date and a different count were both given, or the count reaches
        a year the holiday calendar lacks.
    """
    fields = working_day_fields(schema)
    if not fields or not isinstance(data, dict):
        return data
    resolved = dict(data)
    errors: dict[str, str] = {}
    for companion, target in fields.items():
        n = _count(resolved.get(companion))
        if n is None or not 1 <= n <= MAX_FORM_WORKING_DAYS:
            continue
        try:
            day = add_working_days(today, n).isoformat()
        except WorkdayCalendarMissing:
            errors[companion] = "超出节假日日历覆盖的年份，请直接填写日期"
            continue
        given = resolved.get(target)
        if given not in (None, "") and str(given).strip() != day:
            errors[companion] = f"与所填日期不一致（{n}个工作日后为 {day}），请只填写其中一项"
            continue
        resolved[target] = day
        resolved[companion] = n
    if errors:
        raise ValidationFailed("表单校验未通过：" + "；".join(f"{k} {v}" for k, v in errors.items()), errors)
    return resolved


def working_day_deadline(ctx: Context, n: Any) -> dict[str, Any]:
    """The date N working days after today (Asia/Shanghai, injected clock), for a form's preview.

    :raises ValidationFailed: N is not a whole number in 1..MAX_FORM_WORKING_DAYS, or the walk
        reaches a year the holiday calendar lacks.
    """
    count = _count(n)
    if count is None or not 1 <= count <= MAX_FORM_WORKING_DAYS:
        raise ValidationFailed("bad working-day count", {"n": f"应为 1–{MAX_FORM_WORKING_DAYS} 的整数"})
    today = ctx.now.astimezone(SHANGHAI).date()
    try:
        day = add_working_days(today, count)
    except WorkdayCalendarMissing as exc:
        raise ValidationFailed(str(exc), {"n": "超出节假日日历覆盖的年份"}) from exc
    return {"n": count, "from": today.isoformat(), "date": day.isoformat(), "weekday": day.isoweekday(),
            "calendar_days": (day - today).days}
