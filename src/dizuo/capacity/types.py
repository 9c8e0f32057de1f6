"""The data the forecaster takes and gives; shared by the CLI, the exporter and the report."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class UsageHistory:
    """Usage samples of one volume or pool, oldest first; gaps are allowed."""

    series: str
    timestamps: IntArray  # unix seconds
    used_bytes: FloatArray
    capacity_bytes: FloatArray
    labels: dict[str, str] = field(default_factory=dict)
    # Bytes written to the volume in the step before each sample (NaN: not known then), where a source counts them:
    # a load that rewrites the same bytes writes without growing. Freshness reads it; the forecaster does not.
    written_bytes: FloatArray | None = None


@dataclass(frozen=True, slots=True)
class Reading:
    """What a source read: the volumes to forecast, and those it left out (no recent sample: their exporter stopped,
    or they were deleted)."""

    histories: list[UsageHistory]
    left_out: list[UsageHistory] = field(default_factory=list)
    # The kinds of storage (selectors) asked for, and those whose read failed (kind: why) while others read: their
    # volumes are in neither list, and the exporter serves them from the last run that read them.
    kinds: tuple[str, ...] = ()
    failed: dict[str, str] = field(default_factory=dict)
    # Volumes without a recent sample that their selector's `exists` names (a claim no pod mounts now): not
    # forecast, not left out; their history still dates their datasets' writes.
    unmounted: list[UsageHistory] = field(default_factory=list)
    # Volumes without a recent sample whose series ended while the exporters that reported them still report (their
    # selector's `scraped_from`, and `reporting`: by default, up) and that their selector's `listed` does not name
    # while it names some volume of their cluster (a lister naming none is down, no proof):
    # deleted. Not forecast, not left out; their history still dates their datasets' writes.
    gone: list[UsageHistory] = field(default_factory=list)
    # The kinds whose `exists` query failed (kind: why): which of their volumes exist unmounted is not known, so such
    # a volume is in neither ``unmounted`` nor the forecast (left out, or taken for gone).
    exists_unread: dict[str, str] = field(default_factory=dict)
    # Where the history read ends (unix s), for a source read on a step grid (Prometheus: the last whole `step`
    # before now), else None: a series younger than that is read from the next step on, so a Prometheus scraping
    # for a few minutes only gives no volume yet.
    until: float | None = None


@dataclass(frozen=True, slots=True)
class Forecast:
    """When one series fills, as of its last sample. ``None`` means not within the horizon."""

    series: str
    asof: int
    exhaustion_at: int | None
    p10: int | None
    p90: int | None
    used_bytes: float
    capacity_bytes: float
    labels: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Projection:
    """Usage of one series ``days_ahead`` local days after its last sample: that day's peak, in bytes."""

    series: str
    asof: int
    days_ahead: int
    median_bytes: float  # under the median growth
    high_bytes: float  # under the growth of the p90 scenario: what to plan room for
    used_bytes: float  # at the last sample
    capacity_bytes: float
    labels: dict[str, str] = field(default_factory=dict)
