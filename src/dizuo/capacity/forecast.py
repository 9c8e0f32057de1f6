"""Storage-exhaustion forecaster: when will each volume or pool be full, as of its last sample.

All series of a batch are laid on one padded grid [series, local day, 15-minute slot] (Asia/Shanghai),
so every step below is an array operation over all series at once.

Model, per series: usage on local day d at slot s is ``peak[d] + shape[kind(d), s]``, where
- ``peak[d]`` is the day's maximum. Short spikes count as full, so the daily peak, not the mean, is
  what has to be forecast. It moves by a typical day-over-day growth, one for working days and one for
  days off (mainland-China calendar with make-up working days), so a holiday week is a week of days
  off, not a slowdown. The typical growth is a trimmed mean of recent day-over-day changes: one-off
  bulk imports and cleanups are trimmed away, while the level they leave is kept, because the
  forecast starts from the last day of samples.
- ``shape[kind, s] <= 0`` is the typical distance of slot s below the day's peak (median over recent
  days of that kind): office-hours growth, a nightly backup that is freed hours later, a daily log
  rotation. It places the moment of filling inside the day. On the asof day the path starts from the
  last hour's usage and joins ``peak + shape`` by midnight, so a shape or growth that changed lately does
  not put the path above (or below) what was just seen.
Two departures from that typical growth are detected on the daily peaks, with one-off steps (isolated
outlying days) taken out and time counted in effective days (a day off weighs what its growth shows, read
with the curvature fitted where the peaks clearly curve, as days off come in blocks):
a clear recent change of rate (a broken line whose knee is one of the last days) carries the new rate on,
and accelerating growth (an exponential ``a + b exp(k t)`` fitting far better than a line or a broken
line) is extrapolated along its exponential.
A rate that changed within the last one to three days, before a daily peak can show it, is read at asof's time
of day instead (forecast_recent) and carried on.
The typical growth is averaged with the rate of a local linear trend (forecast_trend: a Kalman filter of
level and wandering rate on the step-adjusted peaks), which follows a rate that drifted and keeps the rate
of a steady series whose last days were noisy.
Volumes that were cleaned up repeatedly from about the same level (threshold or retention cleanups)
are expected to be cleaned again before they fill, until that level, where it rises, reaches capacity.
Cleanups that came a week apart at the same hour (forecast_schedule) are taken out of the history the model
reads, and the ones still due free their size again on the path ahead.
The p10/p90 band comes from the spread of the day-over-day growth plus a share of the growth itself, as
growth rates wander, and from the jitter of each day's peak about the growth, which decides the hour of a fill
that is a day or two away.
Where the history shows days that jumped (bulk imports), the next imports may fill the volume before the
growth between them does: forecast_imports gives the first passage of the path plus a compound Poisson process of the
imports seen, and the median and p10 take the earlier of the two.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from dizuo.capacity.calendar_cn import (
    SECONDS_PER_DAY,
    SHIPPED,
    UTC_OFFSET_SECONDS,
    CalendarNotCoveredWarning,
    WorkingCalendar,
)
from dizuo.capacity.forecast_imports import passage_quantiles
from dizuo.capacity.forecast_recent import HOUR_SLOTS, MAD_TO_SD, recent_change
from dizuo.capacity.forecast_schedule import WeeklyCleanups, weekly_cleanups
from dizuo.capacity.forecast_select import nan_median, select_growth
from dizuo.capacity.forecast_trend import Trend, local_trend
from dizuo.capacity.types import FloatArray, Forecast, IntArray, Projection, UsageHistory

SLOT_SECONDS = 900
SLOTS_PER_DAY = SECONDS_PER_DAY // SLOT_SECONDS
# History looked at: the benchmark gives 28 days; more adds little for 30-day horizons.
LOOKBACK_DAYS = 28
# Complete days whose day-over-day peak changes give the growth: recent enough to follow rate changes,
# long enough to hold two weekends (days off are the rarer kind).
GROWTH_DAYS = 14
# The working-day growth leans this much towards the median of the last RECENT_DAYS days.
RECENT_DAYS = 5
RECENT_WEIGHT = 0.5
# Share of the local-linear-trend rate (forecast_trend) in the working/off-day growth, the rest being the
# trimmed/blended growth above. Decided on the benchmark's even half, confirmed on the odd half: the trend
# alone lost F1@24h and median error on even; half and half gained F1@4d (0.88 -> 0.90 / 0.89 -> 0.91) and
# kept the median error within a quarter hour on both halves.
TREND_WEIGHT = 0.5
# Days whose intraday shape is summarised.
SHAPE_DAYS = 14
# Growth fit: recent days weigh exp(-age / GROWTH_TAU); a day-over-day change further than STEP_MADS
# robust standard deviations (and STEP_FLOOR of capacity) from the typical change is a step, not growth.
GROWTH_TAU = 7.0
STEP_MADS = 5.0
STEP_FLOOR = 0.002
KIND_PULL = 0.05
# A curvature of the daily peaks this many standard errors from 0 is read as one (see _fitted_growth).
CURVE_Z = 3.0
# Accelerating growth: an exponential fitted over GROWTH_DAYS (k on the ACCEL_RATES grid), kept when its
# squared error is below ACCEL_SSE_SHARE of a straight line's. The rate doubles every ln 2 / k days: 1.4 to 21
# days. A doubling within three weeks still bends the 14 days' peaks clearly (x1.6); a slower one is wander.
ACCEL_RATES = (1 / 2, 1 / 3, 1 / 5, 1 / 8, 1 / 12, 1 / 20, 1 / 30)
ACCEL_SSE_SHARE = 0.2
CHANGE_MIN_DAYS = 2
CHANGE_MAX_DAYS = 10
CHANGE_T = 10.0
# The day's median plus its typical spike stands in for the daily peak when its changes jitter less than
# this share of the peak's (see _typical_peak).
CALMER_SHARE = 0.5
# Share of the day-over-day changes trimmed at each end: imports and cleanups that do not recur daily.
TRIM = 0.2
# A day with fewer samples than this share says little about its peak (exporter outage).
MIN_DAY_COVERAGE = 0.5
# Today's pace: once PACE_MIN_SLOTS of the asof day are in (4 h) and the typical day has risen by PACE_MIN_SHARE of
# its range by that hour, today's rise so far over the typical day's says how much faster today runs (at most
# PACE_MAX times). Only a faster day is read: a slow morning is often work not started yet, while what a fast one
# wrote stays.
PACE_MIN_SLOTS = 16
PACE_MIN_SHARE = 0.3
PACE_MAX = 3.0
# The current peak level is estimated from the last this-many slots (6 h): recent enough to start
# after a fresh import or cleanup, long enough to average the noise.
ANCHOR_SLOTS = 24
# Cleanups: a fall of at least this share of capacity between two samples (a log rotation or a
# retention job, not noise), seen at least this often, from levels within this share of capacity; a
# volume standing higher than that level by more than CLEANUP_OVERSHOOT is not kept under it.
CLEANUP_DROP = 0.03
CLEANUP_MIN_COUNT = 2
CLEANUP_LEVEL_SPREAD = 0.04
CLEANUP_OVERSHOOT = 0.01
# Rate changes: residual rises over these windows (24 h, 12 h, 4 h), smoothed over 1 h, at least this share
# of capacity, with at least this share of the rise in each half of the window and less than SURGE_STEP_SHARE
# of it in any one hour (a step that smoothing spreads across the middle of the window is an import).
SURGE_WINDOWS_SLOTS = (96, 48, 16)
SURGE_SMOOTH_SLOTS = 4
SURGE_HISTORY_DAYS = 14
SURGE_MIN_RISE = 0.01
SURGE_HALF_SHARE = 0.25
SURGE_STEP_SHARE = 0.5
# A usage projection carries a surge on for as long as the longest window it is read over (a day): a new rate that
# lasts shows in the daily peaks within days, while weeks of a few hours' rise make a volume of a blip
# (projection.py: no change on the public and synthetic sets against carrying it on, or leaving it out).
SURGE_PROJECTION_DAYS = 1
# The p10/p90 band: z of the 10th/90th percentile of a normal distribution, applied to the spread of the
# daily growth plus this share of the growth (rates wander), and to the jitter of a day's peak about the growth.
# The backtest error (forecast_select) already widens the growth's spread by how far the series' own rate
# missed; 0.1 on top keeps 4-8-day bands near 80 % coverage (0.4 covered 87-100 %, bench/capacity README).
Z80 = 1.2816
RATE_WANDER = 0.1
# The backtest gives a mean absolute error; a normal distribution's standard deviation is sqrt(pi / 2)
# times it.
MAE_TO_SD = float(np.sqrt(np.pi / 2))
# Series per batch: bounds memory (batch x horizon slots x 8 bytes) while keeping arrays large.
BATCH = 1024
DEFAULT_HORIZON_SECONDS = 30 * SECONDS_PER_DAY

BoolArray = npt.NDArray[np.bool_]
_Out = TypeVar("_Out", Forecast, Projection)
OFF, WORK = 0, 1


def forecast_histories(
    histories: Sequence[UsageHistory],
    horizon_seconds: int = DEFAULT_HORIZON_SECONDS,
    calendar: WorkingCalendar = SHIPPED,
) -> list[Forecast]:
    """One forecast per history, same order; times are unix seconds, ``None`` = not within the horizon.

    ``calendar`` says which days are working days (default: chinesecalendar's notices; see
    ``calendar_notices.load_calendar`` for the years it does not ship yet). Warns (CalendarNotCoveredWarning)
    when a history or its horizon reaches a year the calendar does not know: those days count as plain
    Monday-Friday, holidays and 调休 unseen.
    """
    _warn_uncovered(histories, horizon_seconds, calendar)
    # A shorter horizon cuts the answer, it does not change it: the model still looks the standard 30 days ahead.
    # The imports' passage starts from the path's rate to its fill, and a path that fills beyond the horizon counted
    # as no growth at all, so `--horizon-days 7` dropped fills within 7 days that the 30-day forecast gives.
    model_horizon = max(horizon_seconds, DEFAULT_HORIZON_SECONDS)
    return _in_batches(
        len(histories), lambda part: _forecast_batch(histories[part], model_horizon, horizon_seconds, calendar)
    )


def project_usage(
    histories: Sequence[UsageHistory], days_ahead: int | Sequence[int], calendar: WorkingCalendar = SHIPPED
) -> list[Projection]:
    """One projection per history, same order: the daily peak ``days_ahead`` local days after its last sample
    (one number for all, or one per history: to project histories whose last samples differ to one date).

    The same fitted model as the exhaustion forecast, read as bytes rather than a date: the peak path under the
    median growth and under the growth of the p90 scenario (with a day's jitter above the line), plus the bulk
    imports the history showed, at their rate (the mean; the p90 adds 1.28 standard deviations of a compound
    Poisson sum). A volume kept under its capacity by repeated cleanups beyond that day stays under it; any other
    projection is the demand, which may pass the capacity (a pool's plan needs to know by how much).
    """
    given = np.asarray(days_ahead, dtype=np.int64)
    if given.ndim and given.shape != (len(histories),):
        raise ValueError(f"days_ahead: one number, or one per history ({len(histories)}), not {given.shape[0]}")
    ahead = np.broadcast_to(given, (len(histories),))
    if ahead.size and int(ahead.min()) < 1:
        raise ValueError(f"days_ahead must be at least 1, got {int(ahead.min())}")
    _warn_uncovered(histories, int(ahead.max(initial=1)) * SECONDS_PER_DAY, calendar)
    return _in_batches(len(histories), lambda part: _project_batch(histories[part], ahead[part], calendar))


def _warn_uncovered(histories: Sequence[UsageHistory], horizon_seconds: int, calendar: WorkingCalendar) -> None:
    if not histories:
        return
    first = min(int(h.timestamps[0]) for h in histories)
    last = max(int(h.timestamps[-1]) for h in histories) + horizon_seconds
    if missing := calendar.uncovered_years(first, last):
        warnings.warn(
            f"the working calendar does not know {', '.join(map(str, missing))} yet: those days count as plain "
            "Monday-Friday; declare the State Council's notice in a calendar file (--calendar, see "
            "monitoring/working-calendar.yaml) or upgrade chinesecalendar",
            CalendarNotCoveredWarning,
            stacklevel=3,
        )


def _in_batches(count: int, run: Callable[[slice], list[_Out]]) -> list[_Out]:
    """``run`` over slices of BATCH series, results in order."""
    out: list[_Out] = []
    # Short or sparse series make some nan-reductions empty (an all-NaN day, no second complete day); the model
    # handles the NaNs, so numpy's warnings about them are noise in the exporter's log, not news.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All-NaN slice encountered", category=RuntimeWarning)
        warnings.filterwarnings("ignore", message="Mean of empty slice", category=RuntimeWarning)
        for start in range(0, count, BATCH):
            out.extend(run(slice(start, start + BATCH)))
    return out


def _band_growth(model: _PeakModel) -> tuple[FloatArray, FloatArray]:
    """The growth of the p90 and p10 scenarios: the median's plus and minus its 80 % half-band."""
    spread = Z80 * (model.growth_spread + RATE_WANDER * np.abs(model.growth))
    return model.growth + spread, model.growth - spread


def _project_batch(
    histories: Sequence[UsageHistory], days_ahead: IntArray, calendar: WorkingCalendar
) -> list[Projection]:
    if not histories:
        return []
    grid = _Grid.build(histories, calendar)
    model = _PeakModel.fit(grid)
    future_kind = grid.working(int(days_ahead.max()) + 1)[:, LOOKBACK_DAYS + 1 :].astype(np.int64)
    paths = _PeakPaths(model, future_kind)
    high_growth, _ = _band_growth(model)
    day = days_ahead[:, None]
    # A recent rise the daily model does not explain goes on per slot for a while, as in the exhaustion forecast.
    surge = model.surge * np.minimum(days_ahead, SURGE_PROJECTION_DAYS) * SLOTS_PER_DAY
    median = np.take_along_axis(paths.peaks(model.growth, 0.0), day, axis=1)[:, 0] + surge
    high = np.take_along_axis(paths.peaks(high_growth, Z80), day, axis=1)[:, 0] + surge
    # Imports: a compound Poisson sum over the days ahead, at the rate and sizes the history showed.
    count = (model.imports > 0).sum(axis=1)
    rate = count / np.maximum(model.observed_days, 1.0)
    with np.errstate(all="ignore"):
        mean_size = np.where(count > 0, model.imports.sum(axis=1) / np.maximum(count, 1), 0.0)
        mean_square = np.where(count > 0, (model.imports**2).sum(axis=1) / np.maximum(count, 1), 0.0)
    median = median + rate * days_ahead * mean_size
    high = high + rate * days_ahead * mean_size + Z80 * np.sqrt(rate * days_ahead * mean_square)
    held = model.held_for > days_ahead * SECONDS_PER_DAY
    median = np.maximum(np.where(held, np.minimum(median, grid.capacity), median), 0.0)
    high = np.maximum(np.where(held, np.minimum(high, grid.capacity), high), median)
    asof: list[int] = grid.asof.tolist()
    return [
        Projection(
            series=h.series,
            asof=at,
            days_ahead=ahead,
            median_bytes=m,
            high_bytes=hi,
            used_bytes=used,
            capacity_bytes=capacity,
            labels=dict(h.labels),
        )
        for h, at, ahead, m, hi, used, capacity in zip(
            histories,
            asof,
            days_ahead.tolist(),
            median.tolist(),
            high.tolist(),
            grid.last_used.tolist(),
            grid.capacity.tolist(),
            strict=True,
        )
    ]


def _forecast_batch(
    histories: Sequence[UsageHistory], model_horizon: int, horizon_seconds: int, calendar: WorkingCalendar
) -> list[Forecast]:
    """Forecasts looking ``model_horizon`` seconds ahead, reported within ``horizon_seconds`` (not longer)."""
    if not histories:
        return []
    grid = _Grid.build(histories, calendar)
    # Weekly cleanups at a fixed hour: the model reads the growth between them, the path frees what the ones still
    # due free (forecast_schedule). Bytes are then counted as if the past ones had not run, capacity included.
    cleanups = weekly_cleanups(grid.used, grid.capacity, grid.asof_column, CLEANUP_DROP)
    between = grid.with_added(cleanups.used, cleanups.added)
    model = _PeakModel.fit(between)
    horizon_slots = max(1, model_horizon // SLOT_SECONDS)
    high_growth, low_growth = _band_growth(model)
    offset, low, high = _first_full(
        between, model, ((model.growth, 0.0), (high_growth, Z80), (low_growth, -Z80)), horizon_slots, cleanups
    )
    low, high = np.minimum(low, offset), np.maximum(high, offset)
    offset, low, high = _with_imports(between, model, (offset, low, high), model_horizon)
    # Python numbers once per array, not numpy scalars per series.
    asof: list[int] = grid.asof.tolist()
    return [
        Forecast(
            series=h.series,
            asof=at,
            exhaustion_at=_at(at, full, horizon_seconds),
            p10=_at(at, early, horizon_seconds),
            p90=_at(at, late, horizon_seconds),
            used_bytes=used,
            capacity_bytes=capacity,
            labels=dict(h.labels),
        )
        for h, at, full, early, late, used, capacity in zip(
            histories,
            asof,
            offset.tolist(),
            low.tolist(),
            high.tolist(),
            grid.last_used.tolist(),
            grid.capacity.tolist(),
            strict=True,
        )
    ]


def _with_imports(
    grid: _Grid, model: _PeakModel, quantiles: tuple[FloatArray, FloatArray, FloatArray], horizon_seconds: int
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(median, p10, p90) offsets with imports: the median and p10 the earlier of the model's and the
    compound Poisson's; the p90 stays the model's, so the band also covers imports that do not come back."""
    offset = quantiles[0]
    fed = (model.imports > 0).any(axis=1) & (offset > 0)  # a volume full now (offset 0) has nothing to wait for
    if not fed.any():
        return quantiles
    with_imports = passage_quantiles(
        model.imports[fed],
        model.observed_days[fed],
        (grid.capacity - grid.last_used)[fed],
        offset[fed],
        (0.5, 0.1),
        horizon_seconds,
    )
    median, low = offset.copy(), quantiles[1].copy()
    median[fed] = np.minimum(median[fed], with_imports[:, 0])
    low[fed] = np.minimum(low[fed], with_imports[:, 1])
    return median, low, quantiles[2]


def _at(asof: int, offset: float, horizon_seconds: int) -> int | None:
    if not math.isfinite(offset) or offset > horizon_seconds:
        return None
    return asof + int(offset)


def _on_the_slot_grid(ts: IntArray, used: FloatArray, lengths: IntArray) -> tuple[IntArray, FloatArray, IntArray]:
    """The samples of series sampled more coarsely than the slots (a Prometheus read at `step: 1h`, an hourly CSV)
    with the slots between two consecutive samples filled in linearly, as usage moves between them: a day counts
    once half its slots hold a sample (MIN_DAY_COVERAGE), which an hourly series never reached, so it was never
    forecast. A gap longer than one and a half times the series' own cadence (an outage) stays a gap. Series at the
    slot cadence (a median gap of one slot) are returned as they are."""
    starts = np.cumsum(lengths) - lengths
    span = ts[starts + lengths - 1] - ts[starts]
    # Only a series whose samples are at least 1.5 slots apart on average can be coarse: a test on counts, not on
    # every sample, so that 15-minute histories (all of them, mostly) pay nothing for it. (Half the slots of the span
    # left out a 30-minute series, which is a sample short of that: its days held half their slots, just enough to
    # count, and the unsampled half of the day's shape put its fill 10 h early in 5 days.)
    sparse = 3 * lengths * SLOT_SECONDS <= 2 * span
    if not sparse.any():
        return ts, used, lengths
    times: list[IntArray] = []
    values: list[FloatArray] = []
    for i in range(len(lengths)):  # only sparse series are looked at; each one is a few library calls
        t = ts[starts[i] : starts[i] + lengths[i]]
        u = used[starts[i] : starts[i] + lengths[i]]
        finite = np.isfinite(u)
        known_t, known_u = t[finite], u[finite]
        # Sparse at the slot cadence means outages: those stay gaps.
        if sparse[i] and len(known_t) > 1 and (cadence := float(np.median(np.diff(known_t)))) > 1.5 * SLOT_SECONDS:
            between = np.arange(known_t[0], known_t[-1], SLOT_SECONDS)
            before = np.searchsorted(known_t, between, side="right") - 1
            after = np.minimum(before + 1, len(known_t) - 1)
            filled = between[known_t[after] - known_t[before] <= 1.5 * cadence]
            t = np.union1d(known_t, filled)
            u = np.interp(t, known_t, known_u)
        times.append(t)
        values.append(u)
    return (
        np.concatenate(times).astype(np.int64),
        np.concatenate(values),
        np.array([len(t) for t in times], dtype=np.int64),
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class _Grid:
    """Usage of a batch on a [series, local day x slot] grid; NaN where a sample is missing."""

    used: FloatArray  # [series, (LOOKBACK_DAYS + 1) * SLOTS_PER_DAY], column 0 = first_day 00:00 local
    asof: IntArray  # unix seconds of each series' last sample
    first_day: IntArray  # local day number of column 0
    asof_column: IntArray  # column of the last sample
    last_used: FloatArray
    capacity: FloatArray  # the last capacity: a volume enlarged during the history keeps its new size
    calendar: WorkingCalendar

    @classmethod
    def build(cls, histories: Sequence[UsageHistory], calendar: WorkingCalendar = SHIPPED) -> _Grid:
        n = len(histories)
        days = LOOKBACK_DAYS + 1
        lengths = np.array([len(h.timestamps) for h in histories], dtype=np.int64)
        if (lengths == 0).any():
            empty = histories[int(np.argmax(lengths == 0))].series
            raise ValueError(f"series {empty!r} has no samples")
        ts = np.concatenate([np.asarray(h.timestamps, dtype=np.int64) for h in histories])
        used = np.concatenate([np.asarray(h.used_bytes, dtype=np.float64) for h in histories])
        ts, used, lengths = _on_the_slot_grid(ts, used, lengths)
        ends = np.cumsum(lengths) - 1
        asof = ts[ends]
        last_used = used[ends]
        capacity = np.array([np.asarray(h.capacity_bytes, dtype=np.float64)[-1] for h in histories], dtype=np.float64)
        # The last sample's slot is its nearest, as for every sample below: counted from the slot it started in, a
        # last sample taken more than half a slot past a quarter hour landed after asof's column and was dropped.
        nearest = asof + UTC_OFFSET_SECONDS + SLOT_SECONDS // 2
        asof_day = nearest // SECONDS_PER_DAY
        first_day = asof_day - LOOKBACK_DAYS
        asof_column = (nearest - first_day * SECONDS_PER_DAY) // SLOT_SECONDS
        # Samples snap to the nearest slot of their local day; a late scrape is still that slot. In integer
        # arithmetic, with the row's offset in the flat grid folded in (a whole number of slots, so the
        # floor division gives the column plus the offset exactly): flat = row * width + column.
        width = days * SLOTS_PER_DAY
        row_start = np.arange(n, dtype=np.int64) * width
        base = first_day * SECONDS_PER_DAY - UTC_OFFSET_SECONDS - SLOT_SECONDS // 2 - row_start * SLOT_SECONDS
        flat = ts - np.repeat(base, lengths)
        flat //= SLOT_SECONDS
        # Samples outside the row's columns 0..asof_column are dropped, as are missing values. Usually there
        # are none: each row's lowest and highest flat index tell, without a per-sample test.
        starts = ends - lengths + 1
        inside = bool(
            (np.minimum.reduceat(flat, starts) >= row_start).all()
            and (np.maximum.reduceat(flat, starts) <= row_start + asof_column).all()
            and np.isfinite(used).all()
        )
        grid = np.full((n, width), np.nan)
        if inside:
            grid.ravel()[flat] = used
        else:
            col = flat - np.repeat(row_start, lengths)
            keep = (col >= 0) & (col <= np.repeat(asof_column, lengths)) & np.isfinite(used)
            grid.ravel()[flat[keep]] = used[keep]
        return cls(
            used=grid,
            asof=asof,
            first_day=first_day,
            asof_column=asof_column,
            last_used=last_used,
            capacity=capacity,
            calendar=calendar,
        )

    def with_added(self, used: FloatArray, added: FloatArray) -> _Grid:
        """The grid with ``used`` for its samples, ``added`` [series] bytes on its last sample and its capacity
        (so the headroom stays); itself where nothing was added."""
        if used is self.used:
            return self
        return dataclasses.replace(self, used=used, last_used=self.last_used + added, capacity=self.capacity + added)

    def working(self, extra_days: int = 0) -> BoolArray:
        """[series, day] working-day flags over the history days and `extra_days` after them."""
        total = LOOKBACK_DAYS + 1 + extra_days
        return self.calendar.is_working_day(self.first_day[:, None] + np.arange(total)[None, :])

    def asof_slot_offset(self, steps: IntArray) -> IntArray:
        """Seconds from asof to the slot `steps` after the asof slot (asof may sit inside a slot)."""
        asof_slot_start = self.first_day * SECONDS_PER_DAY + self.asof_column * SLOT_SECONDS
        return asof_slot_start - (self.asof + UTC_OFFSET_SECONDS) + steps * SLOT_SECONDS


@dataclass(frozen=True, kw_only=True, slots=True)
class _PeakModel:
    """Fitted per-series parameters, see the module docstring."""

    growth: FloatArray  # [series, kind] typical day-over-day change of the daily peak, bytes
    growth_spread: FloatArray  # [series, kind] standard error of that growth, bytes
    level_spread: FloatArray  # [series] jitter of a day's peak about the growth: robust standard deviation, bytes
    shape: FloatArray  # [series, kind, slot] distance below the day's peak, bytes, max 0
    peak_today: FloatArray  # [series] peak level of the asof day
    held_for: FloatArray  # [series] seconds from asof that repeated cleanups keep usage under capacity; 0 if none
    surge: FloatArray  # [series] extra growth per slot of a rise the model does not explain, bytes
    amplitude: FloatArray  # [series] accelerating growth ``b (exp(k t) - 1)`` ahead: b, bytes; 0 if none
    speed: FloatArray  # [series] k, per effective day
    off_share: FloatArray  # [series] a day off's growth as a share of a working day's (effective days)
    imports: FloatArray  # [series, day] how far days whose peak rose outlyingly stood out, bytes; 0 elsewhere
    observed_days: FloatArray  # [series] days a step could have been seen on (a change between two peaks)
    start_gap: FloatArray  # [series] the last hour's usage minus ``peak_today + typical`` there, bytes (_anchor)
    today_pace: FloatArray  # [series] today's rise so far over the typical day's by this hour, >= 1 (_today_pace)
    carried: FloatArray  # [series] bytes the rest of today adds at that pace beyond the typical day; kept after it

    @classmethod
    def fit(cls, grid: _Grid) -> _PeakModel:
        n = grid.used.shape[0]
        days = LOOKBACK_DAYS + 1
        used = grid.used.reshape(n, days, SLOTS_PER_DAY)
        working = grid.working()
        today = days - 1
        coverage = np.sum(~np.isnan(used), axis=2) / SLOTS_PER_DAY
        complete = coverage >= MIN_DAY_COVERAGE
        complete[:, today] = False  # the asof day is still running: its peak may be ahead
        with np.errstate(all="ignore"):
            peak = np.where(complete, np.nanmax(np.where(complete[:, :, None], used, -np.inf), axis=2), np.nan)
        # Where spikes make the daily maximum jumpy (a backup of varying size), the day's median plus the
        # typical spike follows the same growth with far less noise.
        peak = _typical_peak(used, complete, peak)
        change = np.full_like(peak, np.nan)
        change[:, 1:] = np.diff(peak, axis=1)

        growth, growth_spread = _trimmed_growth(change, working)
        # Recurring imports are growth, not steps: where the series' own backtest says so, the raw
        # average growth replaces the trimmed one (forecast_select).
        adjusted, outlying = _step_adjusted(peak, working, grid.capacity)
        fitted = _fitted_growth(adjusted, working)
        # Rates wander: a local linear trend (Kalman filter, noise variances by maximum likelihood per
        # series) follows a drifting rate and keeps a steady one; it is averaged with the trimmed growth.
        trend = _trend(adjusted, working, fitted.off_share, grid.capacity)
        trend_growth = trend.rate[:, None] * np.stack([fitted.off_share, np.ones(n)], axis=1)
        growth = TREND_WEIGHT * trend_growth + (1 - TREND_WEIGHT) * growth
        selection = select_growth(peak, adjusted, working, growth)
        growth = selection.growth

        # The trimmed mean of changes stays the growth of a series that behaves as over its last weeks;
        # a clear change of rate or an accelerating growth takes the fitted growth instead.
        override = fitted.accelerating | fitted.changed
        growth = np.where(override[:, None], fitted.growth, growth)
        growth_spread = np.where(override[:, None], fitted.spread, growth_spread)
        # How far the growth missed the series' own next days in the backtest, per day of lead, widens
        # the band: rates wander by more on some series than their day-to-day spread shows.
        growth_spread = growth_spread + MAE_TO_SD * selection.rate_error[:, None]

        shape = np.zeros((n, 2, SLOTS_PER_DAY))
        shape_days = slice(today - SHAPE_DAYS, today)
        # [series, slot, day]: each slot's days side by side, so the median runs along contiguous memory.
        below = np.ascontiguousarray((used[:, shape_days] - peak[:, shape_days, None]).transpose(0, 2, 1))
        for kind in (OFF, WORK):
            values = np.where((working[:, shape_days] == bool(kind))[:, None, :], below, np.nan)
            shape[:, kind, :], _ = _trimmed_mean(values, axis=2, trim=0.5, spread=False, scratch=True)
        for kind in (OFF, WORK):
            unseen = np.isnan(shape[:, kind, :]).all(axis=1, keepdims=True)
            shape[:, kind, :] = np.where(unseen, shape[:, 1 - kind, :], shape[:, kind, :])
        # Slots never sampled sit at the day's median distance.
        fill = nan_median(np.where(np.isnan(shape), np.nan, shape), axis=2, keepdims=True)
        typical = np.where(np.isnan(shape), np.nan_to_num(fill), shape)
        surge = _surge(grid, working, growth, typical)
        # A rate that changed in the last days, before the daily peaks show it, takes over from the weeks before
        # (forecast_recent). An accelerating series already follows its own curve, and a surge of the last hours
        # is the fresher rate.
        hour_mean = _moving_mean(grid.used, HOUR_SLOTS)
        recent = recent_change(hour_mean, grid.asof_column, working, typical, growth, fitted.off_share)
        knee = recent.changed & ~fitted.accelerating & (surge == 0)
        rising = growth[:, WORK] > 0
        off_ratio = np.where(rising, growth[:, OFF] / np.where(rising, growth[:, WORK], 1.0), 1.0)
        growth = np.where(knee[:, None], recent.rate[:, None] * np.stack([off_ratio, np.ones(n)], axis=1), growth)
        # The typical day sits below its own peak everywhere (noise, a backup starting a little earlier
        # or later each night): it lifts the recent samples to today's peak. The path, though, must
        # reach the peak at its highest slot, so its shape is shifted up to touch 0.
        peak_today, start_gap = _anchor(grid, used, working, growth, typical)
        shape = typical - typical.max(axis=2, keepdims=True)
        held_for = _cleanup_hold(grid)
        today_pace, rest_of_today = _today_pace(grid, used, working, typical)
        return cls(
            growth=growth,
            growth_spread=growth_spread,
            level_spread=_peak_jitter(adjusted, working),
            shape=shape,
            peak_today=peak_today,
            held_for=held_for,
            surge=surge,
            amplitude=fitted.amplitude,
            speed=fitted.speed,
            off_share=fitted.off_share,
            # Imports the growth leaves out; a raw average growth has them in already.
            imports=np.where((outlying > 0) & ~selection.raw[:, None], outlying, 0.0)[:, :today],
            observed_days=np.sum(~np.isnan(change[:, :today]), axis=1).astype(np.float64),
            start_gap=start_gap,
            today_pace=today_pace,
            carried=(today_pace - 1.0) * rest_of_today,
        )


def _today_pace(
    grid: _Grid, used: FloatArray, working: BoolArray, typical: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """[series] how much faster than the typical day of its kind the asof day has risen so far (1 where not read or
    not faster), and [series] the typical day's rise still ahead of asof's slot, bytes.

    A day that has run at twice the usual pace since midnight (a busy day, a batch running long) fills a volume
    near full hours before the typical rest of the day would: public p0231, at 97.7 % at 14:15 after twice the
    usual morning's rise, filled at 18:45, was forecast the next day. The rest of the asof day rises at today's
    pace, and what it adds beyond the typical day stays in the level of the days after.
    """
    n = used.shape[0]
    today = LOOKBACK_DAYS
    rows = np.arange(n)
    slot = np.clip(grid.asof_column - today * SLOTS_PER_DAY, 0, SLOTS_PER_DAY - 1)
    day_shape = typical[rows, working[:, today].astype(np.int64)]  # [series, slot]
    # The first and the last hour of today, from the samples and from the typical day.
    last_hour = np.maximum(slot[:, None] - np.arange(HOUR_SLOTS)[None, :], 0)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an hour without samples: not read
        risen = np.nanmean(used[rows[:, None], today, last_hour], axis=1) - np.nanmean(
            used[:, today, :HOUR_SLOTS], axis=1
        )
        typical_risen = day_shape[rows[:, None], last_hour].mean(axis=1) - day_shape[:, :HOUR_SLOTS].mean(axis=1)
        pace = risen / typical_risen
        # A rise that one hour holds half of is an import, not a faster day (as for a surge, SURGE_STEP_SHARE).
        steepest = np.nanmax(used[:, today, HOUR_SLOTS:] - used[:, today, :-HOUR_SLOTS], axis=1)
    span = day_shape.max(axis=1) - day_shape.min(axis=1)
    read = (slot >= PACE_MIN_SLOTS) & (typical_risen > PACE_MIN_SHARE * span) & (typical_risen > 0) & np.isfinite(pace)
    read &= ~(steepest >= SURGE_STEP_SHARE * risen)
    pace = np.where(read, np.clip(np.nan_to_num(pace, nan=1.0), 1.0, PACE_MAX), 1.0)
    ahead = np.arange(SLOTS_PER_DAY)[None, :] >= slot[:, None]
    rest = np.where(ahead, day_shape, -np.inf).max(axis=1) - day_shape[rows, slot]
    return pace, np.maximum(rest, 0.0)


def _typical_peak(used: FloatArray, complete: BoolArray, peak: FloatArray) -> FloatArray:
    """[series, day] the daily peaks, or, where they jump about far more than the days' medians do, the median
    plus the series' typical height of the peak above it.

    Nightly backups whose size varies from night to night, or imports that come at random hours, make the
    day-over-day change of the maximum noisy while the level under them grows steadily. Growth, steps and the
    shape of the day are then read from that steadier level; the typical spike keeps it at peak height.
    """
    today = used.shape[1] - 1
    recent = slice(today - GROWTH_DAYS, today)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # days without samples: NaN medians, handled below
        middle = np.where(complete, nan_median(np.where(complete[:, :, None], used, np.nan), axis=2), np.nan)

        def jitter(level: FloatArray) -> FloatArray:
            """Median absolute deviation of the recent day-over-day changes."""
            change = np.diff(level[:, recent], axis=1)
            return nan_median(np.abs(change - nan_median(change, axis=1, keepdims=True)), axis=1)

        calmer = np.nan_to_num(jitter(middle), nan=np.inf) < CALMER_SHARE * np.nan_to_num(jitter(peak), nan=0.0)
        spike = nan_median(peak - middle, axis=1, keepdims=True)
    typical: FloatArray = np.where(calmer[:, None], middle + spike, peak)
    return typical


def _peak_jitter(adjusted: FloatArray, working: BoolArray) -> FloatArray:
    """[series] how far one day's peak lands from where the growth puts it: the robust standard deviation of
    the step-adjusted peaks' recent day-over-day changes about their day kind's typical change."""
    _, mad = _kind_excess(adjusted, working)
    return MAD_TO_SD * mad


def _trimmed_growth(change: FloatArray, working: BoolArray) -> tuple[FloatArray, FloatArray]:
    """[series, kind] trimmed mean day-over-day growth of the peaks over GROWTH_DAYS, leaning to the last days.

    Also returns the standard error of the trimmed mean.
    """
    n = change.shape[0]
    today = change.shape[1] - 1
    growth = np.zeros((n, 2))
    growth_spread = np.zeros((n, 2))
    recent_change = change[:, today - GROWTH_DAYS : today]
    recent_kind = working[:, today - GROWTH_DAYS : today]
    for kind in (OFF, WORK):  # two day kinds, not a per-series loop
        values = np.where(recent_kind == bool(kind), recent_change, np.nan)
        growth[:, kind], growth_spread[:, kind] = _trimmed_mean(values, axis=1, trim=TRIM, scratch=True)
    # A kind never seen recently (no day off in a make-up stretch) borrows the other kind's growth.
    for kind in (OFF, WORK):
        borrow = np.isnan(growth[:, kind])
        growth[:, kind] = np.where(borrow, growth[:, 1 - kind], growth[:, kind])
        growth_spread[:, kind] = np.where(borrow, growth_spread[:, 1 - kind], growth_spread[:, kind])
    growth = np.nan_to_num(growth)
    # Rates wander: the last few days say more about tomorrow than two weeks do, but are noisier.
    last = np.where(recent_kind[:, -RECENT_DAYS:], recent_change[:, -RECENT_DAYS:], np.nan)
    latest, _ = _trimmed_mean(last, axis=1, trim=0.5, spread=False, scratch=True)
    blend = np.where(np.isnan(latest), growth[:, WORK], latest)
    growth[:, WORK] = RECENT_WEIGHT * blend + (1 - RECENT_WEIGHT) * growth[:, WORK]
    growth_spread = np.nan_to_num(growth_spread)
    return growth, growth_spread


@dataclass(frozen=True, kw_only=True, slots=True)
class _FittedGrowth:
    """Growth of the daily peak from fits of its level, for series whose rate changed or accelerates."""

    growth: FloatArray  # [series, kind] growth per day at asof, bytes
    spread: FloatArray  # [series, kind] standard error of the kind-split linear fit, bytes
    amplitude: FloatArray  # [series] b of ``b exp(k t)``, bytes; 0 where not accelerating
    speed: FloatArray  # [series] k of ``b exp(k t)``, per effective day
    off_share: FloatArray  # [series] a day off's growth as a share of a working day's
    accelerating: BoolArray  # [series]
    changed: BoolArray  # [series] the rate changed clearly over the last days


def _fitted_growth(adjusted: FloatArray, working: BoolArray) -> _FittedGrowth:
    """Fits of the step-adjusted daily peaks: kind-split linear, broken line (rate change), quadratic.

    Time is counted in effective days: a working day is 1, a day off the share of a working day's growth
    it shows (0 for office-hours growth), so holidays do not look like a rate change.
    """
    today = adjusted.shape[1] - 1
    age = today - np.arange(adjusted.shape[1])
    valid = ~np.isnan(adjusted)
    y = np.nan_to_num(adjusted)
    window = valid & (age >= 1) & (age <= GROWTH_DAYS)
    kind = working.astype(np.float64)
    x = np.stack([np.ones_like(kind), np.cumsum(kind, axis=1), np.cumsum(1 - kind, axis=1)], axis=2)
    weight = np.where(window, np.exp(-age / GROWTH_TAU), 0.0)
    # A light pull of the two kinds towards each other: a kind barely seen (no day off in a make-up
    # stretch) takes the other's growth instead of an ill-defined one.
    pull = np.zeros((3, 3))
    pull[1:, 1:] = KIND_PULL * np.array([[1.0, -1.0], [-1.0, 1.0]])
    pull = pull * weight.sum(axis=1)[:, None, None]
    beta, cov, enough, _ = _wls(x, y, weight, pull)
    linear = np.where(enough[:, None], beta[:, [2, 1]], 0.0)  # [off, work]
    spread = np.where(enough[:, None], np.sqrt(np.maximum(cov[:, [2, 1], [2, 1]], 0.0)), 0.0)
    # Days off come in blocks (weekends, holiday weeks): on a curving level a straight split gives them the
    # growth of their place in the window, not their kind's (a growth speeding up looks slower at weekends
    # when asof is a Saturday). Where the curvature is clear, the split is read with the curvature fitted.
    since_today = (np.arange(adjusted.shape[1]) - today).astype(np.float64)
    curving = np.concatenate([x, np.broadcast_to((since_today**2)[None, :, None], (*x.shape[:2], 1))], axis=2)
    curved_beta, curved_cov, curved_enough, _ = _wls(curving, y, weight, np.pad(pull, ((0, 0), (0, 1), (0, 1))))
    curved = curved_enough & (np.abs(curved_beta[:, 3]) > CURVE_Z * np.sqrt(np.maximum(curved_cov[:, 3, 3], 0.0)))
    linear = np.where(curved[:, None], curved_beta[:, [2, 1]], linear)
    rising = linear[:, WORK] > 0
    off_share = np.clip(np.where(rising, linear[:, OFF] / np.where(rising, linear[:, WORK], 1.0), 1.0), 0.0, 1.0)
    t = np.cumsum(np.where(working, 1.0, off_share[:, None]), axis=1)
    t = t - t[:, [today]]
    changed, rate, change_sse = _rate_change(y, window.astype(np.float64), t)
    accelerating, amplitude, speed = _acceleration(y, window, t, rate, change_sse)
    rate = np.where(accelerating, amplitude * speed, rate)
    growth = rate[:, None] * np.stack([off_share, np.ones_like(off_share)], axis=1)
    return _FittedGrowth(
        growth=np.nan_to_num(growth),
        spread=np.nan_to_num(spread),
        amplitude=np.where(accelerating, amplitude, 0.0),
        speed=np.where(accelerating, speed, 0.0),
        off_share=off_share,
        accelerating=accelerating,
        changed=changed,
    )


def _trend(adjusted: FloatArray, working: BoolArray, off_share: FloatArray, capacity: FloatArray) -> Trend:
    """Local linear trend of the step-adjusted peaks of the complete days; a day off counts `off_share` of a day."""
    today = adjusted.shape[1] - 1
    history = adjusted[:, :today]
    exposure = np.where(working[:, :today], 1.0, off_share[:, None])
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a series without two complete days: no scale
        scale = nan_median(np.abs(np.diff(history, axis=1)), axis=1)
    # The scale only conditions the filter's arithmetic; a flat series takes a small share of capacity.
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1e-3 * capacity)
    return local_trend(history, exposure, scale)


def _kind_excess(peak: FloatArray, working: BoolArray) -> tuple[FloatArray, FloatArray]:
    """[series, day] each day's change of `peak` less the typical (median) change of its day kind over the last
    GROWTH_DAYS, NaN where there is no change; and [series] the median absolute excess over those days (0 if none).

    A kind without days there takes the other kind's typical change.
    """
    today = peak.shape[1] - 1
    window = slice(today - GROWTH_DAYS, today)
    change = np.full_like(peak, np.nan)
    change[:, 1:] = np.diff(peak, axis=1)
    kind = working.astype(np.int64)
    with np.errstate(all="ignore"):
        typical = np.stack(
            [nan_median(np.where(kind[:, window] == k, change[:, window], np.nan), axis=1) for k in (OFF, WORK)],
            axis=1,
        )
        typical = np.where(np.isnan(typical), np.nan_to_num(nan_median(typical, axis=1, keepdims=True)), typical)
        excess = change - np.take_along_axis(typical, kind, axis=1)
        mad = nan_median(np.abs(excess[:, window]), axis=1)
    return excess, np.nan_to_num(mad)


def _step_adjusted(peak: FloatArray, working: BoolArray, capacity: FloatArray) -> tuple[FloatArray, FloatArray]:
    """[series, day] daily peaks with one-off steps (bulk imports, one-off cleanups) taken out, and how far
    each outlying day's change stood out (0 on ordinary days).

    A day is outlying when its day-over-day change is further than STEP_MADS robust deviations (and STEP_FLOOR
    of capacity) from the typical change of its day kind. A step is an outlying day between two ordinary
    days: it moves the level, not the rate. A run of outlying days the same way is a new rate and is kept.
    """
    excess, mad = _kind_excess(peak, working)
    limit = STEP_MADS * MAD_TO_SD * mad[:, None] + STEP_FLOOR * capacity[:, None]
    outlier = np.sign(np.where(np.abs(excess) > limit, excess, 0.0))
    before = np.zeros_like(outlier)
    before[:, 1:] = outlier[:, :-1]
    after = np.zeros_like(outlier)
    after[:, :-1] = outlier[:, 1:]
    isolated = (outlier != 0) & (before != outlier) & (after != outlier)
    adjusted: FloatArray = peak - np.cumsum(np.where(isolated, excess, 0.0), axis=1)
    return adjusted, np.nan_to_num(np.where(outlier != 0, excess, 0.0))


def _rate_change(y: FloatArray, weight: FloatArray, t: FloatArray) -> tuple[BoolArray, FloatArray, FloatArray]:
    """[series] whether the growth rate changed over the last days, the rate since, the fit's squared error.

    A broken line ``a + b t + d max(0, t - knee)`` is fitted with the knee on each of the last
    CHANGE_MIN_DAYS..CHANGE_MAX_DAYS days in turn; the best knee counts when its change of slope ``d`` is
    clearly not noise (t statistic above CHANGE_T).
    """
    n, days = y.shape
    today = days - 1
    backs = np.arange(CHANGE_MIN_DAYS, CHANGE_MAX_DAYS + 1)
    knees = len(backs)
    # All candidate knees in one batch of fits, [knee x series, day, 3]: each fit is the same per-series
    # least squares as one knee at a time, so the results are too.
    hinge = np.maximum(t[None, :, :] - t[:, today - backs].T[:, :, None], 0.0)
    x = np.stack([np.ones_like(hinge), np.broadcast_to(t, hinge.shape), hinge], axis=3).reshape(knees * n, days, 3)
    ys = np.broadcast_to(y, (knees, n, days)).reshape(knees * n, days)
    weights = np.broadcast_to(weight, (knees, n, days)).reshape(knees * n, days)
    beta, cov, enough, sse_all = _wls(x, ys, weights, np.zeros((1, 3, 3)))
    sse = sse_all.reshape(knees, n)
    with np.errstate(all="ignore"):
        clear = (np.abs(beta[:, 2]) > CHANGE_T * np.sqrt(cov[:, 2, 2])).reshape(knees, n)
    enough = enough.reshape(knees, n)
    knee_rate = (beta[:, 1] + beta[:, 2]).reshape(knees, n)
    best_sse = np.full(n, np.inf)
    rate = np.zeros(n)
    for j in range(knees):  # candidate knees in order, not series
        better = enough[j] & clear[j] & (sse[j] < best_sse)
        best_sse = np.where(better, sse[j], best_sse)
        rate = np.where(better, knee_rate[j], rate)
    return np.isfinite(best_sse), rate, best_sse


def _acceleration(
    y: FloatArray, window: BoolArray, t: FloatArray, rate: FloatArray, change_sse: FloatArray
) -> tuple[BoolArray, FloatArray, FloatArray]:
    """[series] accelerating growth: ``a + b exp(k t)`` fits far better than a line, and than a broken line.

    k is tried on a grid (ACCEL_RATES, per effective day). Returns whether the series accelerates, its
    amplitude b (bytes) and rate k; the slope at asof (t = 0) is ``b k``.
    """
    n = y.shape[0]
    weight = window.astype(np.float64)
    line = np.stack([np.ones_like(t), t], axis=2)
    _, _, enough, line_sse = _wls(line, y, weight, np.zeros((1, 2, 2)), covariance=False)
    # All candidate rates in one batch of fits, [rate x series, day, 2]: the same per-series fits.
    days = y.shape[1]
    rates = len(ACCEL_RATES)
    curve = np.exp(np.array(ACCEL_RATES)[:, None, None] * t[None, :, :])
    x = np.stack([np.ones_like(curve), curve], axis=3).reshape(rates * n, days, 2)
    ys = np.broadcast_to(y, (rates, n, days)).reshape(rates * n, days)
    weights = np.broadcast_to(weight, (rates, n, days)).reshape(rates * n, days)
    beta_all, _, _, sse_all = _wls(x, ys, weights, np.zeros((1, 2, 2)), covariance=False)
    amplitudes = beta_all[:, 1].reshape(rates, n)
    sses = sse_all.reshape(rates, n)
    best_sse = np.full(n, np.inf)
    amplitude = np.zeros(n)
    speed = np.zeros(n)
    for j, k in enumerate(ACCEL_RATES):  # a few candidate rates in order, not series
        better = (amplitudes[j] > 0) & (sses[j] < best_sse)
        best_sse = np.where(better, sses[j], best_sse)
        amplitude = np.where(better, amplitudes[j], amplitude)
        speed = np.where(better, k, speed)
    accelerating = enough & (best_sse < ACCEL_SSE_SHARE * line_sse) & (best_sse < change_sse)
    accelerating &= amplitude * speed > rate
    return accelerating, amplitude, speed


def _wls(
    x: FloatArray, y: FloatArray, weight: FloatArray, penalty: FloatArray, covariance: bool = True
) -> tuple[FloatArray, FloatArray, BoolArray, FloatArray]:
    """Batched weighted least squares ``y ~ x @ beta`` per series.

    Returns beta [n, k], its covariance [n, k, k] (empty when `covariance` is False), whether there was
    enough data, and the weighted squared error [n].
    """
    k = x.shape[2]
    wx = weight[:, :, None] * x
    gram = np.einsum("ndi,ndj->nij", wx, x) + penalty + 1e-12 * np.eye(k)
    rhs = np.einsum("ndi,nd->ni", wx, y)
    beta = np.linalg.solve(gram, rhs[:, :, None])[:, :, 0]
    resid = y - np.einsum("ndi,ni->nd", x, beta)
    used = (weight > 0).sum(axis=1)
    wsum = np.maximum(weight.sum(axis=1), 1e-12)
    sse = (weight * resid**2).sum(axis=1)
    if not covariance:
        return beta, np.empty((0, k, k)), used > k, sse
    sigma2 = sse / wsum * used / np.maximum(used - k, 1)
    cov = np.linalg.inv(gram) * (sigma2 * wsum / np.maximum(used, 1))[:, None, None]
    return beta, cov, used > k, sse


def _anchor(
    grid: _Grid, used: FloatArray, working: BoolArray, growth: FloatArray, shape: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """[series] the asof day's peak, from the last ANCHOR_SLOTS samples lifted by the shape; and [series] the gap
    of the last hour: the mean of today's samples of it, lifted, less that peak (0 without any).

    Early in the day the peak is read mostly from yesterday's samples, carried by a day of growth. Where the growth
    or the shape changed lately (a new rate the day's shape does not show yet, a day off after a working day),
    the typical day through that peak can stand above or below what the last hour saw, and a volume at 99.8 %
    would be "full" at the next slot. The asof day's path moves by the gap at asof and by less each slot until
    midnight (_first_full); like every day's path, it stays shifted up to touch the daily peak.
    """
    n = used.shape[0]
    flat = used.reshape(n, -1)
    # Newest first: the first HOUR_SLOTS columns are the last hour.
    columns = grid.asof_column[:, None] - np.arange(ANCHOR_SLOTS)[None, :]
    valid = columns >= 0
    columns = np.maximum(columns, 0)
    day = columns // SLOTS_PER_DAY
    slot = columns % SLOTS_PER_DAY
    kind = np.take_along_axis(working, day, axis=1).astype(np.int64)
    rows = np.arange(n)[:, None]
    today = LOOKBACK_DAYS
    today_kind = working[:, today].astype(np.int64)
    # A sample of yesterday says what yesterday's peak was; today's is one day of growth further.
    carried = np.where(day < today, growth[np.arange(n), today_kind][:, None], 0.0)
    lifted = np.take_along_axis(flat, columns, axis=1) - shape[rows, kind, slot] + carried
    lifted = np.where(valid, lifted, np.nan)
    # Only today's samples for the gap: yesterday's are carried by the growth the gap is there to check.
    last_hour = np.where(day[:, :HOUR_SLOTS] == today, lifted[:, :HOUR_SLOTS], np.nan)
    estimate, _ = _trimmed_mean(lifted, axis=1, trim=0.5, spread=False, scratch=True)
    # Today's peak is at least the highest sample seen today.
    seen_today = np.where(day == today, np.take_along_axis(flat, columns, axis=1), -np.inf)
    with np.errstate(invalid="ignore"):
        seen = np.nanmax(np.where(valid, seen_today, -np.inf), axis=1)
    anchor: FloatArray = np.fmax(np.where(np.isnan(estimate), grid.last_used, estimate), seen)
    count = np.sum(~np.isnan(last_hour), axis=1)
    gap: FloatArray = np.nansum(last_hour - anchor[:, None], axis=1) / np.maximum(count, 1)
    return anchor, gap


def _cleanup_hold(grid: _Grid) -> FloatArray:
    """[series] seconds from asof for which repeated cleanups keep usage under capacity; 0 where there is no such
    pattern, +inf where they keep it under for good.

    A cleanup is a fall of at least CLEANUP_DROP of capacity from one sample to the next. When a
    volume was cleaned at least CLEANUP_MIN_COUNT times and always from about the same level, its
    cleanup is triggered by that level (a threshold or a retention job sized for it), not by the clock.
    Where those levels rise from one cleanup to the next (a retention window that holds more as the
    volume grows), the line through them says when the level the cleanups start from reaches capacity:
    the cleanups hold only until then.
    """
    step = np.diff(grid.used, axis=1)
    before = grid.used[:, :-1]
    falls = step < -CLEANUP_DROP * grid.capacity[:, None]
    # One cleanup can take several slots: count only the first fall of each run.
    starts = falls.copy()
    starts[:, 1:] &= ~falls[:, :-1]
    # Cleanups are rare: gather their levels rather than mask the whole grid (a level before a fall is
    # never NaN, so the max/min equal the NaN-aware ones over the grid).
    rows, columns = np.nonzero(starts)
    n = starts.shape[0]
    count = np.bincount(rows, minlength=n)
    level = before[rows, columns]
    high = np.full(n, -np.inf)
    low = np.full(n, np.inf)
    np.maximum.at(high, rows, level)
    np.minimum.at(low, rows, level)
    steady = (count >= CLEANUP_MIN_COUNT) & (high - low <= CLEANUP_LEVEL_SPREAD * grid.capacity)
    # A volume that already stands above that level without having been cleaned shows no such rule.
    steady &= grid.last_used <= high + CLEANUP_OVERSHOOT * grid.capacity

    # Least-squares line level = a + rise * column through each series' cleanup levels, from per-series sums.
    x = columns.astype(np.float64)
    sums = [np.bincount(rows, weights=w, minlength=n) for w in (x, level, x * x, x * level)]
    sx, sy, sxx, sxy = sums
    spread = count * sxx - sx * sx
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.where(spread > 0, (count * sxy - sx * sy) / spread, 0.0)  # bytes per slot
        level_at_asof = (sy - rise * sx) / count + rise * grid.asof_column
        slots_to_capacity = np.where(rise > 0, (grid.capacity - level_at_asof) / rise, np.inf)
    held_for = np.maximum(slots_to_capacity, 0.0) * SLOT_SECONDS
    return np.where(steady, held_for, 0.0)


def _surge(grid: _Grid, working: BoolArray, growth: FloatArray, shape: FloatArray) -> FloatArray:
    """[series] growth per slot of a recent rise the daily model does not explain, 0 if none.

    The residual ``used - shape - cumulated daily growth`` is flat for a series that behaves as its
    last weeks did. When it rose over the last hours (or the last day) by more than any rise of the
    same length in the history, and steadily over both halves of the window (a ramp, not a single
    import step), the growth rate changed: the forecast carries the new rate on.
    """
    n = grid.used.shape[0]
    # Only the last SURGE_HISTORY_DAYS are compared: rates wander, older rises say little.
    first = LOOKBACK_DAYS - SURGE_HISTORY_DAYS
    start = first * SLOTS_PER_DAY
    used = grid.used[:, start:]
    columns = used.shape[1]
    kind = working.astype(np.int64)
    # Per day, not per slot: the shape of the day's kind and the growth cumulated up to the day.
    day_shape = np.where(kind[:, first:, None] == WORK, shape[:, None, WORK], shape[:, None, OFF]).reshape(n, columns)
    kind_growth = np.take_along_axis(growth, kind, axis=1)
    lifted = np.repeat(np.cumsum(kind_growth, axis=1)[:, first:], SLOTS_PER_DAY, axis=1)
    # used - day_shape - lifted, in place of the temporaries
    np.subtract(used, day_shape, out=day_shape)
    day_shape -= lifted
    residual = _moving_mean(day_shape, SURGE_SMOOTH_SLOTS)
    now = grid.asof_column - start
    all_rows = np.arange(n)
    rate = np.zeros(n)
    # Longest window first, so that a steady rise over the last hours wins over the day's average.
    for window in SURGE_WINDOWS_SLOTS:
        half = window // 2
        # The rise over the window that ends at column c (from c = window on) is rise[:, c - window].
        rise = residual[:, window:] - residual[:, :-window]
        rise_now = np.where(now >= window, rise[all_rows, np.maximum(now - window, 0)], np.nan)
        first_half = residual[all_rows, np.maximum(now - half, 0)] - residual[all_rows, np.maximum(now - window, 0)]
        second_half = rise_now - first_half
        # The record is the largest |rise| (NaN-aware) of the windows ending at least max(2 window, a day)
        # before now, -inf where there is none. The first `common` rises are that far back for every series:
        # their largest |rise| is the larger of their max and minus their min, without a masked copy.
        last_past = now - max(2 * window, SLOTS_PER_DAY) - window  # index into rise
        common = max(int(last_past.min()) + 1, 0)
        past = np.arange(common, rise.shape[1])[None, :] <= last_past[:, None]
        # The last rise (now) is never past: -inf there keeps the record from being NaN.
        record = np.fmax.reduce(np.where(past, np.abs(rise[:, common:]), -np.inf), axis=1)
        if common > 0:
            head = rise[:, :common]
            record = np.fmax(record, np.fmax(np.fmax.reduce(head, axis=1), -np.fmin.reduce(head, axis=1)))
        ramp = (first_half > SURGE_HALF_SHARE * rise_now) & (second_half > SURGE_HALF_SHARE * rise_now)
        # The residual is a one-hour mean, so its rise over one hour (SURGE_SMOOTH_SLOTS) is a step's full height.
        inside = now[:, None] - np.arange(window - SURGE_SMOOTH_SLOTS)[None, :]
        hour_rise = residual[all_rows[:, None], np.maximum(inside, 0)]
        hour_rise -= residual[all_rows[:, None], np.maximum(inside - SURGE_SMOOTH_SLOTS, 0)]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an hour without samples: NaN, passed over
            steepest = np.nanmax(hour_rise, axis=1)
        ramp &= ~(steepest >= SURGE_STEP_SHARE * rise_now)
        surging = (rise_now > record) & (rise_now > SURGE_MIN_RISE * grid.capacity) & ramp
        rate = np.where(surging, rise_now / window, rate)
    return np.nan_to_num(rate)


def _moving_mean(values: FloatArray, width: int) -> FloatArray:
    """Trailing mean over `width` slots along the last axis, NaN-aware (NaN where all are missing)."""
    present = ~np.isnan(values)
    csum = np.where(present, values, 0.0)
    np.cumsum(csum, axis=1, out=csum)
    # Counts fit int32 (a row is days of slots); they convert to float exactly, as int64 counts do.
    ccount = np.cumsum(present, axis=1, dtype=np.int32)
    mean = np.empty_like(csum)
    mean[:, :width] = csum[:, :width]
    np.subtract(csum[:, width:], csum[:, :-width], out=mean[:, width:])
    count = np.empty_like(ccount)
    count[:, :width] = ccount[:, :width]
    np.subtract(ccount[:, width:], ccount[:, :-width], out=count[:, width:])
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(mean, count, out=mean)
    mean[count == 0] = np.nan
    return mean


def _trimmed_mean(
    values: FloatArray, axis: int, trim: float, spread: bool = True, scratch: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Mean of the middle (1 - 2 trim) share of the non-NaN values along `axis`, and its standard error.

    trim=0.5 gives the median. NaN where there is no value; the standard error is all NaN when `spread` is
    False (not computed). With `scratch`, `values` is a temporary of the caller's and is overwritten (sorted and
    summed in place) instead of copied.
    """
    ordered = values if scratch else values.copy()
    count = np.sum(~np.isnan(ordered), axis=axis)
    ordered.sort(axis=axis)  # NaN sort last
    low = np.minimum(np.floor(count * trim).astype(np.int64), np.maximum(count - 1, 0))
    high = np.maximum(count - low, low + 1)
    # Running sums: the sum of the i smallest values is cum[..., i - 1] (0 for i = 0). Only i <= count is read
    # where there is a value (high <= count), so the NaNs sorted last never reach a kept sum and need no
    # zeroing. (The values are finite or NaN: byte counts and their differences.)
    csq = np.cumsum(ordered * ordered, axis=axis) if spread else ordered
    csum = np.cumsum(ordered, axis=axis, out=ordered)

    def between(cum: FloatArray) -> FloatArray:
        top = np.take_along_axis(cum, np.expand_dims(high - 1, axis), axis=axis).squeeze(axis)
        below = np.take_along_axis(cum, np.expand_dims(np.maximum(low - 1, 0), axis), axis=axis).squeeze(axis)
        return top - np.where(low > 0, below, 0.0)

    kept = (high - low).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = between(csum) / kept
    if not spread:
        return np.where(count > 0, mean, np.nan), np.full_like(mean, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.maximum(between(csq) / kept - mean * mean, 0.0)
        # The trimmed middle understates the spread; rescale it as if no tail had been cut.
        stderr = np.sqrt(var * count / kept) / np.sqrt(np.maximum(count, 1))
    mean = np.where(count > 0, mean, np.nan)
    return mean, np.where(count > 0, stderr, np.nan)


class _PeakPaths:
    """The daily peaks ahead of a batch under a growth scenario: [series, day ahead], day 0 = the asof day."""

    def __init__(self, model: _PeakModel, future_kind: IntArray) -> None:
        self.model = model
        self.future_kind = future_kind  # [series, day after the asof day] OFF or WORK
        n = future_kind.shape[0]
        effective = np.where(future_kind == WORK, 1.0, model.off_share[:, None])
        ahead = np.concatenate([np.zeros((n, 1)), np.cumsum(effective, axis=1)], axis=1)
        self.accelerating = model.amplitude > 0
        with np.errstate(over="ignore"):  # an exponential far ahead passes any size: inf, as full as it gets
            self.bend = model.amplitude[:, None] * np.expm1(model.speed[:, None] * ahead)

    def peaks(self, growth: FloatArray, level_z: float) -> FloatArray:
        """[series, day ahead] peaks growing by ``growth`` [series, kind], ``level_z`` jitters above the line."""
        model = self.model
        n = growth.shape[0]
        day_growth = np.take_along_axis(growth, self.future_kind, axis=1)
        peaks = model.peak_today[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(day_growth, axis=1)], axis=1)
        # Accelerating growth follows its exponential instead of a constant daily growth.
        # The p10/p90 scenarios scale it as they scale the growth.
        with np.errstate(all="ignore"):
            scale = np.nan_to_num(growth[:, WORK] / model.growth[:, WORK], nan=1.0, posinf=1.0, neginf=1.0)
            bent = model.peak_today[:, None] + scale[:, None] * self.bend
        peaks = np.where(self.accelerating[:, None], bent, peaks)
        # What the asof day adds beyond the typical day at its faster pace stays from the next day on.
        peaks[:, 1:] += model.carried[:, None]
        # Each day's peak lands about the growth's line by its own jitter: within a day or two of a fill that, not
        # the growth, decides the hour (without it, fills predicted within 24 h had 34-65 % in their 80 % band).
        jittered: FloatArray = peaks + level_z * model.level_spread[:, None]
        return jittered


def _first_full(
    grid: _Grid,
    model: _PeakModel,
    scenarios: Sequence[tuple[FloatArray, float]],
    horizon_slots: int,
    cleanups: WeeklyCleanups,
) -> list[FloatArray]:
    """Per scenario (growth, z of the day's peak jitter), [series] seconds from asof until usage first reaches
    capacity; inf if never. The weekly cleanups still due add to the headroom from their slot on.

    The path is ``peak[day] + shape[kind, slot] + surge * steps``; only the peaks depend on the
    scenario, so the rest is laid out once as the headroom the peak must close. A day can be full only
    where its peak reaches the day's lowest headroom, so each scenario finds the first such day on
    [series, day] arrays and searches that day's slots only. The comparisons are the same ones a
    slot-by-slot search makes, so the first full slot is the same.
    """
    n = grid.used.shape[0]
    extra_days = horizon_slots // SLOTS_PER_DAY + 2
    working = grid.working(extra_days).astype(np.int64)
    today = LOOKBACK_DAYS
    rows = np.arange(n)
    # Days ahead (0 = the asof day) that hold a slot within the horizon for some series.
    span = (int(grid.asof_column.max()) + horizon_slots) // SLOTS_PER_DAY - today + 1
    # [day ahead, slot] position from the asof day's 00:00; the path is the positions after the asof slot
    # up to horizon_slots steps on.
    position = np.arange(span * SLOTS_PER_DAY).reshape(span, SLOTS_PER_DAY)
    asof_position = grid.asof_column - today * SLOTS_PER_DAY
    last_position = asof_position + horizon_slots
    kind = working[:, today : today + span]
    by_kind = grid.capacity[:, None, None] - model.shape  # [series, kind, slot] headroom without the surge
    surging = model.surge != 0
    scheduled = cleanups.scheduled

    def day_headroom(series: IntArray, days: IntArray) -> FloatArray:
        """[pair, slot] headroom of day `days[k]` ahead for series `series[k]`; NaN off the path."""
        steps = position[days] - asof_position[series, None]
        headroom = by_kind[series, kind[series, days]]
        # Only rising residuals carry a surge; elsewhere subtracting 0 would change nothing.
        surge = model.surge[series, None]
        headroom = np.where(surging[series, None], headroom - surge * steps, headroom)
        # The asof day's path starts from the last hour's usage and reaches the model's by the day's last slot.
        to_midnight = SLOTS_PER_DAY - 1 - asof_position[series, None]
        fade = np.where((days == 0)[:, None], np.clip(1.0 - steps / np.maximum(to_midnight, 1), 0.0, 1.0), 0.0)
        headroom = headroom - model.start_gap[series, None] * fade
        headroom = np.where(scheduled[series, None], headroom + cleanups.freed_by(series, steps), headroom)
        # The rest of the asof day rises at today's pace (_today_pace): its typical rise from the asof slot, scaled.
        shape = model.shape[series, kind[series, days]]
        at_asof = shape[np.arange(len(series)), np.clip(asof_position[series], 0, SLOTS_PER_DAY - 1)]
        faster = (days == 0) & (model.today_pace[series] > 1.0)
        rest = np.maximum(shape - at_asof[:, None], 0.0)
        headroom = headroom - np.where(faster[:, None], (model.today_pace[series, None] - 1.0) * rest, 0.0)
        # Off the path: NaN, with which no comparison holds and which fmin passes over.
        return np.where((steps >= 1) & (steps <= horizon_slots), headroom, np.nan)

    # The lowest headroom of each day: of its kind's whole day where the day lies on the path and carries no
    # surge, from the day's own slots where the path starts or ends in it or a surge rises through it (or, for a
    # volume with weekly cleanups, one may be due).
    day_start, day_end = position[None, :, 0], position[None, :, -1]
    whole = (day_start > asof_position[:, None]) & (day_end <= last_position[:, None])
    off = (day_end <= asof_position[:, None]) | (day_start > last_position[:, None])
    day_low = np.where(whole, np.take_along_axis(np.fmin.reduce(by_kind, axis=2), kind, axis=1), np.nan)
    edge_series, edge_days = np.nonzero(~off & (~whole | surging[:, None] | scheduled[:, None]))
    day_low[edge_series, edge_days] = np.fmin.reduce(day_headroom(edge_series, edge_days), axis=1)

    future_kind = working[:, today + 1 :]
    full_now = grid.last_used >= grid.capacity
    paths = _PeakPaths(model, future_kind)
    offsets = []
    for growth, level_z in scenarios:  # a few scenarios, not series
        peaks = paths.peaks(growth, level_z)[:, :span]
        full_day = peaks >= day_low
        day = np.argmax(full_day, axis=1)
        slot = np.argmax(peaks[rows, day][:, None] >= day_headroom(rows, day), axis=1)
        offset = grid.asof_slot_offset(position[day, slot] - asof_position).astype(np.float64)
        # Repeated cleanups from about the same level start again before the volume fills, while they hold.
        offset = np.where(full_day.any(axis=1), np.maximum(offset, model.held_for), np.inf)
        offsets.append(np.where(full_now, 0.0, offset))
    return offsets
