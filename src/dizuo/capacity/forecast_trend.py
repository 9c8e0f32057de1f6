"""Local linear trend on the daily peaks: a Kalman filter for a growth rate that wanders.

The step-adjusted daily peaks ``y[d]`` of a series are read as a level and a rate, both hidden:

    level[d] = level[d-1] + e[d] rate[d-1] + eta[d]     eta ~ N(0, q_level s2)   (daily growth noise)
    rate[d]  = rate[d-1] + zeta[d]                      zeta ~ N(0, q_rate s2)   (the rate wanders)
    y[d]     = level[d] + eps[d]                        eps ~ N(0, q_peak s2)    (how high each day peaks)

where ``e[d]`` is 1 on a working day and the series' off-day share of a working day's growth on a day off
(0 for office-hours growth), so holidays are not read as a slowdown. Days without a peak (outages) are
predicted through. The three variances are a share each (one of a small grid, GRID) of one scale ``s2``;
per series the grid point with the highest likelihood, ``s2`` concentrated out, is kept. A steady noisy
series gets a near-zero rate variance and keeps its long-run rate; a series whose rate has drifted gets a
rate that follows the drift. The filter runs once over days for all series and all grid points together.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from dizuo.capacity.types import FloatArray

BoolArray = npt.NDArray[np.bool_]
# Shares of the three noise variances (peak, level, rate). The grid spans rate noise from none (a fixed
# rate, the long-run average) to a rate that moves as much per day as the peaks do.
PEAK_SHARES = (0.0, 0.1, 1.0)
LEVEL_SHARES = (0.0, 0.1, 1.0)
RATE_SHARES = (0.0, 0.003, 0.03, 0.3)
GRID = np.array(
    [g for g in itertools.product(PEAK_SHARES, LEVEL_SHARES, RATE_SHARES) if g[0] + g[1] > 0], dtype=np.float64
)
# Diffuse start: the first level and rate are unknown; their variance in units of the series' scale.
DIFFUSE = 1e6
# Innovations of the first two observed days only settle the diffuse start: not in the likelihood.
SETTLE = 2


@dataclass(frozen=True, kw_only=True, slots=True)
class Trend:
    """Filtered state at the last observed day, per series, in bytes."""

    level: FloatArray  # [series]
    rate: FloatArray  # [series] growth per working day
    level_var: FloatArray  # [series]
    rate_var: FloatArray  # [series]
    cross_var: FloatArray  # [series] covariance of level and rate
    level_noise: FloatArray  # [series] variance of eta per day, bytes^2
    rate_noise: FloatArray  # [series] variance of zeta per day, (bytes/day)^2
    choice: FloatArray  # [series] index into GRID of the kept grid point


def local_trend(y: FloatArray, exposure: FloatArray, scale: FloatArray) -> Trend:
    """Filter each row of `y` ([series, day], NaN = no peak) with the grid point of highest likelihood.

    exposure: [series, day] the effective length of each day (1 working, off-day share off). scale: [series]
    a typical size of the day-over-day changes, only for conditioning (the result does not depend on it).
    """
    n, days = y.shape
    g = GRID.shape[0]
    safe = np.where(scale > 0, scale, 1.0)
    first = np.argmax(~np.isnan(y), axis=1)
    origin = y[np.arange(n), first]
    z = (y - np.nan_to_num(origin)[:, None]) / safe[:, None]
    q_peak, q_level, q_rate = (GRID[None, :, k] for k in range(3))
    # State [series, grid]: level a, rate b; covariance p11, p12, p22.
    a = np.zeros((n, g))
    b = np.zeros((n, g))
    p11 = np.full((n, g), DIFFUSE)
    p12 = np.zeros((n, g))
    p22 = np.full((n, g), DIFFUSE)
    sum_v2f = np.zeros((n, g))
    sum_logf = np.zeros((n, g))
    seen = np.zeros(n, dtype=np.int64)
    observed = ~np.isnan(z)
    z = np.nan_to_num(z)
    # Per-day factors, once: 2 e and e e as the recursion forms them.
    twice = 2 * exposure
    square = exposure * exposure
    for d in range(days):  # days, not series
        # Predict. Before the first observation this only adds to a variance that is already diffuse.
        e = exposure[:, d, None]
        a = a + e * b
        p11 = p11 + twice[:, d, None] * p12 + square[:, d, None] * p22 + q_level
        p12 = p12 + e * p22
        p22 = p22 + q_rate
        # Update with the day's peak; a day without one has zero gain. Where every series has one, the mask is
        # the factor 1.0, which leaves every product as it is.
        obs = observed[:, d, None]
        gain: float | BoolArray = 1.0 if obs.all() else obs
        v = z[:, d, None] - a
        f = np.maximum(p11 + q_peak, 1e-12)
        k1 = gain * (p11 / f)
        k2 = gain * (p12 / f)
        a = a + k1 * v
        b = b + k2 * v
        p22 = p22 - k2 * p12
        p12 = p12 - k1 * p12
        p11 = p11 - k1 * p11
        scored = obs & (seen >= SETTLE)[:, None]
        score: float | BoolArray = 1.0 if scored.all() else scored
        sum_v2f += score * (v * v / f)
        sum_logf += score * np.log(f)
        seen += observed[:, d]
    count = np.maximum(seen - SETTLE, 1).astype(np.float64)
    s2 = np.maximum(sum_v2f / count[:, None], 1e-12)
    loglik = -0.5 * (count[:, None] * np.log(s2) + sum_logf)
    best = np.argmax(loglik, axis=1)
    rows = np.arange(n)
    s2_best = s2[rows, best]
    unit = safe * safe * s2_best
    return Trend(
        level=np.nan_to_num(origin) + a[rows, best] * safe,
        rate=b[rows, best] * safe,
        level_var=p11[rows, best] * unit,
        rate_var=p22[rows, best] * unit,
        cross_var=p12[rows, best] * unit,
        level_noise=GRID[best, 1] * unit,
        rate_noise=GRID[best, 2] * unit,
        choice=best.astype(np.float64),
    )
