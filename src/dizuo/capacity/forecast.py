"""Storage-exhaustion forecaster: when will each volume or pool be full, as of its last sample.

All series of a batch are laid on one padded 2-D grid of local (Asia/Shanghai) days x 15-minute
slots, so every step is an array operation over all series at once.

Model: usage moves by a typical increment in each 15-minute slot of the day, one profile for working
days and one for days off (mainland-China calendar, make-up working days included). The profile is a
trimmed mean over recent days, so a daily log rotation or a nightly backup that is freed hours later
(the same slots every day) stays in it, while one-off cleanups and bulk imports (rare, large) are
trimmed away. The future path is the last sample plus the cumulated profile, slot by slot, so the
nightly peak is part of the path: a backup that overflows for 15 minutes makes the volume full.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dizuo.capacity.calendar_cn import SECONDS_PER_DAY, UTC_OFFSET_SECONDS, is_working_day
from dizuo.capacity.types import FloatArray, Forecast, IntArray, UsageHistory

SLOT_SECONDS = 900
SLOTS_PER_DAY = SECONDS_PER_DAY // SLOT_SECONDS
# History looked at: the benchmark gives 28 days; more adds little for 30-day horizons.
LOOKBACK_DAYS = 28
# Days whose increments feed the slot profile: recent enough to follow rate changes, long enough
# to hold two weeks of working days and four weekends.
PROFILE_DAYS = 21
# Share of the per-slot samples trimmed at each end: drops and jumps that do not recur daily.
TRIM = 0.25
# Series per batch: bounds memory (batch x horizon slots x 8 bytes) while keeping arrays large.
BATCH = 1024
DEFAULT_HORIZON_SECONDS = 30 * SECONDS_PER_DAY

BoolArray = npt.NDArray[np.bool_]


def forecast_histories(
    histories: Sequence[UsageHistory], horizon_seconds: int = DEFAULT_HORIZON_SECONDS
) -> list[Forecast]:
    """One forecast per history, same order; times are unix seconds, ``None`` = not within the horizon."""
    forecasts: list[Forecast] = []
    for start in range(0, len(histories), BATCH):
        forecasts.extend(_forecast_batch(histories[start : start + BATCH], horizon_seconds))
    return forecasts


def _forecast_batch(histories: Sequence[UsageHistory], horizon_seconds: int) -> list[Forecast]:
    n = len(histories)
    if n == 0:
        return []
    grid = _Grid.build(histories)
    profile = _slot_profile(grid)
    horizon_slots = max(1, horizon_seconds // SLOT_SECONDS)
    steps = _future_increments(grid, profile, horizon_slots)
    path = grid.last_used[:, None] + np.cumsum(steps, axis=1)
    full = path >= grid.capacity[:, None]
    fills = full.any(axis=1)
    first = np.argmax(full, axis=1)
    # Offsets in seconds from asof of the first full slot; the path starts at the slot after asof.
    offset = (grid.asof_slot_offset(first + 1)).astype(np.float64)
    offset = np.where(fills, offset, np.inf)
    offset = np.where(grid.last_used >= grid.capacity, 0.0, offset)
    low = offset * 0.8
    high = offset * 1.25
    return [
        Forecast(
            series=h.series,
            asof=int(grid.asof[i]),
            exhaustion_at=_at(grid.asof[i], offset[i], horizon_seconds),
            p10=_at(grid.asof[i], low[i], horizon_seconds),
            p90=_at(grid.asof[i], high[i], horizon_seconds),
            used_bytes=float(grid.last_used[i]),
            capacity_bytes=float(grid.capacity[i]),
            labels=dict(h.labels),
        )
        for i, h in enumerate(histories)
    ]


def _at(asof: np.int64, offset: float, horizon_seconds: int) -> int | None:
    if not np.isfinite(offset) or offset > horizon_seconds:
        return None
    return int(asof) + int(offset)


@dataclass(frozen=True, kw_only=True, slots=True)
class _Grid:
    """Usage of a batch on a [series, local day x slot] grid; NaN where a sample is missing."""

    used: FloatArray  # [series, (LOOKBACK_DAYS + 1) * SLOTS_PER_DAY], column 0 = first_day 00:00 local
    asof: IntArray  # unix seconds of each series' last sample
    first_day: IntArray  # local day number of column 0
    asof_column: IntArray  # column of the last sample
    last_used: FloatArray
    capacity: FloatArray  # the last capacity: a volume enlarged during the history keeps its new size

    @classmethod
    def build(cls, histories: Sequence[UsageHistory]) -> _Grid:
        n = len(histories)
        days = LOOKBACK_DAYS + 1
        lengths = np.array([len(h.timestamps) for h in histories], dtype=np.int64)
        if (lengths == 0).any():
            empty = histories[int(np.argmax(lengths == 0))].series
            raise ValueError(f"series {empty!r} has no samples")
        ts = np.concatenate([np.asarray(h.timestamps, dtype=np.int64) for h in histories])
        used = np.concatenate([np.asarray(h.used_bytes, dtype=np.float64) for h in histories])
        ends = np.cumsum(lengths) - 1
        asof = ts[ends]
        last_used = used[ends]
        capacity = np.concatenate([np.asarray(h.capacity_bytes, dtype=np.float64) for h in histories])[ends]
        row = np.repeat(np.arange(n), lengths)
        local = ts + UTC_OFFSET_SECONDS
        asof_day = (asof + UTC_OFFSET_SECONDS) // SECONDS_PER_DAY
        first_day = asof_day - LOOKBACK_DAYS
        # Samples snap to the nearest slot of their local day; a late scrape is still that slot.
        col = (local - first_day[row] * SECONDS_PER_DAY + SLOT_SECONDS // 2) // SLOT_SECONDS
        asof_column = ((asof + UTC_OFFSET_SECONDS) - first_day * SECONDS_PER_DAY) // SLOT_SECONDS
        keep = (col >= 0) & (col <= asof_column[row]) & np.isfinite(used)
        grid = np.full((n, days * SLOTS_PER_DAY), np.nan)
        grid[row[keep], col[keep]] = used[keep]
        return cls(
            used=grid,
            asof=asof,
            first_day=first_day,
            asof_column=asof_column,
            last_used=last_used,
            capacity=capacity,
        )

    def working(self, extra_days: int = 0) -> BoolArray:
        """[series, day] working-day flags over the history days and `extra_days` after them."""
        total = LOOKBACK_DAYS + 1 + extra_days
        return is_working_day(self.first_day[:, None] + np.arange(total)[None, :])

    def asof_slot_offset(self, steps: IntArray) -> IntArray:
        """Seconds from asof to the slot `steps` after the asof slot (asof may sit inside a slot)."""
        asof_slot_start = self.first_day * SECONDS_PER_DAY + self.asof_column * SLOT_SECONDS
        return asof_slot_start - (self.asof + UTC_OFFSET_SECONDS) + steps * SLOT_SECONDS


def _slot_profile(grid: _Grid) -> FloatArray:
    """[series, 2, slot] typical increment per slot on days off (0) and working days (1)."""
    n = grid.used.shape[0]
    days = LOOKBACK_DAYS + 1
    inc = np.full_like(grid.used, np.nan)
    inc[:, 1:] = np.diff(grid.used, axis=1)
    inc = inc.reshape(n, days, SLOTS_PER_DAY)[:, -PROFILE_DAYS:, :]
    working = grid.working()[:, -PROFILE_DAYS:]
    profile = np.empty((n, 2, SLOTS_PER_DAY))
    for kind in (0, 1):  # two day kinds, not a per-series loop
        values = np.where((working == bool(kind))[:, :, None], inc, np.nan)
        profile[:, kind, :] = _trimmed_mean(values, axis=1)
    # A day kind never seen recently (e.g. no day off in a holiday-free stretch) borrows the other.
    for kind in (0, 1):
        missing = np.isnan(profile[:, kind, :])
        profile[:, kind, :] = np.where(missing, profile[:, 1 - kind, :], profile[:, kind, :])
    return np.nan_to_num(profile, nan=0.0)


def _trimmed_mean(values: FloatArray, axis: int) -> FloatArray:
    """Mean of the middle (1 - 2*TRIM) share of the non-NaN values along `axis`."""
    ordered = np.sort(values, axis=axis)  # NaN sort last
    count = np.sum(~np.isnan(values), axis=axis)
    low = np.floor(count * TRIM).astype(np.int64)
    high = np.maximum(count - low, low + 1)
    filled = np.nan_to_num(ordered, nan=0.0)
    csum = np.cumsum(filled, axis=axis)
    csum = np.concatenate([np.zeros_like(np.take(csum, [0], axis=axis)), csum], axis=axis)
    top = np.take_along_axis(csum, np.expand_dims(high, axis), axis=axis).squeeze(axis)
    bottom = np.take_along_axis(csum, np.expand_dims(low, axis), axis=axis).squeeze(axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = (top - bottom) / (high - low)
    return np.where(count > 0, mean, np.nan)


def _future_increments(grid: _Grid, profile: FloatArray, horizon_slots: int) -> FloatArray:
    """[series, step] expected increment of each future slot after the asof slot."""
    n = grid.used.shape[0]
    extra_days = horizon_slots // SLOTS_PER_DAY + 2
    working = grid.working(extra_days).astype(np.int64)
    columns = grid.asof_column[:, None] + 1 + np.arange(horizon_slots)[None, :]
    day = columns // SLOTS_PER_DAY
    slot = columns % SLOTS_PER_DAY
    kind = np.take_along_axis(working, day, axis=1)
    rows = np.arange(n)[:, None]
    steps: FloatArray = profile[rows, kind, slot]
    return steps
