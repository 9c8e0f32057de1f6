"""The capacity collector against a fresh registry, fed fixture snapshots."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from declarations import with_cluster_renamed
from dizuo.capacity.collector import GIB, CapacityCollector, LeftOut, Snapshot, allocations
from dizuo.capacity.types import Forecast
from dizuo.declaration import load

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_717_200_000.0

FILLING = Forecast(
    series="pvc:sjj-tyrz/data",
    asof=int(NOW),
    exhaustion_at=int(NOW) + 86400,
    p10=int(NOW) + 43200,
    p90=None,
    used_bytes=45 * GIB,
    capacity_bytes=50 * GIB,
    labels={
        "kind": "pvc",
        "volume": "sjj-tyrz/data",
        "pool": "xc-ceph",
        "department": "sjj",
        "system": "sjj-tyrz",
    },
)
FLAT = Forecast(
    series="ceph_pool:xc-ceph",
    asof=int(NOW),
    exhaustion_at=None,
    p10=None,
    p90=None,
    used_bytes=1e14,
    capacity_bytes=4e14,
    labels={"kind": "ceph_pool", "volume": "xc-ceph", "pool": "xc-ceph", "department": "", "system": ""},
)
GOOD = Snapshot(forecasts=(FILLING, FLAT), succeeded_at=NOW - 60, duration_seconds=1.5, successes=3, failures=1)


def collect(snapshot: Snapshot, allocated=(), now: float = NOW) -> CollectorRegistry:
    registry = CollectorRegistry()
    CapacityCollector(lambda: snapshot, allocated, stale_after=900, registry=registry, clock=lambda: now)
    return registry


def test_filling_volume_exports_its_exhaustion_dates_and_usage():
    """A forecast with dates exports median and p10; p90 beyond the horizon is absent."""
    registry = collect(GOOD)
    labels = FILLING.labels
    assert registry.get_sample_value("dizuo_storage_exhaustion_timestamp_seconds", labels) == NOW + 86400
    assert registry.get_sample_value("dizuo_storage_exhaustion_p10_timestamp_seconds", labels) == NOW + 43200
    assert registry.get_sample_value("dizuo_storage_exhaustion_p90_timestamp_seconds", labels) is None, (
        "p90 beyond the horizon must be absent, not a made-up date"
    )
    assert registry.get_sample_value("dizuo_storage_used_bytes", labels) == 45 * GIB
    assert registry.get_sample_value("dizuo_storage_capacity_bytes", labels) == 50 * GIB


def test_volume_that_does_not_fill_has_usage_but_no_exhaustion_date():
    """A volume not filling within the horizon exports used/capacity and no exhaustion sample."""
    registry = collect(GOOD)
    assert registry.get_sample_value("dizuo_storage_used_bytes", FLAT.labels) == 1e14
    for name in ("", "_p10", "_p90"):
        metric = f"dizuo_storage_exhaustion{name}_timestamp_seconds"
        assert registry.get_sample_value(metric, FLAT.labels) is None, f"{metric} of ceph_pool:xc-ceph"


def test_run_health_is_exported():
    """Duration, last success, run counts and the series count come from the snapshot."""
    registry = collect(GOOD)
    assert registry.get_sample_value("dizuo_capacity_forecast_duration_seconds") == 1.5
    assert registry.get_sample_value("dizuo_capacity_forecast_last_success_timestamp_seconds") == NOW - 60
    assert registry.get_sample_value("dizuo_capacity_forecast_runs_total", {"result": "success"}) == 3
    assert registry.get_sample_value("dizuo_capacity_forecast_runs_total", {"result": "failure"}) == 1
    assert registry.get_sample_value("dizuo_capacity_forecast_series") == 2
    assert registry.get_sample_value("dizuo_capacity_forecast_stale") == 0


@pytest.mark.parametrize(
    ("snapshot", "why"),
    [
        (Snapshot(), "no run has succeeded yet, and no start is known"),
        (Snapshot(started_at=NOW - 901), "no run has succeeded since a start longer ago than stale_after"),
        (
            Snapshot(forecasts=GOOD.forecasts, succeeded_at=NOW - 60, error="SourceError: down", failed_in_a_row=3),
            "the last three runs failed",
        ),
        (
            Snapshot(forecasts=GOOD.forecasts, succeeded_at=NOW - 901),
            "the last success is older than stale_after",
        ),
    ],
)
def test_stale_flag(snapshot, why):
    """The stale flag is 1 whenever the served forecast is not fresh."""
    assert collect(snapshot).get_sample_value("dizuo_capacity_forecast_stale") == 1, why


def test_failed_run_still_serves_the_last_good_forecast():
    """A snapshot recording a failure keeps exporting the previous forecasts."""
    failed = Snapshot(forecasts=GOOD.forecasts, succeeded_at=NOW - 60, error="SourceError: down", failures=2)
    registry = collect(failed)
    assert registry.get_sample_value("dizuo_storage_exhaustion_timestamp_seconds", FILLING.labels) == NOW + 86400


def test_allocations_come_from_the_declaration():
    """Department quotas and declared pool capacities are exported in bytes, one scope each."""
    declaration = load(ROOT / "inventories" / "yulin")
    registry = collect(GOOD, allocations(declaration))
    sjj = declaration.department("sjj").quota.storage_gib * GIB
    assert (
        registry.get_sample_value(
            "dizuo_storage_allocated_bytes",
            {"scope": "department", "department": "sjj", "pool": "", "kind": "", "volume": ""},
        )
        == sjj
    )
    pool = next(p for p in declaration.storage_pools() if p.name == "phase1-ceph")
    assert (
        registry.get_sample_value(
            "dizuo_storage_allocated_bytes",
            {"scope": "pool", "department": "", "pool": "phase1-ceph", "kind": "", "volume": ""},
        )
        == pool.capacity_gib * GIB
    )
    exported = [s for f in registry.collect() if f.name == "dizuo_storage_allocated_bytes" for s in f.samples]
    assert len(exported) == len(declaration.departments) + len(declaration.storage_pools())


def ceph_pool(volume: str) -> Forecast:
    """A Ceph pool's forecast, its volume ``<cluster>/<pool>`` as the default selector names it."""
    labels = {"kind": "ceph_pool", "volume": volume, "pool": volume.rpartition("/")[2], "department": "", "system": ""}
    return Forecast(f"ceph_pool:{volume}", int(NOW), None, None, None, 1e12, 4e12, labels)


def test_a_declared_pool_s_allocation_carries_its_own_ceph_cluster_s_pool():
    """With Ceph clusters each holding a pool of a declared pool's name, the declared capacity carries the kind and
    volume of its own cluster's pool (fsid first, then the Kubernetes cluster declaring it, else the only one no
    declared cluster names; one left out counts), so a join on them meets that pool only; where none is told (two
    unknown clusters' pools, or none seen) its volume is empty rather than a guess."""
    declaration = load(ROOT / "inventories" / "yulin")
    fsid = {p.name: p.ceph_cluster_id for p in declaration.storage_pools()}
    forecasts = [
        # phase1-ceph: its fsid's, beside a pool labelled after yl-gov (a Ceph cluster run in it) and dc2's.
        *(ceph_pool(f"{c}/phase1-ceph") for c in (fsid["phase1-ceph"], "yl-gov", "dc2")),
        # dmz-ceph: dc2's here, and yl-dmz's (its Kubernetes cluster's name) left out below.
        ceph_pool("dc2/dmz-ceph"),
        # xc-ceph: phase1-ceph's cluster (declared: not xc-ceph's), and one job's cluster, the only one unknown.
        *(ceph_pool(f"{c}/xc-ceph") for c in (fsid["phase1-ceph"], "job:ceph")),
        # datapool-ceph: two clusters the declaration does not name: which is its own is not told.
        *(ceph_pool(f"{c}/datapool-ceph") for c in ("dc2", "dc3")),
    ]
    left_out = LeftOut(("ceph_pool", "yl-dmz/dmz-ceph", "dmz-ceph", "", ""), NOW - 3600)
    registry = collect(
        Snapshot(forecasts=tuple(forecasts), succeeded_at=NOW, left_out=(left_out,)), allocations(declaration)
    )
    told = {
        s.labels["pool"]: (s.labels["kind"], s.labels["volume"])
        for f in registry.collect()
        if f.name == "dizuo_storage_allocated_bytes"
        for s in f.samples
        if s.labels["scope"] == "pool"
    }
    assert told == {
        "phase1-ceph": ("ceph_pool", f"{fsid['phase1-ceph']}/phase1-ceph"),
        "dmz-ceph": ("ceph_pool", "yl-dmz/dmz-ceph"),
        "xc-ceph": ("ceph_pool", "job:ceph/xc-ceph"),
        "datapool-ceph": ("", ""),
        "datapool-s3": ("", ""),
    }
    department = registry.get_sample_value(
        "dizuo_storage_allocated_bytes",
        {"scope": "department", "department": "sjj", "pool": "", "kind": "", "volume": ""},
    )
    assert department == declaration.department("sjj").quota.storage_gib * GIB


def test_each_scrape_reads_the_latest_snapshot():
    """The collector keeps nothing between scrapes: a new snapshot shows up on the next scrape."""
    current = [GOOD]
    registry = CollectorRegistry()
    CapacityCollector(lambda: current[0], stale_after=900, registry=registry, clock=lambda: NOW)
    assert registry.get_sample_value("dizuo_capacity_forecast_series") == 2
    current[0] = Snapshot(forecasts=(FLAT,), succeeded_at=NOW)
    assert registry.get_sample_value("dizuo_capacity_forecast_series") == 1
    assert registry.get_sample_value("dizuo_storage_used_bytes", FILLING.labels) is None


def test_exposition_is_valid_and_uses_base_units():
    """The text exposition parses back, and every metric is dizuo_-prefixed in base units."""
    text = generate_latest(collect(GOOD, allocations(load(ROOT / "inventories" / "yulin")))).decode()
    families = list(text_string_to_metric_families(text))
    names = {f.name for f in families}
    assert "dizuo_storage_exhaustion_timestamp_seconds" in names
    for name in names:
        assert name.startswith("dizuo_"), name
        assert name.endswith(("_bytes", "_seconds", "_stale", "_runs", "_series")), f"unit suffix of {name}"


def test_registering_twice_is_refused():
    """describe() names the metrics, so a second collector in the same registry is refused."""
    registry = collect(GOOD)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        CapacityCollector(lambda: GOOD, stale_after=900, registry=registry)


def test_datasets_export_their_last_write_and_declared_refresh_period():
    """Every declared dataset exports its refresh period; a dataset seen in the last run, its last write, labelled
    with the kind of storage it was read from (DizuoDatasetStale holds off while that kind cannot be read)."""
    from dizuo.capacity.collector import DatasetWrite, refresh_periods  # noqa: PLC0415

    declaration = load(ROOT / "inventories" / "yulin")
    written = DatasetWrite("rk-jcxx", "gaj", "datapool-ceph", int(NOW) - 7200, kind="pvc")
    registry = CollectorRegistry()
    snapshot = Snapshot(forecasts=(FILLING,), succeeded_at=NOW, writes=(written,))
    CapacityCollector(lambda: snapshot, (), refresh_periods(declaration), stale_after=900, registry=registry)
    labels = {"dataset": "rk-jcxx", "department": "gaj", "pool": "datapool-ceph"}
    assert (
        registry.get_sample_value("dizuo_dataset_last_write_timestamp_seconds", labels | {"kind": "pvc"}) == NOW - 7200
    )
    assert registry.get_sample_value("dizuo_dataset_refresh_period_seconds", labels) == 86400
    periods = [s for m in registry.collect() if m.name == "dizuo_dataset_refresh_period_seconds" for s in m.samples]
    assert len(periods) == len(declaration.datasets), "one refresh period per declared dataset"


def test_a_refresh_period_the_exporter_cannot_see_past_is_named():
    """A dataset refreshed no more often than the exporter looks back for its last write (a yearly one, against the
    default write_lookback of 365 days) can never seem stale: `serve` names it by its key path, value and code. Those
    refreshed more often are not named."""
    from dizuo.capacity.collector import unwatched_refresh_periods  # noqa: PLC0415 - the function under test
    from dizuo.capacity.prometheus_source import DEFAULT_CONFIG  # noqa: PLC0415

    city = load(ROOT / "inventories" / "yulin")
    lookback = DEFAULT_CONFIG.write_lookback_seconds
    assert unwatched_refresh_periods(city, lookback) == [], "Yulin refreshes every dataset within 30 days"
    statistics = next(i for i, ds in enumerate(city.datasets) if ds.code == "tj-ndsj")
    yearly = city.model_copy(
        update={
            "datasets": tuple(
                ds.model_copy(update={"refresh_days": 365}) if i == statistics else ds
                for i, ds in enumerate(city.datasets)
            )
        }
    )
    assert unwatched_refresh_periods(yearly, lookback) == [f"datasets[{statistics}].refresh_days: 365 days (tj-ndsj)"]
    assert unwatched_refresh_periods(yearly, lookback + 86400) == []


def test_a_renamed_cluster_s_pool_is_told_by_its_former_name_until_relabelled():
    """yl-gov renamed yl-egov (renamed_from): xc-ceph's Ceph series labelled by Rook with the former cluster name is the
    pool's own, beside another cluster's of that name (not two unknown ones, none told); once a series carries the new
    name, that one is."""
    declaration = with_cluster_renamed(load(ROOT / "inventories" / "yulin"), "yl-gov", "yl-egov")

    def told(*volumes: str) -> tuple[str, str]:
        snapshot = Snapshot(forecasts=tuple(ceph_pool(v) for v in volumes), succeeded_at=NOW)
        registry = collect(snapshot, allocations(declaration))
        [told] = [
            (s.labels["kind"], s.labels["volume"])
            for f in registry.collect()
            if f.name == "dizuo_storage_allocated_bytes"
            for s in f.samples
            if s.labels["scope"] == "pool" and s.labels["pool"] == "xc-ceph"
        ]
        return told

    assert told("yl-gov/xc-ceph", "dc2/xc-ceph") == ("ceph_pool", "yl-gov/xc-ceph")
    assert told("yl-gov/xc-ceph", "yl-egov/xc-ceph", "dc2/xc-ceph") == ("ceph_pool", "yl-egov/xc-ceph")


def test_help_texts_say_what_a_value_is_and_when_it_is_absent():
    """A metric's HELP is what a reader of /metrics sees: the used and capacity bytes are the history's last step (for a
    filesystem size minus avail), and each of the three exhaustion dates is absent beyond the horizon."""
    helps = {f.name: f.documentation for f in text_string_to_metric_families(generate_latest(collect(GOOD)).decode())}
    assert "last step" in helps["dizuo_storage_used_bytes"]
    assert "size minus avail" in helps["dizuo_storage_used_bytes"]
    assert "last step" in helps["dizuo_storage_capacity_bytes"]
    for name in ("", "_p10", "_p90"):
        assert "absent when beyond the horizon" in helps[f"dizuo_storage_exhaustion{name}_timestamp_seconds"], name
