"""Calendar files: the State Council's holiday notices for years the installed chinesecalendar does not ship.

The notice for a year (国务院办公厅关于<year>年部分节假日安排的通知) comes out in November, a package release
follows, and an air-gapped site installs it later still. Until then the forecaster counts that year as plain
Monday-Friday and warns. A calendar file declares the notice instead (``--calendar``, or ``DIZUO_CALENDAR``;
``monitoring/working-calendar.yaml`` is the worked example)::

    years:
      2026:
        holidays:             # 放假: every day off of each holiday block, weekend days inside it included
          元旦: 2026-01-01..2026-01-03
          春节: 2026-02-15..2026-02-23
        makeup_working_days:  # 调休上班: the weekend days worked instead
          元旦: 2026-01-04
          春节: [2026-02-14, 2026-02-28]

A value is a date, a span ``first..last`` or a list of them; the names are for people. A file adds days to
the shipped calendar and never changes one: a day it contradicts is an error. For a year chinesecalendar ships,
the file may only restate it (a holiday on a day the shipped calendar works, or a make-up working day on one of
its days off, is refused); in any year a shipped make-up day declared a holiday, or a shipped holiday declared a
make-up day, is refused too. So are days outside the notice's year (its New Year block may start in the December
before), make-up days that are not weekend days, spans longer than a holiday block and a year without holidays.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from dizuo.capacity.calendar_cn import SHIPPED, WorkingCalendar, day_number
from dizuo.capacity.config_files import ConfigError, load_model
from dizuo.declaration.loader import Problem, key_path

# The longest holiday block so far is 9 days (Spring Festival 2026); a longer span is a typo, not a notice.
MAX_SPAN_DAYS = 15
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

Span = tuple[dt.date, dt.date]


def _date(text: object) -> dt.date:
    # YAML reads an unquoted 2027-01-01 as a date already; a time of day means something else was meant.
    if isinstance(text, dt.datetime):
        raise ValueError(f"expected a date without a time of day, got {text.isoformat()}")
    if isinstance(text, dt.date):
        return text
    if isinstance(text, str):
        try:
            return dt.date.fromisoformat(text.strip())
        except ValueError:
            pass
    raise ValueError("expected a date (2027-01-01), a span (2027-02-05..2027-02-11) or a list of them")


def _spans(value: object) -> tuple[Span, ...]:
    """A date, a ``first..last`` span, or a list of them -> ((first, last), ...)."""
    items = value if isinstance(value, list) else [value]
    spans = []
    for index, item in enumerate(items):
        first, sep, last = item.partition("..") if isinstance(item, str) else (item, "", item)
        try:
            span = (_date(first), _date(last if sep else first))
        except ValueError as exc:
            if items is value:  # in a list: say which item
                raise ValueError(f"item {index} ({item}): {exc}") from None
            raise
        length = (span[1] - span[0]).days + 1
        if length < 1:
            raise ValueError(f"the span ends before it starts: {span[0]}..{span[1]}")
        if length > MAX_SPAN_DAYS:
            raise ValueError(
                f"a span of {length} days (a holiday block is at most {MAX_SPAN_DAYS}): {span[0]}..{span[1]}"
            )
        spans.append(span)
    return tuple(spans)


DaySpans = Annotated[tuple[Span, ...], BeforeValidator(_spans)]


class YearNotice(BaseModel):
    """One year's notice: its holiday blocks and its make-up working days, by holiday name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Every notice has holidays; a year declared without any would only silence the warning.
    holidays: dict[str, DaySpans] = Field(min_length=1)
    makeup_working_days: dict[str, DaySpans] = Field(default_factory=dict)

    @field_validator("holidays")
    @classmethod
    def _each_holiday_has_days(cls, holidays: dict[str, tuple[Span, ...]]) -> dict[str, tuple[Span, ...]]:
        # `元旦: []` would make a year without a day off that counts as declared (a make-up list may be empty: none).
        if empty := [name for name, spans in holidays.items() if not spans]:
            raise ValueError(f"no day given for {', '.join(empty)}: a holiday is a date, a span or a list of them")
        return holidays


class CalendarFile(BaseModel):
    """A calendar file: notices by year."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    years: dict[Annotated[int, Field(ge=1970, le=2200)], YearNotice]

    @field_validator("years", mode="before")
    @classmethod
    def _each_year_once(cls, years: object) -> object:
        # YAML tells 2027 from '2027' (or 2027.0), and the dict of years would keep only the later notice of the two.
        if isinstance(years, dict):
            first: dict[int, object] = {}
            for key in years:
                year = _year_of(key)
                if year is not None and first.setdefault(year, key) is not key:
                    raise ValueError(f"{year} is given twice, as {first[year]!r} and {key!r}: one notice per year")
        return years


def _year_of(key: object) -> int | None:
    """The year pydantic makes of a key of ``years`` (None: none, which it reports itself)."""
    if isinstance(key, bool):
        return None
    if isinstance(key, int):
        return key
    if isinstance(key, float):
        return int(key) if key.is_integer() else None
    try:
        return int(str(key).strip())
    except ValueError:
        return None


def _days(spans: dict[str, tuple[Span, ...]]) -> Iterator[tuple[str, dt.date]]:
    for name, name_spans in spans.items():
        for first, last in name_spans:
            for offset in range((last - first).days + 1):
                yield name, first + dt.timedelta(days=offset)


def _problems(file: str, notices: CalendarFile, base: WorkingCalendar) -> list[Problem]:
    """What pydantic cannot see: days outside their year, weekday make-up days, contradictions."""
    problems = []
    for year, notice in notices.years.items():
        # The New Year block (and its make-up day) may begin in the December before.
        opens, closes = dt.date(year - 1, 12, 1), dt.date(year, 12, 31)
        off = {day: name for name, day in _days(notice.holidays)}
        for kind, spans in (("holidays", notice.holidays), ("makeup_working_days", notice.makeup_working_days)):
            for name, day in _days(spans):
                where = key_path(("years", year, kind, name))
                if not opens <= day <= closes:
                    problems.append(Problem(file, where, f"'{day}' is not in {year}'s notice ({opens}..{closes})"))
                number = day_number(day)
                # A year the shipped calendar knows is settled: the file may restate it, never change a day of it.
                # (A day of the December before counts only where the shipped calendar knows that year too.)
                settled = year in base.covered_years and day.year in base.covered_years
                shipped = f"the shipped calendar (chinesecalendar), which has {year}'s notice"
                if kind == "holidays":
                    if number in base.makeup_days:
                        problems.append(
                            Problem(file, where, f"'{day}' is a make-up working day in the shipped calendar")
                        )
                    elif settled and base.is_working_day(number):
                        problems.append(Problem(file, where, f"'{day}' is a working day in {shipped}"))
                    continue
                if day.weekday() < 5:
                    problems.append(
                        Problem(
                            file,
                            where,
                            f"'{day}' is a {WEEKDAY_NAMES[day.weekday()]}: make-up working days (调休上班) are "
                            "weekend days",
                        )
                    )
                if day in off:
                    problems.append(Problem(file, where, f"'{day}' is also a holiday ({off[day]})"))
                if number in base.holidays:
                    problems.append(Problem(file, where, f"'{day}' is a holiday in the shipped calendar"))
                elif settled and day.weekday() >= 5 and not base.is_working_day(number):
                    problems.append(Problem(file, where, f"'{day}' is a day off in {shipped}"))
    return problems


def load_calendar(path: Path, base: WorkingCalendar = SHIPPED) -> WorkingCalendar:
    """``base`` plus the notices of the calendar file at ``path``.

    Raises :class:`ConfigError` naming the file, the key path and the bad value, for every problem found.
    """
    notices = load_model(path, CalendarFile)
    if problems := _problems(str(path), notices, base):
        raise ConfigError.of(problems)
    return base.with_notices(
        holidays=(day for notice in notices.years.values() for _, day in _days(notice.holidays)),
        makeup_days=(day for notice in notices.years.values() for _, day in _days(notice.makeup_working_days)),
        years=notices.years,
    )
