"""Forecaster behaviour on synthetic series with known answers."""

from __future__ import annotations

import numpy as np

from dizuo.capacity.forecast import forecast_histories
from dizuo.capacity.types import UsageHistory

GIB = 2.0**30
DAY = 86400
SLOT = 900
# 2024-03-04 00:00 Asia/Shanghai, a Monday outside any holiday week.
START = 1709481600


def _history(name: str, used: np.ndarray, capacity: float | np.ndarray, start: int = START) -> UsageHistory:
    ts = start + SLOT * np.arange(len(used), dtype=np.int64)
    cap = np.broadcast_to(np.asarray(capacity, dtype=np.float64), used.shape).copy()
    return UsageHistory(series=name, timestamps=ts, used_bytes=used.astype(np.float64), capacity_bytes=cap)


def test_steady_growth_fills_at_the_extrapolated_time():
    """A volume growing 1 GiB/day with 5 GiB free fills about 5 days after its last sample."""
    slots = 28 * 96
    used = 50 * GIB + GIB * np.arange(slots) / 96
    cap = used[-1] + 5 * GIB
    (fc,) = forecast_histories([_history("steady", used, cap)])
    assert fc.exhaustion_at is not None, "steady: a growing volume must be predicted to fill"
    hours = (fc.exhaustion_at - fc.asof) / 3600
    assert abs(hours - 120) <= 2, f"steady: predicted full in {hours:.1f} h, expected 120 h"
