"""The capacity exporter's metrics: a stateless collector over an immutable forecast snapshot.

The forecasting loop (``exporter.py``) replaces the snapshot after every run; a scrape only reads
the latest one and builds fresh metric families from it, so a scrape never waits for a forecast
and never sees half a run.

Metrics (labels ``kind, volume, pool, department, system`` on the per-volume ones):

- ``dizuo_storage_used_bytes``, ``dizuo_storage_capacity_bytes``: the last step of the history the forecast read.
- ``dizuo_storage_exhaustion_timestamp_seconds``: median forecast of when the volume is full.
  ``..._p10_...`` (early, pessimistic) and ``..._p90_...`` (late) bound the 80 % interval. A
  sample is absent when the date is beyond the forecast horizon (30 days): absent = "not soon".
  Separate metric names rather than a ``quantile`` label, so that no rule can mix the three by
  forgetting a label matcher.
- ``dizuo_storage_allocated_bytes{scope="department"|"pool", department, pool, kind, volume}``: the declaration's
  department storage quota (``department`` set) or the declared capacity of a storage pool (``pool`` set). A pool's
  ``kind`` and ``volume`` are those of the Ceph pool series it is the declared capacity of (``ceph_pool``,
  ``<cluster>/<pool>``), told by its Ceph cluster as the capacity report tells a declared pool's row (see
  ``ceph_volume_of``), so that it joins that series and not the same-named pool of another Ceph cluster; both are
  empty where none is told (none seen yet, or two no declared cluster names), and for a department.
- ``dizuo_dataset_last_write_timestamp_seconds{dataset, department, pool, kind}``: when a data-pool dataset's volume
  (its bucket, or its claim ``dp-<owner>/<dataset>``) last grew past noise or was written that much (where the source
  counts bytes written), or the first sample read if neither since (the forecasting loop carries what earlier runs
  saw, and looks further back once where the history read shows no write); ``kind`` is the kind of storage it was
  read from, so that a write carried while that kind cannot be read is not blamed on the dataset's owner;
  ``dizuo_dataset_refresh_period_seconds``: the refresh period the declaration gives it. Ownership and freshness of
  the data pool, for ``DizuoDatasetStale``.
- ``dizuo_capacity_forecast_duration_seconds``, ``..._last_success_timestamp_seconds``,
  ``..._stale`` (1 when STALE_AFTER_INTERVALS runs in a row failed, or the last success, or the start where none has
  succeeded yet, is older than ``stale_after``, or than STALE_AFTER_INTERVALS times the last good run's duration where
  runs take longer than that: one failed run is jitter, a first run still going after a restart is no failure, a
  run that takes longer than the interval no stale forecast, and a flag that blinks would restart every ``for:`` timer
  that reads it),
  ``..._runs_total{result}``, ``..._series``.
- ``dizuo_capacity_selector_stale{kind}`` (1 when that kind of storage could not be read in STALE_AFTER_INTERVALS
  good runs in a row: a run succeeds while another kind reads, and serves this kind's volumes from the last run that
  read them) and ``dizuo_capacity_selector_last_read_timestamp_seconds{kind}``.
- ``dizuo_capacity_left_out_last_sample_timestamp_seconds{kind, volume, pool, department, system}``: one series per
  volume the last good run left out for having no sample in the last ``max_age`` (its exporter stopped reporting it,
  or it was deleted where that cannot be told: one deleted while its exporter is scraped is gone, not left out),
  valued at its last sample: nothing forecasts it and none of its alerts can fire; ``DizuoCapacityVolumesLeftOut``
  says so, per volume (such a deletion is silenced by its ``volume``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import CollectorRegistry

from dizuo.capacity.prometheus_source import LABELS
from dizuo.capacity.types import Forecast
from dizuo.declaration.model import Declaration

GIB = 2**30
# The forecast served counts as stale once this many run intervals pass without a success, or this many runs fail in
# a row: one slow or failed run is ordinary jitter, three in a row is not.
STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The outcome of the forecasting loop so far; replaced whole, never changed."""

    forecasts: tuple[Forecast, ...] = ()
    succeeded_at: float | None = None  # unix s, end of the last successful run
    started_at: float | None = None  # unix s, when the loop started: until a success, staleness counts from here
    duration_seconds: float | None = None  # of the last successful run
    error: str | None = None  # of the last run, None when it succeeded
    successes: int = 0
    failures: int = 0
    failed_in_a_row: int = 0  # runs failed since the last success (or since the start)
    writes: tuple[DatasetWrite, ...] = ()  # the data pool's datasets seen in the last good run
    left_out: tuple[LeftOut, ...] = ()  # volumes the last good run left out: no recent sample
    selectors: tuple[SelectorRead, ...] = ()  # per kind of storage, how its reads went in the good runs


@dataclass(frozen=True, slots=True)
class SelectorRead:
    """How the reads of one kind of storage (its selector) went in the runs that succeeded: a run succeeds while
    another kind reads, and serves this kind's volumes from the last run that read them."""

    kind: str
    read_at: float | None = None  # unix s, the last run that read it; None: none has
    failed_in_a_row: int = 0  # good runs in a row in which its read failed
    error: str | None = None  # of its last read, None when it read


@dataclass(frozen=True, slots=True)
class LeftOut:
    """A volume a run left out for having no recent sample: its forecast labels and its last sample (unix s)."""

    labels: tuple[str, ...]  # the values of LABELS
    last_sample: float


@dataclass(frozen=True, slots=True)
class DatasetWrite:
    """When a dataset's volume last grew or was written: its last write, or the first sample read if none since."""

    dataset: str
    department: str
    pool: str
    at: int  # unix s
    seen: bool = True  # a write was seen at ``at``; False: none since ``at``, the first sample read
    kind: str = ""  # the kind of storage (selector) of the volume the write was read from


@dataclass(frozen=True, slots=True)
class RefreshPeriod:
    """How often the declaration says a dataset's owner refreshes it."""

    dataset: str
    department: str
    pool: str
    seconds: float


def refresh_periods(declaration: Declaration | None) -> tuple[RefreshPeriod, ...]:
    """Each declared dataset's refresh period (datasets.yaml refresh_days)."""
    if declaration is None:
        return ()
    return tuple(
        RefreshPeriod(ds.code, ds.owner, ds.storage_pool, ds.refresh_days * 86400.0) for ds in declaration.datasets
    )


@dataclass(frozen=True, slots=True)
class Allocation:
    """Storage the declaration grants: a department's quota or a pool's declared capacity."""

    scope: str  # "department" or "pool"
    name: str
    bytes: float
    labels: dict[str, str] = field(default_factory=dict)
    # A pool's: the values the `cluster` label of its Ceph cluster's series may carry, its fsid (ceph_cluster_id)
    # first, then the names of the Kubernetes cluster declaring it (its name, then its former one: Cluster.names).
    clusters: tuple[str, ...] = ()


def unwatched_refresh_periods(declaration: Declaration | None, write_lookback_seconds: float) -> list[str]:
    """The datasets whose declared refresh period is no shorter than ``write_lookback_seconds``, each as
    ``datasets[i].refresh_days: <n> days (<code>)``. The exporter looks no further back than that for a dataset's last
    write, and reports one it does not find as written at the start of that read: such a dataset never seems older
    than its refresh period, and DizuoDatasetStale (which waits for a period and a slack) cannot fire for it."""
    if declaration is None:
        return []
    return [
        f"datasets[{i}].refresh_days: {ds.refresh_days} days ({ds.code})"
        for i, ds in enumerate(declaration.datasets)
        if ds.refresh_days * 86400.0 >= write_lookback_seconds
    ]


def allocations(declaration: Declaration | None) -> tuple[Allocation, ...]:
    """Department storage quotas and declared pool capacities, in bytes."""
    if declaration is None:
        return ()
    out = [Allocation("department", d.code, d.quota.storage_gib * GIB) for d in declaration.departments]
    out += [
        Allocation(
            # A renamed cluster's former name still labels its Ceph series until the city's monitoring relabels it.
            "pool",
            p.name,
            p.capacity_gib * GIB,
            clusters=(*([p.ceph_cluster_id] if p.ceph_cluster_id else []), *c.names),
        )
        for c in declaration.clusters
        for p in c.storage_pools
    ]
    return tuple(out)


def own_ceph_series(
    series: Sequence[str], clusters: Sequence[str], declared: Collection[str]
) -> tuple[list[str], list[str]]:
    """Of the Ceph pool volumes ``series`` (``<cluster>/<name>``) of one declared pool's name: those of its own Ceph
    cluster, and those of clusters no declared pool names (``declared``). ``clusters`` are the values its own
    cluster's ``cluster`` label may carry, its fsid first: the fsid names one Ceph cluster and wins; the name of the
    Kubernetes cluster declaring the pool (Rook's labelling) counts only where no series carries the fsid, since it
    may label another Ceph cluster run beside it, and its former name (after a rename) only where none carries its
    name. Every cluster has ``.mgr`` and ``rbd`` is Ceph's usual name, so two
    clusters' pools may share the name; the capacity report and the exporter both tell a declared pool's series so."""
    of_cluster = {s: s.rpartition("/")[0] for s in series}  # '' where it has none (a CSV's ``xc-ceph``)
    own = next(([s for s in series if of_cluster[s] == c] for c in clusters if c in of_cluster.values()), [])
    unknown = [s for s in series if s not in own and of_cluster[s] not in declared]
    return own, unknown


def ceph_volume_of(pool: Allocation, seen: Mapping[str, Sequence[str]], declared: Collection[str]) -> str:
    """The Ceph pool volume of the pools ``seen`` (pool name: volumes) that ``pool`` is the declared capacity of
    (:func:`own_ceph_series`): its own cluster's, else the only one in a cluster no declared pool names; of two or
    more such, or none, ''."""
    own, unknown = own_ceph_series(seen.get(pool.name, ()), pool.clusters, declared)
    return own[0] if own else unknown[0] if len(unknown) == 1 else ""


def _ceph_pools_seen(snap: Snapshot) -> dict[str, list[str]]:
    """The Ceph pool volumes the last good run forecast or left out (a pool left out is still there), by pool name."""
    kind, volume, pool = (LABELS.index(label) for label in ("kind", "volume", "pool"))
    found = [tuple(f.labels.get(label, "") for label in LABELS) for f in snap.forecasts]
    seen: dict[str, list[str]] = {}
    for labels in (*found, *(g.labels for g in snap.left_out)):
        if labels[kind] == "ceph_pool":
            seen.setdefault(labels[pool], []).append(labels[volume])
    return seen


class CapacityCollector:
    """Builds the exporter's metric families from the latest snapshot on every scrape."""

    def __init__(
        self,
        snapshot: Callable[[], Snapshot],
        allocated: Sequence[Allocation] = (),
        refresh: Sequence[RefreshPeriod] = (),
        *,
        stale_after: float,
        stale_after_failures: int = STALE_AFTER_INTERVALS,
        registry: CollectorRegistry | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._snapshot = snapshot
        self._allocated = tuple(allocated)
        # The clusters the declared pools name: a Ceph series of another is told as no declared pool's own.
        self._declared_clusters = frozenset(cluster for a in self._allocated for cluster in a.clusters)
        self._refresh = tuple(refresh)
        self._stale_after = stale_after
        self._stale_after_failures = stale_after_failures
        self._clock = clock
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterable[Metric]:
        """The metric names, so a registry can refuse duplicates without running collect()."""
        return list(self._families())

    def collect(self) -> Iterable[Metric]:
        """Fresh families from the latest snapshot."""
        return list(self._families(self._snapshot()))

    def _families(self, snap: Snapshot | None = None) -> Iterator[Metric]:
        labels = list(LABELS)
        used = GaugeMetricFamily(
            "dizuo_storage_used_bytes",
            "Bytes in use at the last step of the history read; for a filesystem, size minus avail (blocks reserved "
            "for root count as used).",
            labels=labels,
        )
        capacity = GaugeMetricFamily(
            "dizuo_storage_capacity_bytes",
            "Bytes the volume holds when full, at the last step of the history read.",
            labels=labels,
        )
        median = GaugeMetricFamily(
            "dizuo_storage_exhaustion_timestamp_seconds",
            "Median forecast of when the volume is full (unix s); absent when beyond the horizon.",
            labels=labels,
        )
        early = GaugeMetricFamily(
            "dizuo_storage_exhaustion_p10_timestamp_seconds",
            "10th percentile (early) forecast of when the volume is full (unix s); absent when beyond the horizon.",
            labels=labels,
        )
        late = GaugeMetricFamily(
            "dizuo_storage_exhaustion_p90_timestamp_seconds",
            "90th percentile (late) forecast of when the volume is full (unix s); absent when beyond the horizon.",
            labels=labels,
        )
        allocated = GaugeMetricFamily(
            "dizuo_storage_allocated_bytes",
            "Granted storage: department quota (scope=department) or declared pool capacity (scope=pool).",
            labels=["scope", "department", "pool", "kind", "volume"],
        )
        duration = GaugeMetricFamily(
            "dizuo_capacity_forecast_duration_seconds", "Wall time of the last successful forecast run."
        )
        last_success = GaugeMetricFamily(
            "dizuo_capacity_forecast_last_success_timestamp_seconds", "When the last forecast run succeeded."
        )
        stale = GaugeMetricFamily(
            "dizuo_capacity_forecast_stale",
            "1 when the forecasts served are not fresh: runs failed in a row, or none succeeded recently.",
        )
        dataset_labels = ["dataset", "department", "pool"]
        last_write = GaugeMetricFamily(
            "dizuo_dataset_last_write_timestamp_seconds",
            "When the dataset's volume last grew, or was written, past noise (unix s); the first sample read if not"
            " since.",
            labels=[*dataset_labels, "kind"],
        )
        refresh = GaugeMetricFamily(
            "dizuo_dataset_refresh_period_seconds",
            "How often the declaration says the dataset's owner refreshes it.",
            labels=dataset_labels,
        )
        runs = CounterMetricFamily("dizuo_capacity_forecast_runs", "Forecast runs by result.", labels=["result"])
        count = GaugeMetricFamily("dizuo_capacity_forecast_series", "Volumes in the last good forecast.")
        selector_stale = GaugeMetricFamily(
            "dizuo_capacity_selector_stale",
            "1 when this kind of storage could not be read in the last runs in a row: its volumes' forecasts are "
            "those of the last run that read them.",
            labels=["kind"],
        )
        selector_read = GaugeMetricFamily(
            "dizuo_capacity_selector_last_read_timestamp_seconds",
            "When a forecast run last read this kind of storage (unix s).",
            labels=["kind"],
        )
        left_out = GaugeMetricFamily(
            "dizuo_capacity_left_out_last_sample_timestamp_seconds",
            "A volume the last good run left out, at its last sample: none in the last max_age (its exporter "
            "stopped, or it was deleted).",
            labels=list(LABELS),
        )
        if snap is not None:
            for f in snap.forecasts:
                values = [f.labels.get(label, "") for label in LABELS]
                used.add_metric(values, f.used_bytes)
                capacity.add_metric(values, f.capacity_bytes)
                for family, at in ((median, f.exhaustion_at), (early, f.p10), (late, f.p90)):
                    if at is not None:
                        family.add_metric(values, float(at))
            seen = _ceph_pools_seen(snap)
            for a in self._allocated:
                if a.scope == "department":
                    allocated.add_metric([a.scope, a.name, "", "", ""], a.bytes)
                    continue
                told = ceph_volume_of(a, seen, self._declared_clusters)
                allocated.add_metric([a.scope, "", a.name, "ceph_pool" if told else "", told], a.bytes)
            for w in snap.writes:
                last_write.add_metric([w.dataset, w.department, w.pool, w.kind], float(w.at))
            for r in self._refresh:
                refresh.add_metric([r.dataset, r.department, r.pool], r.seconds)
            if snap.duration_seconds is not None:
                duration.add_metric([], snap.duration_seconds)
            if snap.succeeded_at is not None:
                last_success.add_metric([], snap.succeeded_at)
            fresh_at = snap.succeeded_at if snap.succeeded_at is not None else snap.started_at
            # Runs that take longer than the interval follow one another at once: the last success is then as old as
            # a run takes, and a flag that turned 1 during each of them would blink while every run succeeds.
            allowed = max(self._stale_after, self._stale_after_failures * (snap.duration_seconds or 0.0))
            too_old = fresh_at is None or self._clock() - fresh_at > allowed
            failing = snap.failed_in_a_row >= self._stale_after_failures
            stale.add_metric([], 1.0 if failing or too_old else 0.0)
            runs.add_metric(["success"], snap.successes)
            runs.add_metric(["failure"], snap.failures)
            count.add_metric([], len(snap.forecasts))
            for gone in snap.left_out:
                left_out.add_metric(list(gone.labels), gone.last_sample)
            for read in snap.selectors:
                selector_stale.add_metric(
                    [read.kind], 1.0 if read.failed_in_a_row >= self._stale_after_failures else 0.0
                )
                if read.read_at is not None:
                    selector_read.add_metric([read.kind], read.read_at)
        yield from (
            used,
            capacity,
            median,
            early,
            late,
            allocated,
            last_write,
            refresh,
            duration,
            last_success,
            stale,
            runs,
            count,
            selector_stale,
            selector_read,
            left_out,
        )
