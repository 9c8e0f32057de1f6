"""A change of growth rate in the last one to three days, before the daily peaks can show it.

The model reads growth from the peaks of complete days; its broken-line fit needs a knee at least
CHANGE_MIN_DAYS back and a clear slope on both sides. A rate that changed yesterday or this morning is still
averaged with the weeks before, so the forecast runs on the old rate: a volume whose growth slowed to a
third fills days later than forecast, one whose growth tripled days earlier.

The last days are read at asof's time of day instead: usage at asof, 24 h before, 48 h before and so on
(each a one-hour mean, so one noisy sample does not decide), each lifted by its day kind's typical shape at
that slot to the level of its day's peak. Their differences are day-over-day growths of the peak that
include the running day up to asof, so a change since this morning is in the first of them.

The last j of those growths (j = 1, 2, 3; the most recent clear change decides, and where the model follows
it already nothing changes) carry a new rate when
- they all stand on the same side of the median growth of the KNEE_BEFORE_DAYS days before them, and their
  mean differs from it by more than KNEE_T robust standard errors (KNEE_T_ONE_DAY for a single day, as one
  window holds one day's noise and the shape of two day kinds);
- their mean differs from the model's growth by more than a factor KNEE_RATIO either way (the model may
  have followed the change already);
- for a rise: no single hour of the recent windows holds KNEE_STEP_SHARE of the rise above the usual
  growth. A rise in one step is a bulk import, a level change the import model handles, not a new rate.
Days off count in working-day units (divided by the series' off-day share); where days off grow less than
half a working day, they are left out, as they say little about a working day's growth.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dizuo.capacity.forecast_select import nan_median
from dizuo.capacity.types import FloatArray, IntArray

BoolArray = npt.NDArray[np.bool_]
SLOTS_PER_DAY = 96
# The level at a time of day is the mean of the last hour's samples (the caller's trailing mean over HOUR_SLOTS),
# so one noisy sample does not decide.
HOUR_SLOTS = 4
# How many of the last days may carry the new rate, and how many before them give the usual growth (at least
# KNEE_MIN_BEFORE of them with a growth to read).
KNEE_RECENT_DAYS, KNEE_BEFORE_DAYS, KNEE_MIN_BEFORE = (1, 2, 3), 10, 4
# Robust t of the recent mean growth against the usual one; a single day must stand out further.
KNEE_T, KNEE_T_ONE_DAY = 4.0, 8.0
# The new rate must differ from the model's growth by this factor, up or down, to replace it.
KNEE_RATIO = 1.3
# A rise with this share of it within one hour is a step (an import), not a rate.
KNEE_STEP_SHARE = 0.5
# A day off counts when it grows at least this share of a working day.
KNEE_MIN_OFF_SHARE = 0.5
MAD_TO_SD = 1.4826  # median absolute deviation to standard deviation, for normal noise
OFF, WORK = 0, 1


@dataclass(frozen=True, kw_only=True, slots=True)
class RecentChange:
    """Per series: whether the growth rate changed in the last days, and the working-day growth since."""

    changed: BoolArray  # [series]
    rate: FloatArray  # [series] bytes per working day; 0 where not changed


def recent_change(
    hour_mean: FloatArray,
    asof_column: IntArray,
    working: BoolArray,
    shape: FloatArray,
    growth: FloatArray,
    off_share: FloatArray,
) -> RecentChange:
    """Test each series for a rate change in its last days (module docstring).

    hour_mean: [series, day x slot] trailing mean over HOUR_SLOTS of the usage on the local grid (NaN where
    there is no sample), the last day the asof day.
    asof_column: [series] column of the last sample. working: [series, day] over the grid's days.
    shape: [series, kind, slot] the typical distance below the day's peak. growth: [series, kind] the
    model's growth per day. off_share: [series] a day off's growth as a share of a working day's.
    """
    n = hour_mean.shape[0]
    today = hour_mean.shape[1] // SLOTS_PER_DAY - 1
    rows = np.arange(n)[:, None]

    def at(columns: IntArray) -> FloatArray:
        """[series, k] the hour mean at each column; NaN before the grid."""
        return np.where(columns >= 0, hour_mean[rows, np.maximum(columns, 0)], np.nan)

    days_back = np.arange(max(KNEE_RECENT_DAYS) + KNEE_BEFORE_DAYS + 1)
    # [series, k] the level of day today - k at asof's time of day, lifted to the day's peak by its kind's shape.
    level = at(asof_column[:, None] - SLOTS_PER_DAY * days_back[None, :])
    kinds = working[:, today - days_back].astype(np.int64)
    slot_shape = shape[np.arange(n), :, asof_column % SLOTS_PER_DAY]  # [series, kind]
    level -= np.take_along_axis(slot_shape, kinds, axis=1)
    # [series, k] growth of day today - k (the later day's kind, as the peak model counts it), per working day.
    per_working_day = np.where(kinds[:, :-1] == WORK, 1.0, off_share[:, None])
    counted = per_working_day >= KNEE_MIN_OFF_SHARE
    day_growth = np.where(counted, (level[:, :-1] - level[:, 1:]) / np.where(counted, per_working_day, 1.0), np.nan)
    # The largest one-hour move inside each recent window: a step there is an import, not a rate.
    recent = asof_column[:, None] - np.arange(max(KNEE_RECENT_DAYS) * SLOTS_PER_DAY)[None, :]
    hourly = np.abs(at(recent) - at(recent - HOUR_SLOTS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a window without samples: NaN, fails the test below
        largest_hour = np.nanmax(hourly.reshape(n, max(KNEE_RECENT_DAYS), SLOTS_PER_DAY), axis=2)

    model_rate = growth[:, WORK]
    changed = np.zeros(n, dtype=bool)
    decided = np.zeros(n, dtype=bool)
    rate = np.zeros(n)
    # Most recent first: the first clear change is the freshest rate. Where the model follows it already,
    # older windows, which straddle the change, are not read.
    for days in KNEE_RECENT_DAYS:
        recent = day_growth[:, :days]
        before = day_growth[:, days : days + KNEE_BEFORE_DAYS]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # too few days: NaN, fails the tests below
            new = np.nanmean(recent, axis=1)
            usual = nan_median(before, axis=1)
            spread = MAD_TO_SD * nan_median(np.abs(before - usual[:, None]), axis=1)
            # A floor of 0.1 % of the usual growth: a noise-free history (spread 0) makes no wobble infinitely clear.
            t = np.abs(new - usual) / (spread / np.sqrt(days) + 1e-3 * usual)
            seen = (~np.isnan(recent)).all(axis=1) & (np.sum(~np.isnan(before), axis=1) >= KNEE_MIN_BEFORE)
            rising = new > usual
            one_side = np.all((recent > usual[:, None]) == rising[:, None], axis=1)
            ramp = np.all(largest_hour[:, :days] < KNEE_STEP_SHARE * np.abs(recent - usual[:, None]), axis=1)
            off_model = (new > KNEE_RATIO * model_rate) | (new < model_rate / KNEE_RATIO)
            clear = t > (KNEE_T_ONE_DAY if days == 1 else KNEE_T)
        clear_change = ~decided & seen & (new > 0) & (usual > 0) & (model_rate > 0) & one_side & clear
        clear_change &= ~rising | ramp
        hit = clear_change & off_model
        rate = np.where(hit, new, rate)
        changed |= hit
        decided |= clear_change
    return RecentChange(changed=changed, rate=rate)
