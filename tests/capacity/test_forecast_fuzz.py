"""Any well-formed batch of usage histories gets one sane forecast per series, never an exception.

One odd volume (a single sample, a day-long outage at the end, usage above capacity, a capacity
that grew, a flat zero, petabytes next to megabytes) must not cost the forecasts of the others.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dizuo.capacity.calendar_cn import CalendarNotCoveredWarning
from dizuo.capacity.forecast import forecast_histories
from dizuo.capacity.types import UsageHistory

SLOT = 900
DAY = 86400
HORIZON = 30 * DAY
# Any asof in 2023-2026 (calendar-known years), on the 15-minute grid.
ASOF_SLOTS = st.integers(min_value=1_672_531_200 // SLOT, max_value=1_798_761_600 // SLOT)


@st.composite
def histories(draw: st.DrawFn, name: str) -> UsageHistory:
    """A 15-minute history of up to 28 days with gaps, shapes and magnitudes from anywhere in the range."""
    length = draw(st.integers(min_value=1, max_value=28 * 96))
    asof = draw(ASOF_SLOTS) * SLOT
    slots = np.arange(length, dtype=np.int64)[::-1]
    keep = np.ones(length, dtype=bool)
    if length > 1 and draw(st.booleans()):
        start = draw(st.integers(min_value=0, max_value=length - 1))
        width = draw(st.integers(min_value=1, max_value=min(96, length)))
        keep[start : start + width] = False
        keep[-1] = True  # the last sample is always there
    timestamps = (asof - slots * SLOT)[keep]
    scale = 2.0 ** draw(st.integers(min_value=20, max_value=50))
    level = draw(st.floats(min_value=0.0, max_value=1.2))
    rate = draw(st.floats(min_value=-0.05, max_value=0.1))  # share of capacity per day
    wiggle = draw(st.floats(min_value=0.0, max_value=0.3))
    days = (timestamps - asof) / DAY
    used = level + rate * days + wiggle * np.sin(2 * np.pi * days)
    if draw(st.booleans()):
        used = np.round(used * 20) / 20  # steps: imports and cleanups
    used = np.clip(used, 0.0, None) * scale
    capacity = np.full(len(timestamps), scale)
    if len(timestamps) > 1 and draw(st.booleans()):
        capacity[: len(timestamps) // 2] = scale * draw(st.floats(min_value=0.3, max_value=1.0))  # enlarged
    return UsageHistory(name, timestamps, used, capacity)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(
    st.lists(st.integers(), min_size=1, max_size=6).flatmap(
        lambda ids: st.tuples(*(histories(f"s{i}") for i in range(len(ids))))
    )
)
def test_any_batch_gets_one_sane_forecast_per_series(batch: tuple[UsageHistory, ...]) -> None:
    """One forecast per history, in order; times within the horizon, p10 <= exhaustion <= p90; full now is asof."""
    with warnings.catch_warnings():
        # Asofs late in the last published year reach into the next one: that warning is expected here.
        warnings.simplefilter("ignore", CalendarNotCoveredWarning)
        forecasts = forecast_histories(list(batch))
    assert [f.series for f in forecasts] == [h.series for h in batch], "one forecast per history, in order"
    for history, forecast in zip(batch, forecasts, strict=True):
        asof = int(history.timestamps[-1])
        assert forecast.asof == asof, f"{history.series}: asof {forecast.asof}, last sample {asof}"
        for name in ("exhaustion_at", "p10", "p90"):
            at = getattr(forecast, name)
            assert at is None or asof <= at <= asof + HORIZON, f"{history.series}: {name} {at} outside the horizon"
        if history.used_bytes[-1] >= history.capacity_bytes[-1]:
            assert forecast.exhaustion_at == asof, f"{history.series}: full at its last sample, predicted later"
        if forecast.exhaustion_at is not None:
            assert forecast.p10 is not None, f"{history.series}: a fill without p10"
            assert forecast.p10 <= forecast.exhaustion_at, f"{history.series}: p10 after the point forecast"
            assert forecast.p90 is None or forecast.p90 >= forecast.exhaustion_at, f"{history.series}: p90 before it"
