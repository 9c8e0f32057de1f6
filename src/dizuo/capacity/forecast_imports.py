"""Bulk imports: when the next imports, not only the growth between them, fill a volume.

The model's growth leaves bulk imports out: a one-off step of the daily peak is a level change, and the
trimmed mean of day-over-day changes drops the days that jump. For a volume fed by imports every few days
that forecasts a fill too late: the fill comes with an import, days before the growth between imports alone
gets there. So every day whose peak rose by far more than a typical day's (an outlying day of the step
detector, alone or in a run) counts as an import of the size it stood out by, and the imports are read as a
compound Poisson process (an import arrives at the rate seen over the history, its size drawn from the sizes
seen) on top of the model's own path, taken as its average rate from asof to its fill. Where the model
already grows by the raw average (imports included: forecast_select), there is nothing to add. One import in
four weeks is a rate of 1/28 a day: it moves the median only of a volume the path takes weeks to fill and
that one such import would fill (a one-off migration stays, in effect, a level). Growth and imports only
add, so the volume is full by time t exactly when the path plus the imports so far reach the headroom:

    P(full by t) = sum_k Poisson(k; rate t) * P(sum of k import sizes >= headroom - base t)

The chance that k sizes sum to the headroom is computed exactly, one import at a time, on a grid of BINS
steps of the headroom (an import larger than the headroom fills at once). The quantiles of that
distribution can only be earlier than the model's own (imports add usage); the forecaster keeps the earlier.

Everything is [series, ...] arrays over the series with imports; loops run over the number of
imports and the quantiles, never over series.
"""

from __future__ import annotations

import numpy as np

from dizuo.capacity.calendar_cn import SECONDS_PER_DAY
from dizuo.capacity.types import FloatArray

# Steps of the headroom the import sizes are rounded to (sizes above the headroom fill at once).
BINS = 128
# Imports counted per series within the horizon: until the chance of more is below TAIL, at most MAX_IMPORTS (a
# fill that needs more imports than that, over a long horizon, keeps the model's own date).
MAX_IMPORTS = 64
TAIL = 1e-4
# Time step of the first-passage distribution, seconds.
STEP_SECONDS = 3600


def passage_quantiles(
    imports: FloatArray,
    observed_days: FloatArray,
    headroom: FloatArray,
    base_offset: FloatArray,
    quantiles: tuple[float, ...],
    horizon_seconds: int,
) -> FloatArray:
    """[series, quantile] seconds from asof until the path plus future imports first fill; inf if not in time.

    imports: [series, day] sizes of the imports in the history, bytes (0 on other days);
    observed_days: [series] days the history could have shown a step on; headroom: [series] capacity minus
    usage at asof, bytes, > 0; base_offset: [series] the model's own seconds to full (inf if not in time).
    """
    n = imports.shape[0]
    count = (imports > 0).sum(axis=1)
    rate = count / np.maximum(observed_days, 1.0)  # imports per day
    # Series by falling import rate: the loop below stops on the rows whose chance of more imports is spent,
    # and those are then the trailing ones, so it works on a shrinking leading slice.
    busiest = np.argsort(-rate, kind="stable")
    imports, count, rate, headroom, base_offset = (a[busiest] for a in (imports, count, rate, headroom, base_offset))
    # The base path's average rate to its fill; none beyond the horizon.
    base = np.where(np.isfinite(base_offset) & (base_offset > 0), headroom / np.maximum(base_offset, 1.0), 0.0)

    # Import sizes in whole BINS of the headroom (capped at the headroom: such an import fills at once),
    # side by side per series with a weight of 1/count each; empty places weigh 0.
    order = np.argsort(imports <= 0, axis=1, kind="stable")[:, : int(count.max())]
    sizes = np.take_along_axis(imports, order, axis=1)
    size_bins = np.clip(np.rint(sizes / headroom[:, None] * BINS), 0, BINS).astype(np.int64)
    weight = np.where(sizes > 0, 1.0 / np.maximum(count, 1)[:, None], 0.0)
    bins = np.arange(BINS + 1)
    # reaching[b] = P(sum of the imports so far >= b bins); one import more: P(S + size >= b) is the mean over
    # the sizes of P(S >= b - size), and P(S >= anything <= 0) = 1 (index 0).
    # Indices into the flattened [series, bin] array, made once: np.take on them is the loop's gather.
    row_start = (np.arange(n) * (BINS + 1))[:, None]
    shifted = row_start[:, :, None] + np.clip(bins[None, None, :] - size_bins[:, :, None], 0, None)
    reaching = (bins == 0).astype(np.float64)[None, :].repeat(n, axis=0)

    times = np.arange(1, horizon_seconds // STEP_SECONDS + 1) * float(STEP_SECONDS)
    # Headroom the imports must close by each time, in bins (0 = the path alone is full by then).
    needed = np.ceil((headroom[:, None] - base[:, None] * times[None, :]) / headroom[:, None] * BINS)
    needed = row_start + np.clip(needed, 0, BINS).astype(np.int64)
    mean = rate[:, None] * times[None, :] / SECONDS_PER_DAY  # expected imports by each time
    poisson = np.exp(-mean)  # P(k imports), from k = 0
    full = poisson * np.take(reaching, needed)
    tail = 1.0 - poisson  # P(more than k imports)
    for k in range(1, MAX_IMPORTS + 1):  # imports so far, not series
        # Rows still likely to see a k-th import (most likely by the horizon).
        m = int(np.count_nonzero(tail[:, -1] >= TAIL))
        if m == 0:
            break
        reaching[:m] = np.matmul(weight[:m, None, :], np.take(reaching, shifted[:m]))[:, 0, :]
        poisson[:m] *= mean[:m] / k
        tail[:m] -= poisson[:m]
        full[:m] += poisson[:m] * np.take(reaching, needed[:m])

    result = np.full((n, len(quantiles)), np.inf)
    for j, q in enumerate(quantiles):  # three quantiles, not series
        reached = full >= q
        result[busiest, j] = np.where(reached.any(axis=1), times[np.argmax(reached, axis=1)], np.inf)
    return result
