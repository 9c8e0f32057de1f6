"""Forecaster behaviour on synthetic series with known answers (dizuo.capacity.forecast)."""

from __future__ import annotations

import datetime as dt
import warnings
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pytest

from dizuo.capacity import forecast as forecast_module
from dizuo.capacity.calendar_cn import CalendarNotCoveredWarning, is_working_day, local_day
from dizuo.capacity.forecast import forecast_histories
from dizuo.capacity.forecast_imports import passage_quantiles
from dizuo.capacity.forecast_recent import HOUR_SLOTS, recent_change
from dizuo.capacity.forecast_schedule import PERIOD_SLOTS, weekly_cleanups
from dizuo.capacity.forecast_select import select_growth
from dizuo.capacity.forecast_trend import local_trend
from dizuo.capacity.types import Forecast, UsageHistory

GIB = 2.0**30
HOUR = 3600
DAY = 86400
SLOT = 900
SHANGHAI = dt.timezone(dt.timedelta(hours=8))
Times = npt.NDArray[np.int64]
Usage = Callable[[Times], npt.NDArray[np.float64]]


def _unix(*args: int) -> int:
    """Unix seconds of a local Asia/Shanghai date-time."""
    return int(dt.datetime(*args, tzinfo=SHANGHAI).timestamp())


# Monday 2024-03-11 10:00 local: four weeks of history without a public holiday.
PLAIN_ASOF = _unix(2024, 3, 11, 10)


def _history(name: str, usage: Usage, capacity: float, asof: int = PLAIN_ASOF, days: int = 28) -> UsageHistory:
    """28 days of 15-minute samples of `usage(t)` ending at `asof`."""
    ts = asof - SLOT * np.arange(days * 96)[::-1].astype(np.int64)
    used = usage(ts)
    return UsageHistory(name, ts, used, np.full(len(ts), capacity))


def _first_full(usage: Usage, capacity: float, asof: int) -> int | None:
    """Truth as in FORMAT.md: first 15-minute grid time in (asof, asof + 30 d] with used >= capacity."""
    ts = asof + SLOT * np.arange(1, 30 * 96 + 1).astype(np.int64)
    full = usage(ts) >= capacity
    return int(ts[np.argmax(full)]) if full.any() else None


def _forecast_and_truth(name: str, usage: Usage, capacity: float, asof: int) -> tuple[Forecast, float]:
    """The forecast of 28 days of `usage` up to `asof`, and the true hours until it fills (it must fill)."""
    truth = _first_full(usage, capacity, asof)
    assert truth is not None, f"{name}: the scenario never fills"
    (fc,) = forecast_histories([_history(name, usage, capacity, asof=asof)])
    return fc, (truth - asof) / HOUR


def _hours_until(fc: Forecast) -> float:
    assert fc.exhaustion_at is not None, f"{fc.series}: predicted never to fill, expected to fill"
    return (fc.exhaustion_at - fc.asof) / HOUR


def _local_hour(ts: Times) -> npt.NDArray[np.float64]:
    return ((ts + 8 * HOUR) % DAY) / HOUR


def _office_growth(per_hour: float) -> Usage:
    """Growth only 09:00-18:00 local on mainland-China working days (make-up days included)."""

    origin = _unix(2024, 6, 1)  # fixed, so that every call sees the same level at the same time

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        grid = np.arange(origin, ts.max() + SLOT, SLOT, dtype=np.int64)
        hour = _local_hour(grid)
        active = is_working_day(local_day(grid)) & (hour >= 9) & (hour < 18)
        level = 100 * GIB + np.cumsum(active * per_hour * SLOT / HOUR)
        return level[np.searchsorted(grid, ts)]

    return usage


def test_steady_growth_fills_at_the_extrapolated_time():
    """A volume growing 1 GiB/day with 5 GiB free is predicted full 5 days on, inside its p10-p90 band."""
    usage: Usage = lambda t: 50 * GIB + GIB * (t - PLAIN_ASOF) / DAY  # noqa: E731
    (fc,) = forecast_histories([_history("steady", usage, 55 * GIB)])
    assert abs(_hours_until(fc) - 120) <= 2, f"steady: predicted full in {_hours_until(fc):.1f} h, expected 120 h"
    assert fc.p10 is not None, "steady: p10 must be given when a fill is predicted"
    assert fc.p10 <= fc.exhaustion_at, "steady: p10 after the point forecast"
    assert fc.p90 is None or fc.p90 >= fc.exhaustion_at, "steady: p90 before the point forecast"


def test_daily_log_rotation_never_fills():
    """Usage that climbs 20 % of capacity each day and is rotated back at midnight is never predicted full."""

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        return 40 * GIB + 20 * GIB * _local_hour(ts) / 24

    (fc,) = forecast_histories([_history("rotated", usage, 100 * GIB)])
    assert fc.exhaustion_at is None, f"rotated: predicted full at {fc.exhaustion_at}, a rotated log never fills"
    assert fc.p10 is None, "rotated: even the early bound says never"


def test_nightly_backup_that_overflows_counts_as_full():
    """A 01:00-03:00 backup on a slowly growing volume fills it at night, days before the base level would."""

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        hour = _local_hour(ts)
        base = 80 * GIB + 1 * GIB * (ts - PLAIN_ASOF) / DAY
        return base + np.where((hour >= 1) & (hour < 3), 15 * GIB, 0.0)

    truth = _first_full(usage, 100 * GIB, PLAIN_ASOF)
    assert truth is not None
    (fc,) = forecast_histories([_history("backup", usage, 100 * GIB)])
    assert fc.exhaustion_at is not None, "backup: the nightly peak overflows within 6 days, predicted never"
    assert abs(fc.exhaustion_at - truth) <= 3 * HOUR, (
        f"backup: predicted full at {fc.exhaustion_at}, truth {truth} (the night the backup overflows)"
    )
    assert 1 <= _local_hour(np.array([fc.exhaustion_at]))[0] < 3, "backup: fill must happen during the backup"


def test_capacity_increase_mid_history_uses_the_new_capacity():
    """A volume enlarged from 60 to 200 GiB two weeks ago is judged against 200 GiB, not the old size."""
    usage: Usage = lambda t: 80 * GIB + GIB * (t - PLAIN_ASOF) / DAY  # noqa: E731
    history = _history("enlarged", usage, 200 * GIB)
    capacity = np.where(history.timestamps < PLAIN_ASOF - 14 * DAY, 60 * GIB, 200 * GIB)
    enlarged = UsageHistory("enlarged", history.timestamps, history.used_bytes, capacity.astype(np.float64))
    (fc,) = forecast_histories([enlarged])
    assert fc.capacity_bytes == 200 * GIB, f"enlarged: forecast capacity {fc.capacity_bytes}, expected 200 GiB"
    assert fc.exhaustion_at is None, "enlarged: 120 GiB free at 1 GiB/day does not fill within 30 days"


def test_missing_samples_do_not_move_the_forecast():
    """A day-long exporter outage and 10 % lost scrapes change the predicted fill time by under 2 hours."""
    usage: Usage = lambda t: 50 * GIB + GIB * (t - PLAIN_ASOF) / DAY  # noqa: E731
    full = _history("gappy", usage, 60 * GIB)
    rng = np.random.default_rng(4)
    keep = rng.random(len(full.timestamps)) > 0.1
    keep &= ~((full.timestamps > PLAIN_ASOF - 9 * DAY) & (full.timestamps < PLAIN_ASOF - 8 * DAY))
    keep[-1] = True  # the last sample is always there (FORMAT.md)
    gappy = UsageHistory("gappy", full.timestamps[keep], full.used_bytes[keep], full.capacity_bytes[keep])
    complete_fc, gappy_fc = forecast_histories([full, gappy])
    drift = abs(_hours_until(gappy_fc) - _hours_until(complete_fc))
    assert drift <= 2, f"gappy: missing samples moved the forecast by {drift:.1f} h"


def test_holiday_week_is_not_a_slowdown():
    """Office-hours growth seen through the 2024 National Day week fills when the working calendar says.

    asof is Saturday 2024-10-12, a make-up working day (调休): growth goes on today, the holiday week
    in the history is days off, not a lower growth rate.
    """
    usage = _office_growth(per_hour=0.5 * GIB)
    asof = _unix(2024, 10, 12, 10)
    capacity = float(usage(np.array([asof]))[0] + 20 * GIB)
    truth = _first_full(usage, capacity, asof)
    assert truth is not None
    (fc,) = forecast_histories([_history("office", usage, capacity, asof=asof)])
    assert fc.exhaustion_at is not None, "office: predicted never to fill"
    error_h = abs(fc.exhaustion_at - truth) / HOUR
    assert error_h <= 2, f"office: predicted full at {fc.exhaustion_at}, truth {truth} ({error_h:.1f} h off)"


def test_repeated_threshold_cleanups_mean_no_fill():
    """A volume cleaned back to 60 % whenever it reaches 90 % is not predicted to fill."""

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        cycle = 3.3 * DAY  # 30 % of 100 GiB at ~9 GiB/day
        return 60 * GIB + 30 * GIB * (((ts - PLAIN_ASOF) / cycle) % 1.0)

    (fc,) = forecast_histories([_history("cleaned", usage, 100 * GIB)])
    assert fc.exhaustion_at is None, f"cleaned: predicted full at {fc.exhaustion_at}; cleanups keep it under 90 %"


def test_cleanups_from_a_rising_level_hold_only_until_it_reaches_capacity():
    """A retention job at 02:00 frees the day's 5 GiB, but what it keeps grows 0.1 GiB/day: the level it cleans
    from (98.5 GiB at asof) reaches 100 GiB in ~15 days, and the volume fills then, not never."""

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        since_cleanup = ((ts + 8 * HOUR - 2 * HOUR) % DAY) / DAY  # 0 just after 02:00 local, ~1 just before
        return 93.5 * GIB + 0.1 * GIB * (ts - PLAIN_ASOF) / DAY + 5 * GIB * since_cleanup

    truth = _first_full(usage, 100 * GIB, PLAIN_ASOF)
    assert truth is not None
    (fc,) = forecast_histories([_history("rising-cleanups", usage, 100 * GIB)])
    truth_h = (truth - PLAIN_ASOF) / HOUR
    assert abs(_hours_until(fc) - truth_h) <= 24, (
        f"rising-cleanups: predicted full in {_hours_until(fc):.0f} h, truth {truth_h:.0f} h"
    )


# A Friday, 01:00 local: the weekly cleanups below run at that hour.
WEEKLY_CLEANUP = _unix(2024, 3, 8, 1)


def _weekly_cleanup(growth_gib_per_day: float, freed_gib: float, level_gib: float) -> Usage:
    """24/7 growth at `level_gib` GiB at PLAIN_ASOF, and a job freeing `freed_gib` GiB every Friday at 01:00."""

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        week = 7 * DAY
        runs_since_asof = np.floor((ts - WEEKLY_CLEANUP) / week) - (PLAIN_ASOF - WEEKLY_CLEANUP) // week
        return GIB * (level_gib + growth_gib_per_day * (ts - PLAIN_ASOF) / DAY - freed_gib * runs_since_asof)

    return usage


@pytest.mark.parametrize(
    ("growth", "freed", "level"),
    [
        (2.0, 14.0, 93.0),  # full on Thursday night, before the next cleanup (84 h)
        (2.8, 10.0, 85.0),  # the next cleanup frees 10 GiB first: full the Wednesday after (214.5 h)
        (2.0, 12.0, 88.0),  # each cleanup frees most of a week's growth: full in 24 days
    ],
)
def test_a_weekly_cleanup_at_a_fixed_hour_is_growth_between_cleanups_and_cleanups_due(
    growth: float, freed: float, level: float
):
    """A volume cleaned every Friday at 01:00 grows at its rate between cleanups and is freed again by each one due
    (read as steps and as shrinking days off, the forecast was 72 h late, 64 h and 433 h early)."""
    fc, truth_h = _forecast_and_truth("weekly", _weekly_cleanup(growth, freed, level), 100 * GIB, PLAIN_ASOF)
    assert abs(_hours_until(fc) - truth_h) <= 2, (
        f"weekly: predicted full in {_hours_until(fc):.2f} h, truth {truth_h:.2f} h"
    )


@pytest.mark.parametrize(
    ("growth", "level"),
    [
        (3.0, 92.0),  # full on Wednesday night (64 h), before the next cleanup
        (2.0, 94.0),  # full on Thursday morning (72 h)
    ],
)
def test_a_weekly_cleanup_whose_last_run_freed_little_is_still_a_schedule(growth: float, level: float):
    """A Friday 01:00 cleanup that freed 12 GiB three weeks running and 0.5 GiB last Friday (under the 3 % of a
    fall) still came at its hour: the growth is read between cleanups, not from falls taken as steps and as what
    the days off do (the forecast was 10 h and 19 h late; public p0082, 14 h late, is such a volume)."""
    last_run = _unix(2024, 3, 8, 1)

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        runs = np.floor((last_run - ts) / (7 * DAY)) + 1  # runs from ts up to the light one; <= 0 after it
        freed = np.where(runs >= 1, 0.5 + 12.0 * (runs - 1), 12.0 * runs)
        return GIB * (level + growth * (ts - PLAIN_ASOF) / DAY + freed)

    fc, truth_h = _forecast_and_truth("light-run", usage, 100 * GIB, PLAIN_ASOF)
    assert abs(_hours_until(fc) - truth_h) <= 2, (
        f"light-run: predicted full in {_hours_until(fc):.2f} h, truth {truth_h:.2f} h"
    )


def test_a_weekly_cleanup_that_frees_the_week_s_growth_means_no_fill():
    """A volume at 91.5 % whose Friday cleanup frees what it wrote that week is not predicted to fill (it was, in
    281 h, when the cleanups were not expected again)."""
    (fc,) = forecast_histories([_history("weekly-steady", _weekly_cleanup(1.0, 7.0, 91.5), 100 * GIB)])
    assert fc.exhaustion_at is None, f"weekly-steady: predicted full at {fc.exhaustion_at}; each Friday frees 7 GiB"


def test_daily_falls_are_no_weekly_schedule():
    """A daily log rotation has a fall every seventh day too; it is not a weekly cleanup, and nothing is added back."""

    def rotation(ts: Times) -> npt.NDArray[np.float64]:
        return GIB * (60 + 5 * (((ts + 8 * HOUR) % DAY) / DAY))

    history = _history("rotated", rotation, 100 * GIB)
    used = np.asarray(history.used_bytes)[None, :]
    found = weekly_cleanups(used, np.array([100 * GIB]), np.array([used.shape[1] - 1]), 0.03)
    assert not found.scheduled.any(), "rotated: a daily rotation was read as a weekly cleanup"
    assert found.used is used, "rotated: samples changed although no weekly cleanup was found"


def test_a_weekly_backup_freed_hours_later_is_no_cleanup_schedule():
    """A full backup of 10 GiB written every Sunday at 01:00 and freed at 05:00 falls at the same hour each week, but
    it leaves the volume where it was (plus the day's growth): no schedule, nothing added back."""

    def weekly_backup(ts: Times) -> npt.NDArray[np.float64]:
        since_sunday = (ts - _unix(2024, 3, 10)) % (7 * DAY)  # from Sunday 00:00 local
        backup = (since_sunday >= HOUR) & (since_sunday < 5 * HOUR)
        return GIB * (60 + 0.5 * (ts - PLAIN_ASOF) / DAY + np.where(backup, 10.0, 0.0))

    history = _history("weekly-backup", weekly_backup, 100 * GIB)
    used = np.asarray(history.used_bytes)[None, :]
    found = weekly_cleanups(used, np.array([100 * GIB]), np.array([used.shape[1] - 1]), 0.03)
    assert not found.scheduled.any(), "weekly-backup: a backup freed hours later was read as a weekly cleanup"


def test_weekly_falls_give_the_next_cleanup_and_its_size():
    """Four falls a week apart at the same slot: the next is due a week after the last, and frees as much."""
    columns = 28 * 96
    used = np.linspace(50.0, 90.0, columns)[None, :] * GIB
    falls = [columns - 1 - 30 - k * PERIOD_SLOTS for k in range(4)]  # the last 30 slots before the last sample
    for column in falls:
        used[0, column:] -= 6 * GIB
    found = weekly_cleanups(used, np.array([100 * GIB]), np.array([columns - 1]), 0.03)
    assert found.scheduled[0], "weekly: four falls a week apart were not read as a schedule"
    assert found.next_step[0] == PERIOD_SLOTS - 30, f"weekly: next cleanup due in {found.next_step[0]} slots"
    # A fall is what the samples show: the 6 GiB freed less the slot's growth.
    seen = 6 * GIB - 40 * GIB / (columns - 1)
    assert found.size[0] == pytest.approx(seen), f"weekly: next cleanup frees {found.size[0] / GIB} GiB"
    assert found.added[0] == pytest.approx(4 * seen), f"weekly: {found.added[0] / GIB} GiB added back, not 4 falls"
    assert found.used[0, -1] == pytest.approx(used[0, -1] + 4 * seen), "weekly: the falls were not added back"


def test_a_light_run_at_the_schedule_s_slot_ends_the_chain_at_its_size():
    """Three 6 GiB falls a week apart, then a run freeing 0.5 GiB at the same slot: the schedule goes on from that
    run, which frees as little next time, and is added back with the falls."""
    columns = 28 * 96
    used = np.linspace(50.0, 90.0, columns)[None, :] * GIB
    light = columns - 1 - 30
    for column in [light - k * PERIOD_SLOTS for k in range(1, 4)]:
        used[0, column:] -= 6 * GIB
    used[0, light:] -= 0.5 * GIB
    found = weekly_cleanups(used, np.array([100 * GIB]), np.array([columns - 1]), 0.03)
    assert found.scheduled[0], "light: a schedule whose last run freed 0.5 GiB was not read as one"
    assert found.next_step[0] == PERIOD_SLOTS - 30, f"light: next cleanup due in {found.next_step[0]} slots"
    slot_growth = 40 * GIB / (columns - 1)
    assert found.size[0] == pytest.approx(0.5 * GIB - slot_growth), f"light: next frees {found.size[0] / GIB} GiB"
    assert found.used[0, -1] == pytest.approx(used[0, -1] + 3 * (6 * GIB - slot_growth) + 0.5 * GIB - slot_growth)


def test_a_day_running_at_twice_its_usual_pace_fills_today():
    """Office-hours growth of 1 GiB an hour, 2 GiB on busy days (every Tuesday so far, so no record-breaking surge),
    busy today: 6 GiB free at 14:00 fill at 17:00 today, not tomorrow as the typical rest of the day (4 GiB) has it."""
    asof = _unix(2024, 3, 13, 14)  # a Wednesday
    busy_day = _unix(2024, 3, 13, 9)

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        grid = np.arange(asof - 40 * DAY, ts.max() + SLOT, SLOT, dtype=np.int64)
        hour = _local_hour(grid)
        active = is_working_day(local_day(grid)) & (hour >= 9) & (hour < 18)
        tuesday = ((grid + 8 * HOUR) // DAY + 3) % 7 == 1
        busy = ((grid >= busy_day) & (grid < busy_day + 9 * HOUR)) | (tuesday & (grid < busy_day))
        level = np.cumsum(active * np.where(busy, 2.0, 1.0) * GIB * SLOT / HOUR)
        return 50 * GIB + level[np.searchsorted(grid, ts)]

    capacity = float(usage(np.array([asof]))[0]) + 6 * GIB
    fc, truth_h = _forecast_and_truth("busy", usage, capacity, asof)
    assert truth_h == 3, f"busy: the scenario fills in {truth_h} h, not 3 h"
    assert abs(_hours_until(fc) - truth_h) <= 1, f"busy: predicted full in {_hours_until(fc):.2f} h, truth 3 h"


def test_falls_from_a_level_the_volume_has_since_outgrown_are_no_ceiling():
    """Two early falls from ~80 % (backups freed in the first week) do not keep a volume at 97 % from filling."""

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        days_ago = (PLAIN_ASOF - ts) / DAY
        base = 97 * GIB - 0.7 * GIB * days_ago
        spike = ((days_ago > 24) & (days_ago < 24.2)) | ((days_ago > 22) & (days_ago < 22.2))
        return base + np.where(spike, 8 * GIB, 0.0)

    (fc,) = forecast_histories([_history("outgrown", usage, 100 * GIB)])
    assert abs(_hours_until(fc) - 3 / 0.7 * 24) <= 12, (
        f"outgrown: predicted full in {_hours_until(fc):.0f} h, expected ~103 h (3 GiB free at 0.7 GiB/day)"
    )


def test_one_off_bulk_import_is_a_level_not_a_rate():
    """A 20 GiB import ten days ago raises the level but not the 1 GiB/day growth rate."""
    start = PLAIN_ASOF - 10 * DAY
    usage: Usage = lambda t: 50 * GIB + GIB * (t - PLAIN_ASOF) / DAY + np.where(t >= start, 20 * GIB, 0.0)  # noqa: E731
    (fc,) = forecast_histories([_history("import", usage, 80 * GIB)])
    assert abs(_hours_until(fc) - 240) <= 6, f"import: predicted full in {_hours_until(fc):.1f} h, expected 240 h"


def test_recent_steep_ramp_is_carried_on():
    """A volume that started filling fast six hours ago is predicted full within hours, not days."""

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        ramp = np.clip(ts - (PLAIN_ASOF - 6 * HOUR), 0, None) / HOUR
        return 60 * GIB + 0.1 * GIB * (ts - PLAIN_ASOF) / DAY + 3 * GIB * ramp

    (fc,) = forecast_histories([_history("ramp", usage, 90 * GIB)])
    assert _hours_until(fc) <= 6, f"ramp: predicted full in {_hours_until(fc):.1f} h; at 3 GiB/h it fills in 4 h"


def test_full_volume_is_full_now():
    """A volume at capacity at its last sample is full as of that sample."""
    usage: Usage = lambda t: np.full(t.shape, 100 * GIB)  # noqa: E731
    (fc,) = forecast_histories([_history("full", usage, 100 * GIB)])
    assert fc.exhaustion_at == fc.asof, f"full: exhaustion_at {fc.exhaustion_at}, expected asof {fc.asof}"


@pytest.mark.parametrize("minutes_late", [5, 8, 10, 14])
def test_a_last_sample_taken_late_in_its_quarter_hour_is_forecast_from(minutes_late: int):
    """Scrapes minutes past the quarter hour snap to their nearest slot; the last one is used like the others: an
    import of 30 GiB seen only in it (6 GiB left at 0.5 GiB/day) fills in ~12 days, not "never"."""

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        return 50 * GIB + 0.5 * GIB * (ts - ts[0]) / DAY + np.where(ts == ts[-1], 30 * GIB, 0.0)

    on_time, late = (
        forecast_histories([_history(f"late-{m}", usage, 100 * GIB, asof=PLAIN_ASOF + m * 60)])[0]
        for m in (0, minutes_late)
    )
    assert abs(_hours_until(late) - _hours_until(on_time)) <= 2, (
        f"{minutes_late} min late: full in {_hours_until(late):.1f} h, on time {_hours_until(on_time):.1f} h"
    )


def test_one_forecast_per_history_in_order():
    """forecast_histories returns one forecast per input, same order, with each series' own asof."""
    flat: Usage = lambda t: np.full(t.shape, 10 * GIB)  # noqa: E731
    histories = [_history(f"s{i}", flat, 100 * GIB, asof=PLAIN_ASOF - i * 7 * SLOT) for i in range(5)]
    forecasts = forecast_histories(histories)
    assert [f.series for f in forecasts] == [h.series for h in histories]
    assert [f.asof for f in forecasts] == [int(h.timestamps[-1]) for h in histories]
    assert forecast_histories([]) == []


def test_horizon_bounds_the_forecast():
    """A fill 20 days ahead is reported with a 30-day horizon and is None with a 10-day one."""
    usage: Usage = lambda t: 50 * GIB + GIB * (t - PLAIN_ASOF) / DAY  # noqa: E731
    history = _history("slow", usage, 70 * GIB)
    (long,) = forecast_histories([history])
    (short,) = forecast_histories([history], horizon_seconds=10 * DAY)
    assert long.exhaustion_at is not None, "slow: 20 days to full is within the 30-day horizon"
    assert short.exhaustion_at is None, "slow: 20 days to full is beyond a 10-day horizon"


@pytest.mark.parametrize(("growth_gib", "horizon_days"), [(0.5, 7), (0.3, 14), (0.3, 7)])
def test_a_shorter_horizon_cuts_the_forecast_without_changing_it(growth_gib: float, horizon_days: int):
    """Three 5 GiB imports in four weeks on 8 GiB of headroom: the fill the 30-day forecast puts within the shorter
    horizon is the same there (a path filling beyond the horizon counted as no growth, and the fill was lost)."""
    origin = PLAIN_ASOF + HOUR

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        imported = sum(np.where(ts >= origin - d * DAY, 5 * GIB, 0.0) for d in (22, 15, 8))
        return 20 * GIB + growth_gib * GIB * (ts - PLAIN_ASOF) / DAY + imported

    history = _history("imports", usage, float(usage(np.array([PLAIN_ASOF]))[0]) + 8 * GIB)
    (standard,) = forecast_histories([history])
    (short,) = forecast_histories([history], horizon_seconds=horizon_days * DAY)
    assert _hours_until(standard) <= horizon_days * 24, "the scenario must fill within the shorter horizon"
    assert (short.exhaustion_at, short.p10) == (standard.exhaustion_at, standard.p10), (
        f"{horizon_days}-day horizon: full in {_hours_until(short) if short.exhaustion_at else None} h, "
        f"30 days: {_hours_until(standard):.0f} h"
    )


@pytest.mark.parametrize(
    ("date", "working"),
    [
        ("2024-10-01", False),  # 国庆节, a Tuesday
        ("2024-09-29", True),  # Sunday made a working day
        ("2024-10-12", True),  # Saturday made a working day
        ("2024-10-13", False),  # an ordinary Sunday
        ("2025-01-26", True),  # Sunday before 春节 made a working day
        ("2025-01-31", False),  # 春节, a Friday
        ("2025-06-02", False),  # 端午节, a Monday
        ("2025-06-03", True),  # an ordinary Tuesday
        ("2026-01-04", True),  # Sunday after 元旦 made a working day
        ("2026-02-14", True),  # Saturday before 春节 made a working day
        ("2026-02-23", False),  # 春节, a Monday
        ("2026-09-25", False),  # 中秋节, a Friday
        ("2026-10-10", True),  # Saturday after 国庆节 made a working day
    ],
)
def test_working_calendar(date: str, working: bool):
    """The calendar knows holidays and make-up working days (调休), up to the latest published year (2026)."""
    day = (dt.date.fromisoformat(date) - dt.date(1970, 1, 1)).days
    assert bool(is_working_day(day)) is working, f"{date}: working day should be {working}"


def test_years_beyond_the_calendar_are_flagged():
    """A forecast reaching a year the calendar does not know warns; one inside the known years does not."""
    usage: Usage = lambda t: 50 * GIB + GIB * (t - PLAIN_ASOF) / DAY  # noqa: E731
    known = _history("known", usage, 55 * GIB)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CalendarNotCoveredWarning)
        forecast_histories([known])
    shift = _unix(2099, 3, 11, 10) - PLAIN_ASOF
    future = UsageHistory("future", known.timestamps + shift, known.used_bytes, known.capacity_bytes)
    with pytest.warns(CalendarNotCoveredWarning, match="2099"):
        forecast_histories([future])


def test_accelerating_growth_is_extrapolated_with_its_curvature():
    """Growth that doubles every ~3 days fills in about 8 days, not at the 28 days its current rate alone says."""
    scale = 4 * DAY

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        return 20 * GIB + 5 * GIB * np.exp((ts - PLAIN_ASOF) / scale)

    truth = _first_full(usage, 60 * GIB, PLAIN_ASOF)
    assert truth is not None
    (fc,) = forecast_histories([_history("accelerating", usage, 60 * GIB)])
    hours = _hours_until(fc)
    truth_h = (truth - PLAIN_ASOF) / HOUR
    assert truth_h <= hours <= 1.5 * truth_h, (
        f"accelerating: predicted full in {hours:.0f} h, truth {truth_h:.0f} h (linear at today's rate: 672 h)"
    )


def test_gently_accelerating_growth_is_not_read_as_its_past_average():
    """Growth that doubles every two weeks fills in ~9.5 days; the average of its last weeks says ~14."""
    scale = 14 * DAY / np.log(2)

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        return 30 * GIB + 10 * GIB * np.exp((ts - PLAIN_ASOF) / scale)

    truth = _first_full(usage, 46 * GIB, PLAIN_ASOF)
    assert truth is not None
    (fc,) = forecast_histories([_history("gently-accelerating", usage, 46 * GIB)])
    hours, truth_h = _hours_until(fc), (truth - PLAIN_ASOF) / HOUR
    assert abs(hours - truth_h) <= 0.1 * truth_h, f"predicted full in {hours:.0f} h, truth {truth_h:.0f} h"


def test_growth_speeding_up_is_forecast_alike_whatever_weekday_asof_falls_on():
    """A growth speeding up has the same forecast with asof on a Saturday (weekends its earliest, slowest days)."""
    capacity = 20 * GIB

    def forecast_hours(asof: int) -> tuple[float, float]:
        # 24/7 growth of 2.5 % of capacity a day at asof, its rate rising by 0.17 % a day each day since it started.
        start = -2.5 / 0.17

        def usage(ts: Times) -> npt.NDArray[np.float64]:
            t = np.maximum((ts - asof) / DAY, start)
            return 0.746 * capacity + capacity * (2.5 * t + 0.085 * t * t) / 100

        truth = _first_full(usage, capacity, asof)
        assert truth is not None
        (fc,) = forecast_histories([_history("speeding-up", usage, capacity, asof=asof)])
        return _hours_until(fc), (truth - asof) / HOUR

    saturday, saturday_truth = forecast_hours(_unix(2024, 3, 16, 6))
    wednesday, wednesday_truth = forecast_hours(_unix(2024, 3, 13, 6))
    assert saturday_truth == wednesday_truth
    assert abs(saturday - wednesday) <= 0.1 * wednesday, f"Saturday {saturday:.0f} h, Wednesday {wednesday:.0f} h"
    assert saturday <= 1.25 * saturday_truth, f"Saturday {saturday:.0f} h, truth {saturday_truth:.0f} h"


def test_recent_rate_change_is_followed():
    """A volume that went from 0.2 to 2 GiB/day six days ago fills at the new rate: 10 GiB free is 5 days."""
    change = PLAIN_ASOF - 6 * DAY

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        days = (ts - change) / DAY
        return 50 * GIB + np.where(days < 0, 0.2 * GIB * days, 2 * GIB * days)

    capacity = float(usage(np.array([PLAIN_ASOF]))[0] + 10 * GIB)
    (fc,) = forecast_histories([_history("rate-change", usage, capacity)])
    assert abs(_hours_until(fc) - 120) <= 18, f"rate-change: predicted full in {_hours_until(fc):.1f} h, expected 120 h"


@pytest.mark.parametrize("minute", [30, 75])
def test_path_starts_from_the_last_hour_after_a_rate_change(minute: int):
    """24/7 growth from 0.5 to 2 GiB/day 3.5 days back, 1.2 GiB free just after midnight: full in 14.5 h.

    Early in the day the anchor reads today's peak from yesterday's samples carried by a day of the new growth,
    while the day's shape still rises by the old rate's 0.5 GiB: without starting from the last hour's usage
    the path stood above it and the volume was "full" in 0.25-6.5 h.
    """
    asof = _unix(2024, 3, 13) + minute * 60
    change = asof - int(3.5 * DAY)

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        days = (ts - change) / DAY
        return 50 * GIB + np.where(days < 0, 0.5 * GIB, 2 * GIB) * days

    capacity = float(usage(np.array([asof]))[0] + 1.2 * GIB)
    fc, truth_hours = _forecast_and_truth("knee-at-night", usage, capacity, asof)
    assert 0.7 * truth_hours <= _hours_until(fc) <= 1.3 * truth_hours, (
        f"{minute // 60:02d}:{minute % 60:02d}: predicted full in {_hours_until(fc):.2f} h, truth {truth_hours:.2f} h"
    )


# Thursday 2024-03-14 10:00 local: the last three days are working days, so a change within them is read
# from windows of one day kind.
THURSDAY_ASOF = PLAIN_ASOF + 3 * DAY


@pytest.mark.parametrize("hours_ago", [24, 30, 48])
def test_growth_that_slowed_in_the_last_days_is_followed(hours_ago: int):
    """2 GiB/day until `hours_ago`, 0.6 GiB/day since: 6 GiB free take 10 days at the new rate, 3 at the old.

    The daily broken line needs a knee two days back and more; the recent-change test reads the last days at
    asof's time of day (forecast_recent).
    """
    change = THURSDAY_ASOF - hours_ago * HOUR

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        return 50 * GIB + np.where(ts < change, 2 * GIB, 0.6 * GIB) * (ts - change) / DAY

    capacity = float(usage(np.array([THURSDAY_ASOF]))[0] + 6 * GIB)
    fc, truth_hours = _forecast_and_truth("slowed", usage, capacity, THURSDAY_ASOF)
    assert 0.75 * truth_hours <= _hours_until(fc) <= 1.25 * truth_hours, (
        f"slowed {hours_ago} h ago: predicted full in {_hours_until(fc):.0f} h, truth {truth_hours:.0f} h"
    )


@pytest.mark.parametrize("hours_ago", [2, 6])
def test_an_import_hours_before_asof_is_a_level_not_a_new_rate(hours_ago: int):
    """A 5 GiB step `hours_ago` on 1 GiB/day growth: the 10 GiB left after it still take 10 days.

    Six hours back the step sits in the middle of the 12 h surge window, where smoothing spreads it over
    both halves; only its height within one hour tells it from a ramp.
    """
    start = PLAIN_ASOF - hours_ago * HOUR
    usage: Usage = lambda t: 50 * GIB + GIB * (t - PLAIN_ASOF) / DAY + np.where(t >= start, 5 * GIB, 0.0)  # noqa: E731
    (fc,) = forecast_histories([_history("import-today", usage, 65 * GIB)])
    assert abs(_hours_until(fc) - 240) <= 24, (
        f"import {hours_ago} h ago: predicted full in {_hours_until(fc):.0f} h, expected 240 h"
    )


def _steady_grid(seed: int, slowed_to: float | None) -> dict[str, npt.NDArray[np.float64]]:
    """20 series of 29 days of 15-minute samples growing 1 GiB/day with noise of 0.05 GiB per sample; where
    `slowed_to` is given, their growth is that share of it over the last 36 h. Every day a working day."""
    rng = np.random.default_rng(seed)
    slots = 29 * 96
    t_days = (np.arange(slots) - (slots - 1)) / 96
    rate = np.ones(slots) if slowed_to is None else np.where(t_days > -1.5, slowed_to, 1.0)
    level = np.cumsum(rate) / 96 * GIB
    used = 100 * GIB + level[None, :] + 0.05 * GIB * rng.standard_normal((20, slots))
    return {
        "hour_mean": forecast_module._moving_mean(used, HOUR_SLOTS),
        "asof_column": np.full(20, slots - 1),
        "working": np.ones((20, 29), dtype=bool),
        "shape": np.zeros((20, 2, 96)),
        "growth": np.full((20, 2), 1.0 * GIB),
        "off_share": np.ones(20),
    }


@pytest.mark.parametrize("seed", range(3))
def test_noisy_steady_growth_shows_no_recent_change(seed: int):
    change = recent_change(**_steady_grid(seed, slowed_to=None))
    assert not change.changed.any(), f"seed {seed}: {int(change.changed.sum())} of 20 steady series read as changed"


@pytest.mark.parametrize("seed", range(3))
def test_growth_slowed_to_a_third_a_day_and_a_half_ago_is_read(seed: int):
    change = recent_change(**_steady_grid(seed, slowed_to=1 / 3))
    assert change.changed.all(), f"seed {seed}: only {int(change.changed.sum())} of 20 slowed series read as changed"
    # Where one day is not clear enough on its own, two are read, and the older one straddles the change:
    # the rate then lies between old and new, but nearer the new one.
    nearer_new = (change.rate > 0.5 * GIB / 3) & (change.rate < (1 + 1 / 3) / 2 * GIB)
    assert nearer_new.all(), f"seed {seed}: rates {np.round(change.rate / GIB, 2)} GiB/day, new 0.33, old 1"


def _backups_of_varying_size(seed: int, spread: float, growth_per_day: float) -> Usage:
    """01:00-03:00 backups of 15 GiB +- `spread` (normal, one size a night) on 70 GiB growing steadily."""
    nights = np.random.default_rng(seed).normal(0.0, spread, size=80)

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        hour = _local_hour(ts)
        night = ((ts + 8 * HOUR) // DAY - (PLAIN_ASOF + 8 * HOUR) // DAY + 60).astype(np.int64)
        base = 70 * GIB + growth_per_day * (ts - PLAIN_ASOF) / DAY
        return base + np.where((hour >= 1) & (hour < 3), 15 * GIB + nights[night], 0.0)

    return usage


@pytest.mark.parametrize("seed", range(6))
def test_growth_under_backups_of_varying_size_is_read_from_the_steady_level(seed: int):
    """Backups of 15 +- 6 GiB a night on a volume growing 1 GiB/day: the growth comes from the level under them.

    The nightly maxima change by several GiB from one day to the next; read from them, the growth (and the date)
    swings from seed to seed. The level under the backups grows by exactly 1 GiB/day: with the typical 15 GiB
    backup on top, 12 GiB of headroom last about 12 days.
    """
    usage = _backups_of_varying_size(seed, spread=6 * GIB, growth_per_day=1 * GIB)
    (fc,) = forecast_histories([_history(f"varying-backup-{seed}", usage, 97 * GIB)])
    days = _hours_until(fc) / 24
    # The typical backup is itself estimated from 28 noisy nights (about +-1.5 GiB): +-3 days around 12.
    assert 9 <= days <= 15, f"varying-backup-{seed}: predicted full in {days:.1f} days, expected 12 +- 3"


def test_noisy_nightly_backup_peaks_keep_their_trend():
    """Backups of varying size on a growing volume: the peaks' trend, not their day-to-day noise, sets the date."""
    usage = _backups_of_varying_size(7, spread=3 * GIB, growth_per_day=0.5 * GIB)
    (fc,) = forecast_histories([_history("noisy-backup", usage, 100 * GIB)])
    # Peaks sit at 85 GiB + 0.5 GiB/day: 30 days to reach 100 GiB on average, earlier on a big night.
    assert fc.exhaustion_at is None or _hours_until(fc) >= 10 * 24, (
        f"noisy-backup: predicted full in {_hours_until(fc):.0f} h; the peaks' trend says about 30 days"
    )


def _recurring_imports(every_days: float, size: float) -> Usage:
    """0.1 GiB/day of steady growth plus a `size` import every `every_days` days, at 14:00 local."""
    origin = PLAIN_ASOF - 40 * DAY + 4 * HOUR  # imports land at 14:00 local, asof is 10:00

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        imports = np.floor(np.maximum(ts - origin, 0) / (every_days * DAY))
        return 20 * GIB + 0.1 * GIB * (ts - PLAIN_ASOF) / DAY + size * imports

    return usage


def test_recurring_bulk_imports_are_growth():
    """A volume fed by a 3 GiB import every 2 days fills with the next imports, not at the trimmed 0.1 GiB/day."""
    usage = _recurring_imports(every_days=2.0, size=3 * GIB)
    capacity = float(usage(np.array([PLAIN_ASOF]))[0] + 7 * GIB)
    truth = _first_full(usage, capacity, PLAIN_ASOF)
    assert truth is not None
    (fc,) = forecast_histories([_history("imports", usage, capacity)])
    truth_h = (truth - PLAIN_ASOF) / HOUR
    # About 1.6 GiB/day on average: 7 GiB is 4-5 days; the trimmed rate alone would say 70 days (never).
    assert fc.exhaustion_at is not None, f"imports: predicted never to fill, truth {truth_h:.0f} h"
    assert abs(_hours_until(fc) - truth_h) <= 36, (
        f"imports: predicted full in {_hours_until(fc):.0f} h, truth {truth_h:.0f} h"
    )


@pytest.mark.parametrize(
    "import_days",
    [
        pytest.param((22, 15, 8), id="alone"),
        # Two days running are a run of outlying days: imports still, not a new rate of growth.
        pytest.param((22, 21, 8), id="two-running"),
    ],
)
def test_rare_large_imports_fill_at_the_median_wait_for_the_next_one(import_days: tuple[int, ...]):
    """Three 10 GiB imports in four weeks on an 8 GiB headroom: each would fill it, so the volume fills with the
    next import, whose median wait is ln 2 / rate (rate = 3 per 27 observed days), not weeks later as the
    growth between imports says; the p90 keeps the growth's own answer (the imports may not come back)."""
    origin = PLAIN_ASOF + HOUR  # 11:00 local on the asof day

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        imported = sum(np.where(ts >= origin - d * DAY, 10 * GIB, 0.0) for d in import_days)
        return 20 * GIB + 0.2 * GIB * (ts - PLAIN_ASOF) / DAY + imported

    capacity = float(usage(np.array([PLAIN_ASOF]))[0]) + 8 * GIB
    (fc,) = forecast_histories([_history("rare-imports", usage, capacity)])
    median_wait_h = np.log(2) / (3 / 27) * 24
    assert abs(_hours_until(fc) - median_wait_h) <= 6, (
        f"rare-imports: predicted full in {_hours_until(fc):.0f} h, the next import's median wait is "
        f"{median_wait_h:.0f} h"
    )
    assert fc.p90 is None, f"rare-imports: p90 in {(fc.p90 - fc.asof) / HOUR:.0f} h, growth alone fills in 40 days"


@pytest.mark.parametrize(
    ("size_share", "base_offset_h", "median_h", "p10_h"),
    [
        # One import fills: P(full by t) = 1 - exp(-rate t).
        (1.2, np.inf, np.log(2) / 0.1 * 24, -np.log(0.9) / 0.1 * 24),
        # Two imports fill: P = 1 - exp(-m) (1 + m), m = rate t; 0.5 at m = 1.67835, 0.1 at m = 0.53181.
        (0.6, np.inf, 1.67835 / 0.1 * 24, 0.53181 / 0.1 * 24),
    ],
)
def test_import_passage_is_the_compound_poisson_first_passage(
    size_share: float, base_offset_h: float, median_h: float, p10_h: float
):
    """Imports at 0.1 a day (2 in 20 observed days) of one size: the quantiles of the first passage, exactly."""
    headroom = 8 * GIB
    imports = np.zeros((1, 27))
    imports[0, [5, 15]] = size_share * headroom
    quantiles = passage_quantiles(
        imports, np.array([20.0]), np.array([headroom]), np.array([base_offset_h * HOUR]), (0.5, 0.1), 30 * DAY
    )
    median, p10 = quantiles[0] / HOUR
    assert abs(median - median_h) <= 1, f"median {median:.1f} h, expected {median_h:.1f} h"
    assert abs(p10 - p10_h) <= 1, f"p10 {p10:.1f} h, expected {p10_h:.1f} h"


def test_import_passage_is_never_later_than_the_path_alone():
    """Small imports on a path that fills in 48 h by itself: full by then at the latest, a little earlier at median."""
    headroom = 8 * GIB
    imports = np.zeros((1, 27))
    imports[0, [3, 9, 14, 20]] = 0.05 * headroom
    median, p90 = (
        passage_quantiles(
            imports, np.array([27.0]), np.array([headroom]), np.array([48.0 * HOUR]), (0.5, 0.9), 30 * DAY
        )[0]
        / HOUR
    )
    assert 40 <= median <= 48, f"median {median:.1f} h; the path alone fills at 48 h"
    assert p90 <= 48, f"p90 {p90:.1f} h; the path alone fills at 48 h"


def test_backtest_keeps_the_trimmed_rate_when_steps_do_not_recur():
    """The self-backtest picks the raw average for recurring imports and the default for a one-off import."""
    days = 29
    working = np.ones((2, days), dtype=bool)
    t = np.arange(days, dtype=np.float64)
    recurring = 100.0 + 1.0 * t + 30.0 * np.floor((t + 1) / 3)  # +30 every third day
    one_off = 100.0 + 1.0 * t + np.where(t >= 10, 30.0, 0.0)
    peak = np.stack([recurring, one_off])
    peak[:, -1] = np.nan  # the running day
    # The step-adjusted peaks: the imports taken out, as the model's step detector leaves them.
    adjusted = np.stack([100.0 + 1.0 * t, 100.0 + 1.0 * t])
    adjusted[:, -1] = np.nan
    default = np.ones((2, 2))
    chosen = select_growth(peak, adjusted, working, default)
    assert chosen.raw.tolist() == [True, False], f"raw average chosen: {chosen.raw.tolist()}"
    assert abs(chosen.growth[0, 1] - 11.0) <= 1.5, f"recurring: growth {chosen.growth[0, 1]}, expected ~11/day"
    assert chosen.growth[1].tolist() == [1.0, 1.0], f"one-off: growth {chosen.growth[1]}, expected the default"


def test_backtest_error_widens_the_band_of_a_wandering_rate(monkeypatch: pytest.MonkeyPatch):
    """A rate that swings between 0.5 and 1.5 GiB/day every 4 days gets a wider p10-p90 band than its spread says."""
    origin = PLAIN_ASOF - 40 * DAY

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        grid = np.arange(origin, ts.max() + SLOT, SLOT, dtype=np.int64)
        fast = ((grid - origin) // (4 * DAY)) % 2 == 1
        level = 50 * GIB + np.cumsum(np.where(fast, 1.5, 0.5) * GIB * SLOT / DAY)
        return level[np.searchsorted(grid, ts)]

    capacity = float(usage(np.array([PLAIN_ASOF]))[0] + 8 * GIB)
    history = _history("wandering", usage, capacity)
    (wide,) = forecast_histories([history])
    monkeypatch.setattr(forecast_module, "MAE_TO_SD", 0.0)
    (narrow,) = forecast_histories([history])
    assert wide.exhaustion_at == narrow.exhaustion_at, "wandering: the band must not move the point forecast"
    assert wide.p10 is not None, "wandering: p10 must be given"
    assert narrow.p10 is not None, "wandering: p10 must be given without the backtest term too"
    early_h = (narrow.p10 - wide.p10) / HOUR
    assert early_h >= 6, f"wandering: the backtest error moved p10 earlier by {early_h:.1f} h only"


def _jittery_daily_level(per_day: float, jitter: float, seed: int) -> Usage:
    """Steady growth plus a level that sits, each local day, a random amount (normal, sd `jitter`) above it."""
    origin = PLAIN_ASOF - 40 * DAY
    offsets = np.random.default_rng(seed).normal(0.0, jitter, 80)

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        day = (ts - origin) // DAY
        return 100 * GIB + per_day * (ts - origin) / DAY + offsets[day]

    return usage


def test_band_of_a_fill_within_two_days_covers_the_jitter_of_daily_peaks():
    """Where each day's level jitters about steady growth, fills due within two days fall in their p10-p90 band
    at least as often as an 80 % band promises (with the growth's spread alone, 72 % of these did)."""
    per_day, jitter = 2 * GIB, 0.6 * GIB
    histories, truths = [], []
    for seed in range(120):
        usage = _jittery_daily_level(per_day, jitter, seed)
        # Capacity 0.5-1.5 days of growth above the line at asof: due within about two days.
        line_now = float(usage(np.array([PLAIN_ASOF]))[0])
        capacity = line_now + per_day * (0.5 + seed % 11 / 10)
        histories.append(_history(f"jitter-{seed}", usage, capacity))
        truths.append(_first_full(usage, capacity, PLAIN_ASOF))
    inside = [
        fc.p10 is not None and truth is not None and fc.p10 <= truth <= (fc.p90 if fc.p90 is not None else truth)
        for fc, truth in zip(forecast_histories(histories), truths, strict=True)
    ]
    coverage = float(np.mean(inside))
    assert 0.8 <= coverage <= 0.97, f"jitter: {coverage:.0%} of fills inside their 80 % band"


def _trend_of(peaks: npt.NDArray[np.float64], exposure: npt.NDArray[np.float64] | None = None) -> float:
    """Working-day rate local_trend gives for one series of daily peaks."""
    days = peaks.shape[0]
    exp = np.ones((1, days)) if exposure is None else exposure[None, :]
    return float(local_trend(peaks[None, :], exp, np.array([1.0])).rate[0])


def test_trend_follows_a_rate_that_drifted_up_over_the_last_week():
    """Peaks growing 1/day for three weeks, then faster each day up to 2.5/day: the rate is the recent one."""
    rng = np.random.default_rng(7)
    rate = np.r_[np.ones(20), np.linspace(1.25, 2.5, 6)]
    peaks = np.cumsum(np.r_[0.0, rate]) + rng.normal(0, 0.1, 27)
    tracked = _trend_of(peaks)
    two_weeks = float(np.mean(np.diff(peaks)[-14:]))
    assert tracked > 2.0, f"drifting rate: trend gives {tracked:.2f}/day, the last days grew ~2.5/day"
    assert tracked > two_weeks + 0.5, (
        f"drifting rate: trend {tracked:.2f} no better than the 14-day mean {two_weeks:.2f}"
    )


@pytest.mark.parametrize("seed", range(10))
def test_trend_keeps_the_long_run_rate_of_a_noisy_steady_series(seed: int):
    """Peaks growing 1/day with noise of 0.5 a day keep a rate within 5 % of 1/day, however the last days fell."""
    peaks = np.arange(27.0) + np.random.default_rng(seed).normal(0, 0.5, 27)
    tracked = _trend_of(peaks)
    assert abs(tracked - 1.0) < 0.05, f"seed {seed}: steady noisy series given {tracked:.3f}/day, expected 1/day"


def test_trend_days_off_and_missing_days_are_not_a_slowdown():
    """Office-hours growth (flat on days off, exposure 0) with two days missing keeps 1 per working day."""
    day = np.arange(27)
    working = (day % 7) < 5
    peaks = np.cumsum(np.r_[0.0, working[1:].astype(np.float64)])
    peaks[[10, 11]] = np.nan
    tracked = _trend_of(peaks, working.astype(np.float64))
    assert abs(tracked - 1.0) < 1e-3, f"office-hours series: {tracked:.4f} per working day, expected 1"


def _noisy_backup(seed: int) -> Usage:
    """1 GiB/day steady growth plus a 01:00-02:00 backup of 1 GiB +- 0.5 GiB (normal) that sets each day's peak."""
    size = np.random.default_rng(seed).normal(1.0, 0.5, 64)

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        day = (ts + 8 * HOUR) // DAY
        hour = _local_hour(ts)
        backup = np.where((hour >= 1) & (hour < 2), size[day % 64], 0.0)
        return (50 + (ts - PLAIN_ASOF) / DAY + backup) * GIB

    return usage


def test_noisy_daily_peaks_keep_the_long_run_growth():
    """Twelve volumes growing 1 GiB/day under nightly backups of noisy size all keep 0.8-1.2 GiB/day of growth."""
    histories = [_history(f"backup{s}", _noisy_backup(s), 80 * GIB) for s in range(12)]
    grid = forecast_module._Grid.build(histories)
    growth = forecast_module._PeakModel.fit(grid).growth[:, forecast_module.WORK] / GIB
    worst = int(np.argmax(np.abs(growth - 1.0)))
    assert abs(growth[worst] - 1.0) < 0.2, f"backup{worst}: working-day growth {growth[worst]:.3f} GiB/day, expected 1"


# ------------------------------------------------------------------ usage projection (migration sizes)


def _office_hours_growth(rate_gib_per_working_day: float, seed: int = 0) -> Usage:
    """Growth in office hours (09:00-18:00 local) of working days only, with a little noise."""
    rng = np.random.default_rng(seed)

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        day = local_day(ts)
        work = is_working_day(np.arange(day.min(), day.max() + 1)).astype(np.float64)
        before = np.concatenate([[0.0], np.cumsum(work)])[day - day.min()]  # working days before the sample's
        hour = ((ts + 8 * HOUR) % DAY) / HOUR
        today = work[day - day.min()] * np.clip((hour - 9) / 9, 0, 1)
        return (500 + rate_gib_per_working_day * (before + today)) * GIB + rng.normal(0, 0.2 * GIB, ts.size)

    return usage


@pytest.mark.parametrize("days_ahead", [7, 30, 90])
def test_projection_of_office_hours_growth_counts_working_days_ahead(days_ahead: int):
    """Growth on working days only: the median projection lands on the usage of the day `days_ahead` on, and the
    p90 above it; days off add nothing (a holiday-free March: 5 working days a week)."""
    from dizuo.capacity.forecast import project_usage  # noqa: PLC0415

    asof = _unix(2024, 3, 11, 20)  # Monday evening, the day's growth done
    rate = 10.0
    (p,) = project_usage([_history("office", _office_hours_growth(rate), 10_000 * GIB, asof=asof)], days_ahead)
    working = sum(bool(is_working_day(local_day(asof + k * DAY))) for k in range(1, days_ahead + 1))
    assert working < days_ahead
    truth_gib = p.used_bytes / GIB + rate * working
    assert p.days_ahead == days_ahead
    assert p.asof == asof
    assert abs(p.median_bytes / GIB - truth_gib) <= 0.03 * rate * working + 2, (p.median_bytes / GIB, truth_gib)
    assert p.high_bytes > p.median_bytes, p


def test_projection_of_a_volume_kept_under_capacity_by_cleanups_stays_under_it():
    """Cleaned every time it reaches ~90 GiB: its peak path climbs, but the volume is never projected past 100."""
    from dizuo.capacity.forecast import project_usage  # noqa: PLC0415

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        return (40 + (((ts - ts[0]) / DAY * 10) % 50)) * GIB

    (p,) = project_usage([_history("cleaned", usage, 100 * GIB)], 30)
    assert p.high_bytes <= 100 * GIB, p.high_bytes / GIB
    assert p.median_bytes >= 40 * GIB


def test_projection_adds_the_imports_the_history_showed():
    """A 40 GiB import every week on top of 1 GiB a day: 30 days on hold about four more of them."""
    from dizuo.capacity.forecast import project_usage  # noqa: PLC0415

    def usage(ts: Times) -> npt.NDArray[np.float64]:
        days = (ts - ts[0]) / DAY
        return (100 + days + 40 * np.floor((days + 3.5) / 7)) * GIB

    (p,) = project_usage([_history("imports", usage, 10_000 * GIB)], 30)
    added = (p.median_bytes - p.used_bytes) / GIB
    assert 30 + 2 * 40 <= added <= 30 + 6 * 40, added
    assert p.high_bytes > p.median_bytes


def test_projection_refuses_a_day_ahead_of_zero():
    """A projection is of a day after the last sample: 0 days ahead is refused, not read as today."""
    from dizuo.capacity.forecast import project_usage  # noqa: PLC0415

    with pytest.raises(ValueError, match="days_ahead"):
        project_usage([_history("x", lambda ts: np.full(ts.size, GIB), 10 * GIB)], 0)


def test_projection_takes_one_lead_per_history():
    """Histories whose last samples differ are projected to one date: each its own number of days ahead."""
    from dizuo.capacity.forecast import project_usage  # noqa: PLC0415

    usage = _office_hours_growth(10.0)
    history = _history("office", usage, 10_000 * GIB, asof=_unix(2024, 3, 11, 20))
    near, far = project_usage([history, history], [7, 30])
    (alone,) = project_usage([history], 30)
    assert (near.days_ahead, far.days_ahead) == (7, 30)
    assert far.median_bytes == alone.median_bytes
    assert far.median_bytes > near.median_bytes
    with pytest.raises(ValueError, match="one per history"):
        project_usage([history, history], [7])


# ------------------------------------------------------------------ sampling coarser than the 15-minute slots


@pytest.mark.parametrize("cadence_hours", [1, 6])
def test_a_series_sampled_hourly_or_coarser_is_forecast_as_its_15_minute_self(cadence_hours: int):
    """A Prometheus read at `step: 1h` (or an hourly CSV) filled no day to half its slots and was never forecast;
    its slots between samples are now filled in, so office-hours growth fills at about the same hour either way."""
    usage = _office_growth(per_hour=2 * GIB)
    fine = _history("office", usage, 1000 * GIB, asof=_unix(2024, 7, 8, 10))
    level = float(fine.used_bytes[-1])
    capacity = level + 100 * GIB  # about 5.5 working days of growth ahead
    every = cadence_hours * HOUR // SLOT
    keep = np.zeros(len(fine.timestamps), dtype=bool)
    keep[::-every] = True  # on the cadence, counted back from the last sample (asof)
    coarse = UsageHistory("office", fine.timestamps[keep], fine.used_bytes[keep], np.full(int(keep.sum()), capacity))
    fine = UsageHistory("office", fine.timestamps, fine.used_bytes, np.full(len(fine.timestamps), capacity))
    (from_fine,), (from_coarse,) = forecast_histories([fine]), forecast_histories([coarse])
    assert from_coarse.asof == from_fine.asof
    assert abs(_hours_until(from_coarse) - _hours_until(from_fine)) <= 12, (from_fine, from_coarse)


def test_a_series_sampled_every_30_minutes_fills_when_its_15_minute_self_does():
    """Every other slot (Prometheus `step: 30m`, a 30-minute CSV) is a coarse series too: its days held just half
    their slots, the unsampled half of the day's shape was guessed, and a 5-day fill came 10 h early."""
    usage: Usage = lambda t: 50 * GIB + GIB * (t - PLAIN_ASOF) / DAY  # noqa: E731
    fine = _history("steady", usage, 55 * GIB)
    keep = np.zeros(len(fine.timestamps), dtype=bool)
    keep[::-2] = True  # every 30 minutes, counted back from asof
    coarse = UsageHistory("steady", fine.timestamps[keep], fine.used_bytes[keep], fine.capacity_bytes[keep])
    (from_fine,), (from_coarse,) = forecast_histories([fine]), forecast_histories([coarse])
    assert abs(_hours_until(from_coarse) - _hours_until(from_fine)) <= 2, (
        f"30-minute samples: full in {_hours_until(from_coarse):.1f} h, 15-minute: {_hours_until(from_fine):.1f} h"
    )


def test_an_outage_in_a_coarse_series_stays_a_gap():
    """Only the span between two samples of the series' own cadence is filled in: a two-day outage is not drawn as a
    straight line (its days stay incomplete, as they are at the 15-minute cadence)."""
    ts = PLAIN_ASOF - HOUR * np.arange(28 * 24)[::-1].astype(np.int64)
    outage = (ts > PLAIN_ASOF - 10 * DAY) & (ts < PLAIN_ASOF - 8 * DAY)
    ts = ts[~outage]
    used = 100 * GIB + (ts - ts[0]) * (GIB / DAY)
    filled_ts, _used, lengths = forecast_module._on_the_slot_grid(ts, used, np.array([len(ts)]))
    assert lengths[0] == len(filled_ts)
    steps = np.diff(filled_ts)
    assert set(steps[steps != SLOT].tolist()) == {2 * DAY}, "one gap: the outage"
    assert filled_ts[-1] == ts[-1], "the last sample (asof) stays the last"
