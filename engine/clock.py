"""The one source of "now" for the engine, SpiffWorkflow's timers and script helpers.

SpiffWorkflow reads the time only through the name ``datetime`` in its timer module
(SPIFF_NOTES §2). ``install_spiff_clock`` replaces that name once with a ``datetime``
subclass whose ``now()`` asks the clock of the operation running in this thread (a
context variable), so several engines with different clocks can share one process.
"""
from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from typing import Protocol
from zoneinfo import ZoneInfo

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer

SHANGHAI: tzinfo = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    def now(self) -> datetime:
        """Aware UTC datetime."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FixedClock:
    """A clock that only moves when told to: tests, `--now`, and the demo."""

    def __init__(self, start: datetime) -> None:
        self._now = as_utc(start)

    def now(self) -> datetime:
        return self._now

    def set(self, moment: datetime | str) -> None:
        self._now = as_utc(parse_moment(moment) if isinstance(moment, str) else moment)

    def advance(self, **delta: float) -> datetime:
        self._now = self._now + timedelta(**delta)
        return self._now


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; naive times are Asia/Shanghai wall-clock times."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)
    return moment.astimezone(timezone.utc)


def parse_moment(text: str) -> datetime:
    """ISO date or datetime; a date means the start of that day in Asia/Shanghai."""
    text = text.strip()
    if len(text) == 10:
        return datetime.combine(date.fromisoformat(text), time(0), SHANGHAI).astimezone(timezone.utc)
    return as_utc(datetime.fromisoformat(text))


def local_day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), SHANGHAI)


def local_today(clock: Clock) -> date:
    return clock.now().astimezone(SHANGHAI).date()


_active: contextvars.ContextVar[Clock] = contextvars.ContextVar("chengxin_clock", default=SystemClock())


class _ClockedDatetime(datetime):
    """datetime whose now() is the active engine clock; everything else is inherited."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        current = _active.get().now()
        return current.astimezone(tz) if tz is not None else current.astimezone(SHANGHAI).replace(tzinfo=None)


def install_spiff_clock() -> None:
    spiff_timer.datetime = _ClockedDatetime  # type: ignore[attr-defined,misc]


@contextlib.contextmanager
def clock_active(clock: Clock) -> Iterator[None]:
    """Make `clock` the time SpiffWorkflow sees for the duration of one engine operation."""
    token = _active.set(clock)
    try:
        yield
    finally:
        _active.reset(token)
