"""Per-series choice of the growth rate by self-backtesting on the series' own daily peaks.

The model's default growth is a trimmed mean of the day-over-day growth of the step-adjusted daily
peaks: one-off bulk imports and cleanups are trimmed away as level changes. For most volumes that is
right, but for a volume fed by *recurring* imports (or batch loads every few days) the imports are the
growth, and trimming them forecasts a fill weeks too late. The history itself says which view holds:
from several cut points inside it, each candidate forecasts the raw daily peaks of the days after the
cut, and its errors against what the peaks then did score it.

Candidates: the default growth, and the raw average growth (imports and cleanups included) over the
last RAW_DAYS days. The raw average replaces the default only where its backtest error is clearly
lower (below SWITCH_SHARE of the default's): the backtest is short, so a narrow win is noise.
Shorter and longer trimmed windows (2, 4, 7, 14 working days) were tried as candidates too; on the
benchmark they did not beat the default on either half, so they are not kept.
Everything is [series, day] arrays; loops run over cut points, never over series.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dizuo.capacity.types import FloatArray

BoolArray = npt.NDArray[np.bool_]
# Days of the raw average growth and of the off-day share: two weeks hold several import cycles
# and two weekends.
RAW_DAYS = 14
# Cut points: complete days before the last complete day; each cut forecasts the days after it.
CUTS = (1, 2, 3, 4, 5, 7, 9)
# Leads scored per cut: up to this many days after the cut.
MAX_LEAD = 6
# The raw average must cut the default's backtest error to this share to replace it.
SWITCH_SHARE = 0.7
OFF, WORK = 0, 1


@dataclass(frozen=True, kw_only=True, slots=True)
class Selection:
    """The growth chosen per series and the backtest behind the choice."""

    growth: FloatArray  # [series, kind] day-over-day growth of the daily peak from asof, bytes
    raw: BoolArray  # [series] the raw average (steps included) was chosen over the default
    default_error: FloatArray  # [series] mean absolute backtest error of the default, bytes; inf if untested
    raw_error: FloatArray  # [series] same for the raw average
    rate_error: FloatArray  # [series] mean absolute backtest error per day of lead of the chosen growth, bytes


def select_growth(peak: FloatArray, adjusted: FloatArray, working: BoolArray, default: FloatArray) -> Selection:
    """Backtest the default against the raw average growth and keep the better per series.

    peak, adjusted: [series, day] daily peaks as seen and with one-off steps taken out, NaN where a day
    is incomplete; the last column is the running (asof) day and is not used. working: [series, day].
    default: [series, kind] the model's default growth from asof.
    """
    n, days = peak.shape
    last = days - 2  # the last complete day
    change = np.full_like(adjusted, np.nan)
    change[:, 1:] = np.diff(adjusted, axis=1)
    raw_change = np.full_like(peak, np.nan)
    raw_change[:, 1:] = np.diff(peak, axis=1)
    error = np.zeros((n, 2))
    per_day = np.zeros((n, 2))
    counted = np.zeros((n, 2))
    # Both candidates at every cut point and at asof, in one batch: [cut, series, kind].
    ends = np.array([last - cut for cut in CUTS] + [last])
    defaults, raws = _candidates(change, raw_change, working, ends)
    for c, cut in enumerate(CUTS):  # a few cut points, not series
        end = last - cut
        target = end + np.arange(1, min(cut, MAX_LEAD) + 1)
        kind = working[:, target].astype(np.int64)
        actual = peak[:, target] - peak[:, [end]]
        for j, growth in enumerate((defaults[c], raws[c])):
            rise = np.cumsum(np.take_along_axis(growth, kind, axis=1), axis=1)
            err = np.abs(rise - actual)
            seen = ~np.isnan(err)
            error[:, j] += np.where(seen, err, 0.0).sum(axis=1)
            per_day[:, j] += np.where(seen, err / (target - end), 0.0).sum(axis=1)
            counted[:, j] += seen.sum(axis=1)
    with np.errstate(all="ignore"):
        mean_error = np.where(counted > 0, error / counted, np.inf)
        day_error = np.where(counted > 0, per_day / counted, 0.0)
    raw = mean_error[:, 1] < SWITCH_SHARE * mean_error[:, 0]
    raw_now = raws[-1]
    return Selection(
        growth=np.where(raw[:, None], raw_now, default),
        raw=raw,
        default_error=mean_error[:, 0],
        raw_error=mean_error[:, 1],
        rate_error=np.where(raw, day_error[:, 1], day_error[:, 0]),
    )


def _candidates(
    change: FloatArray, raw_change: FloatArray, working: BoolArray, ends: npt.NDArray[np.int64]
) -> tuple[FloatArray, FloatArray]:
    """[end, series, kind] the default and the raw average growth from the days up to each end (inclusive).

    The default is rebuilt here as the model computes it at asof: half the median of the last working
    days' growth, half the trimmed mean of the last RAW_DAYS days. A day off grows by the share of a
    working day's growth the last RAW_DAYS days show (0 for office-hours growth, 1 for steady growth).
    """
    days = change.shape[1]
    # [end, 1, day]: all ends at once; every reduction below runs along the days of one series and one end.
    index = np.arange(days)[None, None, :]
    end = ends[:, None, None]
    span = (index <= end) & (index > end - RAW_DAYS)
    recent = (index <= end) & (index > end - 5)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a series without a day off in the span: NaN
        off_typical = nan_median(np.where(~working & span, change, np.nan), axis=2)
        work_typical = _trimmed(np.where(working & span, change, np.nan), 0.2)
        latest = _trimmed(np.where(working & recent, change, np.nan), 0.5)
    work_typical = np.nan_to_num(work_typical)
    rising = work_typical > 0
    ratio = np.clip(off_typical / np.where(rising, work_typical, 1.0), 0.0, 1.0)
    share = np.where(rising & ~np.isnan(off_typical), ratio, 1.0)
    blend = 0.5 * np.where(np.isnan(latest), work_typical, latest) + 0.5 * work_typical
    seen = span & ~np.isnan(raw_change)
    total = np.sum(np.where(seen, raw_change, 0.0), axis=2)
    effective = np.sum(np.where(seen, np.where(working, 1.0, share[:, :, None]), 0.0), axis=2)
    with np.errstate(all="ignore"):
        raw = np.where(effective > 0, total / effective, work_typical)
    return np.stack([share * blend, blend], axis=2), np.stack([share * raw, raw], axis=2)


def _trimmed(values: FloatArray, trim: float) -> FloatArray:
    """Trimmed mean of the non-NaN values along the last axis (trim 0.5 = median); NaN where there is none."""
    ordered = np.sort(values, axis=-1)  # NaN sort last
    count = np.sum(~np.isnan(values), axis=-1)
    low = np.minimum(np.floor(count * trim).astype(np.int64), np.maximum(count - 1, 0))
    high = np.maximum(count - low, low + 1)
    zero = np.zeros((*values.shape[:-1], 1))
    csum = np.concatenate([zero, np.cumsum(np.nan_to_num(ordered), axis=-1)], axis=-1)
    with np.errstate(all="ignore"):
        top = np.take_along_axis(csum, high[..., None], axis=-1)[..., 0]
        bottom = np.take_along_axis(csum, low[..., None], axis=-1)[..., 0]
        mean = (top - bottom) / (high - low)
    result: FloatArray = np.where(count > 0, mean, np.nan)
    return result


def nan_median(values: FloatArray, axis: int, keepdims: bool = False) -> FloatArray:
    """``np.nanmedian`` of finite-or-NaN values, without its masked-array detour for short axes.

    The same sums: the mean of the two middle values (a middle value counted twice for an odd count) of the
    sorted non-NaN values, NaN where there is none. numpy takes the masked-array route for axes shorter than
    600, which costs more than the medians themselves here.
    """
    ordered = np.sort(values, axis=axis)  # NaN sort last
    count = np.sum(~np.isnan(values), axis=axis, keepdims=True)
    high = count // 2
    low = np.where(count % 2 == 1, high, high - 1)
    size = values.shape[axis]
    pair = np.take_along_axis(ordered, np.clip(np.concatenate([low, high], axis=axis), 0, size - 1), axis=axis)
    with np.errstate(all="ignore"):
        median = np.sum(pair, axis=axis, keepdims=True) / 2.0
    result: FloatArray = np.where(count > 0, median, np.nan)
    return result if keepdims else np.squeeze(result, axis=axis)
