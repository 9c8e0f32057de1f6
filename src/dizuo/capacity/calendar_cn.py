"""The mainland-China working calendar (State Council notices), shipped as data: no network at run time.

Workloads follow office hours in Asia/Shanghai, so the forecaster needs to know which local dates are
working days. Weekends are days off, except the make-up working days (调休) around the public-holiday
weeks; public holidays are days off even on weekdays. Dates outside the covered years fall back to
plain Monday-Friday, which is right for most days of any year.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import numpy.typing as npt

# Asia/Shanghai has had no DST since 1991: local time is UTC+8 all year.
UTC_OFFSET_SECONDS = 8 * 3600
SECONDS_PER_DAY = 86400

# Public-holiday days off that fall on a weekday or weekend, as announced by the State Council
# (国务院办公厅关于…部分节假日安排的通知). Ranges are inclusive.
_HOLIDAY_RANGES: tuple[tuple[str, str, str], ...] = (
    ("2023-01-01", "2023-01-02", "元旦"),
    ("2023-01-21", "2023-01-27", "春节"),
    ("2023-04-05", "2023-04-05", "清明节"),
    ("2023-04-29", "2023-05-03", "劳动节"),
    ("2023-06-22", "2023-06-24", "端午节"),
    ("2023-09-29", "2023-10-06", "中秋节、国庆节"),
    ("2023-12-30", "2024-01-01", "元旦"),
    ("2024-02-10", "2024-02-17", "春节"),
    ("2024-04-04", "2024-04-06", "清明节"),
    ("2024-05-01", "2024-05-05", "劳动节"),
    ("2024-06-08", "2024-06-10", "端午节"),
    ("2024-09-15", "2024-09-17", "中秋节"),
    ("2024-10-01", "2024-10-07", "国庆节"),
    ("2025-01-01", "2025-01-01", "元旦"),
    ("2025-01-28", "2025-02-04", "春节"),
    ("2025-04-04", "2025-04-06", "清明节"),
    ("2025-05-01", "2025-05-05", "劳动节"),
    ("2025-05-31", "2025-06-02", "端午节"),
    ("2025-10-01", "2025-10-08", "国庆节、中秋节"),
)

# Weekend days made working days (调休上班) by the same notices.
_MAKEUP_WORKDAYS: tuple[str, ...] = (
    "2023-01-28",
    "2023-01-29",
    "2023-04-23",
    "2023-05-06",
    "2023-06-25",
    "2023-10-07",
    "2023-10-08",
    "2024-02-04",
    "2024-02-18",
    "2024-04-07",
    "2024-04-28",
    "2024-05-11",
    "2024-09-14",
    "2024-09-29",
    "2024-10-12",
    "2025-01-26",
    "2025-02-08",
    "2025-04-27",
    "2025-09-28",
    "2025-10-11",
)

COVERED_YEARS = (2023, 2024, 2025)

_EPOCH = dt.date(1970, 1, 1)


def _day_number(iso: str) -> int:
    return (dt.date.fromisoformat(iso) - _EPOCH).days


def _holiday_days() -> npt.NDArray[np.int64]:
    days: list[int] = []
    for first, last, _name in _HOLIDAY_RANGES:
        days.extend(range(_day_number(first), _day_number(last) + 1))
    return np.array(sorted(days), dtype=np.int64)


HOLIDAY_DAYS = _holiday_days()
MAKEUP_DAYS = np.array(sorted(_day_number(d) for d in _MAKEUP_WORKDAYS), dtype=np.int64)


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
