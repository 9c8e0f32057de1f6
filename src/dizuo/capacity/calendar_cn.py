"""The mainland-China working calendar (State Council notices), from chinesecalendar's data: no network at run time.

Workloads follow office hours in Asia/Shanghai, so the forecaster needs to know which local dates are
working days. Weekends are days off, except the make-up working days (调休) around the public-holiday
weeks; public holidays are days off even on weekdays. Dates outside the covered years fall back to
plain Monday-Friday, which is right for most days of any year.

A year's notice is published in November for the next year, and an air-gapped site upgrades packages
late: a calendar file (calendar_notices.py) adds the notices chinesecalendar does not ship yet.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import chinese_calendar
import numpy as np
import numpy.typing as npt

# Asia/Shanghai has had no DST since 1991: local time is UTC+8 all year.
UTC_OFFSET_SECONDS = 8 * 3600
SECONDS_PER_DAY = 86400

_EPOCH = dt.date(1970, 1, 1)


def day_number(date: dt.date) -> int:
    """Days since 1970-01-01 (the local day numbers the forecaster counts in)."""
    return (date - _EPOCH).days


def _day_numbers(dates: Iterable[dt.date]) -> npt.NDArray[np.int64]:
    return np.array(sorted(day_number(d) for d in dates), dtype=np.int64)


@dataclass(frozen=True, slots=True)
class WorkingCalendar:
    """Which local days are working days: Monday-Friday, minus public holidays, plus make-up working days."""

    holidays: npt.NDArray[np.int64]  # sorted local day numbers off on a weekday or inside a holiday block
    makeup_days: npt.NDArray[np.int64]  # sorted local day numbers of weekend days made working days (调休上班)
    covered_years: frozenset[int]  # years whose notice is known; other years are plain Monday-Friday

    @classmethod
    def shipped(cls) -> WorkingCalendar:
        """The notices as the installed chinesecalendar ships them."""
        holidays = chinese_calendar.constants.holidays
        return cls(
            holidays=_day_numbers(holidays),
            makeup_days=_day_numbers(chinese_calendar.constants.workdays),
            covered_years=frozenset(range(min(d.year for d in holidays), max(d.year for d in holidays) + 1)),
        )

    def with_notices(
        self, holidays: Iterable[dt.date], makeup_days: Iterable[dt.date], years: Iterable[int]
    ) -> WorkingCalendar:
        """This calendar plus more notices: their days off, their make-up days, and the years they cover."""
        return WorkingCalendar(
            holidays=np.union1d(self.holidays, _day_numbers(holidays)),
            makeup_days=np.union1d(self.makeup_days, _day_numbers(makeup_days)),
            covered_years=self.covered_years | frozenset(years),
        )

    def is_working_day(self, day_numbers: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each local day number is a working day, any shape."""
        days = np.asarray(day_numbers, dtype=np.int64)
        # 1970-01-01 was a Thursday: weekday 0 = Monday.
        weekday = (days + 3) % 7
        working = weekday < 5
        working &= ~np.isin(days, self.holidays)
        working |= np.isin(days, self.makeup_days)
        return working

    def uncovered_years(self, first_timestamp: int, last_timestamp: int) -> list[int]:
        """The years between two unix timestamps (local dates) whose notice this calendar does not know."""
        first, last = (_EPOCH + dt.timedelta(days=int(local_day(t))) for t in (first_timestamp, last_timestamp))
        return [year for year in range(first.year, last.year + 1) if year not in self.covered_years]


# The State Council notices (国务院办公厅关于…部分节假日安排的通知), as chinesecalendar ships them.
SHIPPED = WorkingCalendar.shipped()


def local_day(timestamps: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Local (Asia/Shanghai) day number since 1970-01-01 of unix timestamps, any shape."""
    return np.floor_divide(np.asarray(timestamps, dtype=np.int64) + UTC_OFFSET_SECONDS, SECONDS_PER_DAY)


def is_working_day(day_numbers: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether each local day number is a working day by the shipped calendar, any shape."""
    return SHIPPED.is_working_day(day_numbers)


class CalendarNotCoveredWarning(UserWarning):
    """Days beyond the known notices count as plain Monday-Friday: add a calendar file or upgrade chinesecalendar."""
