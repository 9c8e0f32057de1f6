"""The Grafana dashboard and the alert rules only use metrics the exporter really exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.registry import CollectorRegistry

from dizuo.capacity.collector import (
    Allocation,
    CapacityCollector,
    DatasetWrite,
    LeftOut,
    RefreshPeriod,
    SelectorRead,
    Snapshot,
)
from dizuo.capacity.types import Forecast
from grafana import check_dashboard

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "monitoring" / "dashboards" / "dizuo-capacity.json"
METRIC = re.compile(r"\bdizuo_[a-z0-9_]+")


def exported_names() -> set[str]:
    """Every sample name the collector can expose (a forecast with all three dates, one allocation, one dataset, one
    volume left out, one kind of storage read)."""
    f = Forecast("pvc:a/b", 0, 10, 5, 20, 1.0, 2.0, {"kind": "pvc", "volume": "a/b"})
    registry = CollectorRegistry()
    gone = LeftOut(("pvc", "a/c", "", "", ""), 0.0)
    snapshot = Snapshot(
        (f,),
        succeeded_at=0.0,
        duration_seconds=1.0,
        writes=(DatasetWrite("ds", "d", "p", 0),),
        left_out=(gone,),
        selectors=(SelectorRead("pvc", read_at=0.0),),
    )
    refresh = [RefreshPeriod("ds", "d", "p", 86400.0)]
    allocated = [Allocation("department", "d", 1.0)]
    CapacityCollector(lambda: snapshot, allocated, refresh, stale_after=1, registry=registry)
    return {sample.name for family in registry.collect() for sample in family.samples}


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]


def test_dashboard_is_valid_grafana_json():
    """The dashboard parses, has a uid, unique panel ids, and every panel queries the chosen Prometheus."""
    check_dashboard(DASHBOARD, "dizuo-capacity", {"datasource"})


def test_dashboard_and_alerts_use_only_exported_metrics():
    """Every dizuo_* metric in the dashboard and in alerts.yaml is one the collector exports (no typos)."""
    exported = exported_names()
    rules = yaml.safe_load((ROOT / "monitoring" / "alerts.yaml").read_text())
    alert_exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    for source, exprs in (("dashboard", dashboard_exprs()), ("alerts.yaml", alert_exprs)):
        for expr in exprs:
            unknown = set(METRIC.findall(expr)) - exported
            assert not unknown, f"{source}: {expr!r} uses metrics the exporter does not expose: {sorted(unknown)}"


def test_every_exported_storage_metric_is_on_the_dashboard():
    """Each per-volume and health metric the exporter exposes appears in at least one panel."""
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    missing = {n for n in exported_names() if not n.endswith("_series") and n not in used} - {
        "dizuo_capacity_forecast_runs_total"  # shown through its failure count only
    }
    assert used >= {"dizuo_capacity_forecast_runs_total"}, "failed runs are charted"
    assert not missing, f"exported but not on the dashboard: {sorted(missing)}"
