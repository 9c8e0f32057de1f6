"""Calendar files: holiday notices for years chinesecalendar does not ship yet (dizuo.capacity.calendar_notices)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from dizuo.capacity.calendar_cn import SHIPPED, CalendarNotCoveredWarning, WorkingCalendar, day_number, local_day
from dizuo.capacity.calendar_notices import load_calendar
from dizuo.capacity.config_files import ConfigError
from dizuo.capacity.forecast import forecast_histories
from dizuo.capacity.types import UsageHistory

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "monitoring" / "working-calendar.yaml"
DIZUO = Path(sys.executable).with_name("dizuo")
GIB = 2.0**30
HOUR = 3600
SLOT = 900
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
# Monday 2026-12-28 10:00 local: a 30-day horizon reaches into 2027, which chinesecalendar 1.11 does not know.
ASOF = int(dt.datetime(2026, 12, 28, 10, tzinfo=SHANGHAI).timestamp())

# A made-up notice for the test, not the State Council's real 2027 one: a seven-day New Year block from
# Thursday 2026-12-31, worked back on Saturday 2027-01-09.
MADE_UP_2027 = """\
years:
  2027:
    holidays:
      元旦: 2026-12-31..2027-01-06
      春节: [2027-02-06..2027-02-12, 2027-02-15]
    makeup_working_days:
      元旦: 2027-01-09
"""


def _day(text: str) -> int:
    return day_number(dt.date.fromisoformat(text))


@pytest.fixture
def made_up_2027(tmp_path: Path) -> Path:
    path = tmp_path / "calendar.yaml"
    path.write_text(MADE_UP_2027, encoding="utf-8")
    return path


def test_the_worked_example_is_the_shipped_2026_notice():
    """monitoring/working-calendar.yaml declares 2026 as chinesecalendar ships it: passing it changes nothing."""
    calendar = load_calendar(EXAMPLE)
    assert np.array_equal(calendar.holidays, SHIPPED.holidays), "the example's 2026 holidays differ from the shipped"
    assert np.array_equal(calendar.makeup_days, SHIPPED.makeup_days), "the example's 2026 make-up days differ"
    assert calendar.covered_years == SHIPPED.covered_years


def test_a_declared_year_counts_its_holidays_and_makeup_days(made_up_2027: Path):
    """Days off on weekdays, a worked Saturday, plain days around them; the shipped calendar is left as it was."""
    calendar = load_calendar(made_up_2027)
    expected = {
        "2026-12-30": True,  # a Wednesday before the block
        "2026-12-31": False,  # Thursday, in the block (the December before the notice's year)
        "2027-01-04": False,  # Monday, in the block
        "2027-01-07": True,  # Thursday after it
        "2027-01-09": True,  # Saturday worked back
        "2027-01-10": False,  # an ordinary Sunday
        "2027-02-15": False,  # a single declared day (Monday)
        "2027-02-16": True,
    }
    for date, working in expected.items():
        assert bool(calendar.is_working_day(_day(date))) is working, f"{date}: working day should be {working}"
    assert 2027 in calendar.covered_years
    assert 2027 not in SHIPPED.covered_years, "loading a file must not change the shipped calendar"
    assert bool(SHIPPED.is_working_day(_day("2027-01-04"))), "the shipped calendar counts 2027 as Monday-Friday"


def _office_hours(calendar: WorkingCalendar, free_at_asof: float) -> tuple[UsageHistory, int]:
    """28 days up to ASOF of 1 GiB/hour 09:00-18:00 on the calendar's working days, `free_at_asof` bytes left
    at ASOF, and the true first full slot."""
    start = ASOF - 28 * 96 * SLOT
    grid = start + SLOT * np.arange(58 * 96, dtype=np.int64)
    hour = ((grid + 8 * HOUR) % 86400) / HOUR
    active = calendar.is_working_day(local_day(grid)) & (hour >= 9) & (hour < 18)
    level: npt.NDArray[np.float64] = 60 * GIB + np.cumsum(active * GIB * SLOT / HOUR)
    seen = grid <= ASOF
    capacity = level[seen][-1] + free_at_asof
    history = UsageHistory("office", grid[seen], level[seen], np.full(int(seen.sum()), capacity))
    full = (level >= capacity) & ~seen
    return history, int(grid[np.argmax(full)])


def test_a_declared_holiday_block_delays_an_office_hours_fill(made_up_2027: Path):
    """Office-hours growth with 40 GiB left fills after the declared block, a week after plain Monday-Friday says."""
    calendar = load_calendar(made_up_2027)
    history, truth = _office_hours(calendar, 40 * GIB)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalendarNotCoveredWarning)
        (declared,) = forecast_histories([history], calendar=calendar)
    with pytest.warns(CalendarNotCoveredWarning, match="2027"):
        (plain,) = forecast_histories([history])
    assert declared.exhaustion_at is not None, "with the notice: predicted never to fill"
    assert plain.exhaustion_at is not None, "without the notice: predicted never to fill"
    assert abs(declared.exhaustion_at - truth) <= 6 * HOUR, (
        f"with the notice: full at {declared.exhaustion_at}, truth {truth} (after the seven days off)"
    )
    assert declared.exhaustion_at - plain.exhaustion_at >= 5 * 86400, (
        "without the notice the block's weekdays count as working days: the fill should come about a week earlier"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "years:\n  2027:\n    holidays:\n      劳动节: [2027-05-01, 2026-05-01]\n",
            "years[2027].holidays.劳动节: '2026-05-01' is not in 2027's notice (2026-12-01..2027-12-31)",
        ),
        (
            "years:\n  2027:\n    holidays:\n      元旦: 2027-01-01\n    makeup_working_days:\n"
            "      春节: 2027-02-10\n",
            "years[2027].makeup_working_days.春节: '2027-02-10' is a Wednesday: make-up working days",
        ),
        (
            "years:\n  2027:\n    holidays:\n      元旦: 2027-01-01..2027-01-03\n    makeup_working_days:\n"
            "      元旦: 2027-01-03\n",
            "years[2027].makeup_working_days.元旦: '2027-01-03' is also a holiday (元旦)",
        ),
        (
            "years:\n  2026:\n    holidays:\n      元旦: 2026-01-04\n",
            "years[2026].holidays.元旦: '2026-01-04' is a make-up working day in the shipped calendar",
        ),
        # 2025 ships with chinesecalendar: a file may restate its notice, not move a working day into a holiday...
        (
            "years:\n  2025:\n    holidays:\n      元旦: 2025-01-02\n",
            "years[2025].holidays.元旦: '2025-01-02' is a working day in the shipped calendar (chinesecalendar), "
            "which has 2025's notice",
        ),
        # ... nor make a plain Saturday of it a working day.
        (
            "years:\n  2025:\n    holidays:\n      元旦: 2025-01-01\n    makeup_working_days:\n"
            "      元旦: 2025-03-01\n",
            "years[2025].makeup_working_days.元旦: '2025-03-01' is a day off in the shipped calendar "
            "(chinesecalendar), which has 2025's notice",
        ),
        (
            "years:\n  2027:\n    holidays:\n      春节: 2027-02-05..2027-03-30\n",
            "years[2027].holidays.春节: a span of 54 days (a holiday block is at most 15)",
        ),
        (
            "years:\n  2027:\n    holidays:\n      国庆节: [2027-10-01, 2027-13-01]\n",
            "years[2027].holidays.国庆节: item 1 (2027-13-01): expected a date (2027-01-01)",
        ),
        ("years:\n  2027:\n    holiday: {}\n", "years[2027].holiday: unknown key"),
        ("years:\n  2027:\n    makeup_working_days: {}\n", "years[2027].holidays: Field required"),
        ("years:\n  twenty: {holidays: {元旦: 2027-01-01}}\n", "years.twenty: key: Input should be a valid integer"),
        ("years:\n  2027:\n    holidays: {}\n", "years[2027].holidays: Mapping should have at least 1 item"),
        # A holiday without a day: the year would count as declared, its warning silenced, with no day off.
        (
            "years:\n  2027:\n    holidays: {元旦: []}\n",
            "years[2027].holidays: no day given for 元旦: a holiday is a date",
        ),
        ("years: [2027]\n", "years: Input should be a mapping"),
        # YAML keeps both keys; as years they are one, and the later notice would silently replace the earlier.
        (
            "years:\n  2027:\n    holidays: {元旦: 2027-01-01}\n  '2027':\n    holidays: {国庆节: 2027-10-01}\n",
            "years: 2027 is given twice, as 2027 and '2027': one notice per year",
        ),
        ("- 2027\n", "the document must be a mapping"),
    ],
)
def test_bad_calendar_file_is_a_located_error(tmp_path: Path, content: str, message: str):
    """Each problem names the file, the key path and the value."""
    path = tmp_path / "calendar.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_calendar(path)
    assert f"{path}: {message}" in str(caught.value), f"expected '{message}' in:\n{caught.value}"


def _usage_csv(tmp_path: Path) -> Path:
    history, _ = _office_hours(SHIPPED, 40 * GIB)
    capacity = int(history.capacity_bytes[-1])
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    lines += [f"office,{t},{int(u)},{capacity}" for t, u in zip(history.timestamps, history.used_bytes, strict=True)]
    path = tmp_path / "usage.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _forecast_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DIZUO), "capacity", "forecast", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_forecast_cli_with_stdout_closed_stops_before_forecasting(tmp_path: Path):
    """`dizuo capacity forecast USAGE.csv >&-`: with nowhere to put the forecasts it says so and exits 1 before
    forecasting (no warning about the horizon's calendar, which only the forecast gives), not after the work."""
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" capacity forecast "$1" >&-', str(DIZUO), str(_usage_csv(tmp_path))],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == "error: cannot write to standard output: standard output is closed\n", done.stderr


def test_forecast_cli_takes_the_calendar_from_the_option_or_the_environment(tmp_path: Path, made_up_2027: Path):
    """--calendar (or DIZUO_CALENDAR) silences the warning for the declared year; a bad file is exit 2, located."""
    csv = _usage_csv(tmp_path)
    plain = _forecast_cli(str(csv))
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr.startswith("warning: the working calendar does not know 2027 yet"), (
        f"a horizon into 2027 without a notice should warn, in words for a person: {plain.stderr}"
    )
    for done in (
        _forecast_cli("--calendar", str(made_up_2027), str(csv)),
        _forecast_cli(str(csv), env={"DIZUO_CALENDAR": str(made_up_2027)}),
    ):
        assert done.returncode == 0, done.stderr
        assert "does not know" not in done.stderr, f"2027 is declared, no warning expected: {done.stderr}"
        assert done.stdout.count("\n") == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "years:\n  2027:\n    holidays:\n      元旦: 2027-01-01\n    makeup_working_days:\n      元旦: 2027-01-05\n"
    )
    done = _forecast_cli("--calendar", str(bad), str(csv))
    assert done.returncode == 2, f"a bad calendar file should exit 2, got {done.returncode}"
    assert f"error: {bad}: years[2027].makeup_working_days.元旦: '2027-01-05' is a Tuesday" in done.stderr, done.stderr
    assert done.stdout == "", "nothing on stdout when the calendar is bad"
    from_environment = _forecast_cli(str(csv), env={"DIZUO_CALENDAR": str(tmp_path / "nope.yaml")})
    assert from_environment.returncode == 2
    assert "nope.yaml: file is missing (the file named by DIZUO_CALENDAR)" in from_environment.stderr, (
        "a file the user did not type must be traced to the variable that named it"
    )
