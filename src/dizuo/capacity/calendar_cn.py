"""The mainland-China working calendar (State Council notices), from chinesecalendar's data: no network at run time.

Workloads follow office hours in Asia/Shanghai, so the forecaster needs to know which local dates are
working days. Weekends are days off, except the make-up working days (调休) around the public-holiday
weeks; public holidays are days off even on weekdays. Dates outside the covered years fall back to
plain Monday-Friday, which is right for most days of any year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import chinese_calendar
import numpy as np
import numpy.typing as npt

# Asia/Shanghai has had no DST since 1991: local time is UTC+8 all year.
UTC_OFFSET_SECONDS = 8 * 3600
SECONDS_PER_DAY = 86400

_EPOCH = dt.date(1970, 1, 1)


def _day_numbers(dates: Iterable[dt.date]) -> npt.NDArray[np.int64]:
    return np.array(sorted((d - _EPOCH).days for d in dates), dtype=np.int64)


# The State Council notices (国务院办公厅关于…部分节假日安排的通知), as chinesecalendar ships them:
# public-holiday days off (weekdays or weekends) and weekend days made working days (调休上班).
HOLIDAY_DAYS = _day_numbers(chinese_calendar.constants.holidays)
MAKEUP_DAYS = _day_numbers(chinese_calendar.constants.workdays)
COVERED_YEARS = range(
    min(d.year for d in chinese_calendar.constants.holidays),
    max(d.year for d in chinese_calendar.constants.holidays) + 1,
)


def local_day(timestamps: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """Local (Asia/Shanghai) day number since 1970-01-01 of unix timestamps, any shape."""
    return np.floor_divide(np.asarray(timestamps, dtype=np.int64) + UTC_OFFSET_SECONDS, SECONDS_PER_DAY)


def is_working_day(day_numbers: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether each local day number is a working day in mainland China, any shape."""
    days = np.asarray(day_numbers, dtype=np.int64)
    # 1970-01-01 was a Thursday: weekday 0 = Monday.
    weekday = (days + 3) % 7
    working = weekday < 5
    working &= ~np.isin(days, HOLIDAY_DAYS)
    working |= np.isin(days, MAKEUP_DAYS)
    return working


class CalendarNotCoveredWarning(UserWarning):
    """Days beyond the published calendar are counted as plain Monday-Friday: upgrade chinesecalendar."""


def uncovered_years(first_timestamp: int, last_timestamp: int) -> list[int]:
    """The years between two unix timestamps (local dates) that the shipped calendar does not know yet."""
    first, last = (_EPOCH + dt.timedelta(days=int(local_day(t))) for t in (first_timestamp, last_timestamp))
    return [year for year in range(first.year, last.year + 1) if year not in COVERED_YEARS]
