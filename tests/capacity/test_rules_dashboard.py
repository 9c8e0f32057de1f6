"""The Grafana dashboard and the alert rules only use metrics the exporter really exposes."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.registry import CollectorRegistry
from prometheus_client.samples import Sample
from typer.testing import CliRunner

from dizuo.capacity.collector import (
    Allocation,
    CapacityCollector,
    DatasetWrite,
    LeftOut,
    RefreshPeriod,
    SelectorRead,
    Snapshot,
)
from dizuo.capacity.rules import REPLICA_VARIABLE, load_alert_config, render, render_dashboard, served
from dizuo.capacity.types import Forecast
from dizuo.cli import app
from dizuo.exit_codes import BAD_INPUT, FAILED
from grafana import as_sent, check_dashboard
from promtool import assert_promtool_passes

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "monitoring" / "dashboards" / "dizuo-capacity.json"
METRIC = re.compile(r"\bdizuo_[a-z0-9_]+")


def exported_samples() -> list[Sample]:
    """Every sample the collector can expose (a forecast with all three dates, one allocation, one dataset, one
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
    return [sample for family in registry.collect() for sample in family.samples]


def exported_names() -> set[str]:
    """Every sample name the collector can expose."""
    return {sample.name for sample in exported_samples()}


def test_the_exporter_s_own_series_carry_no_replica_label():
    """The replica labels of alerts-config.yaml are the target's, added by Prometheus: no series the exporter serves
    carries one (else the volume alerts would drop one of its own labels, and under `honor_labels: true` it would
    replace the target's, so that two replicas' series collide)."""
    replica = set(load_alert_config(ROOT / "monitoring" / "alerts-config.yaml").replica_labels)
    served = {name for sample in exported_samples() for name in sample.labels}
    assert {"kind", "volume", "dataset"} <= served, f"labels served: {sorted(served)}"
    assert not served & replica, f"exporter series carry replica labels: {sorted(served & replica)}"


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


def panel_exprs(panel_id: int) -> list[str]:
    """The queries of panel ``panel_id``, as Grafana sends them with every department and pool chosen."""
    dashboard = json.loads(DASHBOARD.read_text())
    (panel,) = (p for p in dashboard["panels"] if p["id"] == panel_id)
    return [as_sent(t["expr"], dashboard) for t in panel["targets"]]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_the_full_within_stats_follow_the_alert_horizons_and_count_each_volume_once(tmp_path):
    """The dashboard's "full within" stats count the volumes the exhaustion alerts hold for, at the horizons
    alerts-config.yaml sets (critical at 3d here: a volume full in 60 h counts, the committed 48 h would miss it), and
    each volume once with two exporters (an HA pair) reporting it; the table lists each volume once. Evaluated by
    promtool on the rules `dizuo capacity rules` generates."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text((ROOT / "monitoring" / "alerts-config.yaml").read_text().replace("within: 48h", "within: 3d"))
    rules = tmp_path / "alerts.yaml"
    result = CliRunner().invoke(app, ["capacity", "rules", "--config", str(config), "--output", str(rules)])
    assert result.exit_code == 0, result.output
    series = []
    for instance in ("10.61.0.11:9782", "10.61.0.12:9782"):
        for volume, hours in (("gaj/db", 60), ("sjj/logs", 120)):
            labels = (
                f'job="dizuo-capacity",instance="{instance}",kind="pvc",volume="{volume}",pool="ceph-ssd",'
                f'department="{volume.split("/")[0]}",system=""'
            )
            series += [
                # promtool's clock starts at 0: the date is `hours` from then, the evaluation minutes after.
                {"series": f"dizuo_storage_exhaustion_{q}timestamp_seconds{{{labels}}}", "values": f"{hours * 3600}x30"}
                for q in ("", "p10_", "p90_")
            ]
            series += [
                {"series": f"dizuo_storage_used_bytes{{{labels}}}", "values": "90x30"},
                {"series": f"dizuo_storage_capacity_bytes{{{labels}}}", "values": "100x30"},
            ]
    # Panels 1 and 2: the critical and warning "full within" stats; 5: the table of volumes by time to full.
    (critical,), (warning,), table = panel_exprs(1), panel_exprs(2), panel_exprs(5)
    counted = [
        {"expr": critical, "eval_time": "10m", "exp_samples": [{"value": 1}]},
        {"expr": warning, "eval_time": "10m", "exp_samples": [{"value": 2}]},
        *({"expr": f"count({expr})", "eval_time": "10m", "exp_samples": [{"value": 2}]} for expr in table),
    ]
    case = {
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": counted}],
    }
    assert_promtool_passes(tmp_path, case)


def replica_series(
    instance: str, *, stale: int, db_full_in_hours: int, db_used: int, rbd_used: int, unread: tuple[str, ...] = ()
) -> list[dict]:
    """promtool input series of one exporter replica of job dizuo-capacity: its stale flag, its selector stale flags
    (1 for the kinds ``unread``), gaj's claim db (forecast full ``db_full_in_hours`` from promtool's clock start,
    ``db_used`` of 100 bytes used), pool dc1/rbd (``rbd_used`` of 100) and gaj's quota of 1000."""
    own = f'job="dizuo-capacity",instance="{instance}"'
    db = f'{own},kind="pvc",volume="gaj-01/db",pool="xc-ceph",department="gaj",system=""'
    rbd = f'{own},kind="ceph_pool",volume="dc1/rbd",pool="rbd",department="",system=""'
    quota = f'{own},scope="department",department="gaj",pool="",kind="",volume=""'
    return [
        {"series": f"dizuo_capacity_forecast_stale{{{own}}}", "values": f"{stale}x30"},
        *(
            {"series": f'dizuo_capacity_selector_stale{{{own},kind="{k}"}}', "values": f"{int(k in unread)}x30"}
            for k in ("pvc", "ceph_pool")
        ),
        *(
            {
                "series": f"dizuo_storage_exhaustion_{q}timestamp_seconds{{{db}}}",
                "values": f"{db_full_in_hours * 3600}x30",
            }
            for q in ("", "p10_", "p90_")
        ),
        {"series": f"dizuo_storage_used_bytes{{{db}}}", "values": f"{db_used}x30"},
        {"series": f"dizuo_storage_capacity_bytes{{{db}}}", "values": "100x30"},
        {"series": f"dizuo_storage_used_bytes{{{rbd}}}", "values": f"{rbd_used}x30"},
        {"series": f"dizuo_storage_capacity_bytes{{{rbd}}}", "values": "100x30"},
        {"series": f"dizuo_storage_allocated_bytes{{{quota}}}", "values": "1000x30"},
    ]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_the_dashboard_reads_a_stale_replica_only_where_no_replica_is_fresh(tmp_path):
    """With two exporter replicas, one serving a stale forecast (gaj-01/db full in 2 h, 95 % used, dc1/rbd at 90, a
    volume left out) and one a fresh one (db full in 100 h, 40 % used, rbd at 50), the time-to-full table, the fullest
    volumes, the departments' used/quota, the pools and the volumes no longer reporting show the fresh forecast, as the
    alerts do; a stale exporter with no fresh replica beside it is still read. Evaluated by promtool."""
    db = {"kind": "pvc", "volume": "gaj-01/db", "pool": "xc-ceph", "department": "gaj", "system": ""}
    left_out = (
        'dizuo_capacity_left_out_last_sample_timestamp_seconds{job="dizuo-capacity",instance="%s",kind="pvc",'
        'volume="gaj-01/old",pool="xc-ceph",department="gaj",system=""}'
    )
    stale = replica_series("10.61.0.11:9782", stale=1, db_full_in_hours=2, db_used=95, rbd_used=90)
    stale.append({"series": left_out % "10.61.0.11:9782", "values": "0x30"})
    fresh = replica_series("10.61.0.12:9782", stale=0, db_full_in_hours=100, db_used=40, rbd_used=50)
    (table_p10, table_median, table_p90, table_full), (fullest,), (departments, _over_0_quota) = (
        panel_exprs(i) for i in (5, 6, 7)
    )
    pool_used, pool_capacity, *_declared = panel_exprs(8)
    (no_longer_reporting,) = panel_exprs(11)
    # promtool's clock starts at 0 and evaluates at 10 minutes: a date h hours from 0 is h * 3600 - 600 s away.
    read = [
        *(
            {"expr": expr, "eval_time": "10m", "exp_samples": [{"labels": label_set(db), "value": 100 * 3600 - 600}]}
            for expr in (table_p10, table_median, table_p90)
        ),
        *(
            {
                "expr": expr,
                "eval_time": "10m",
                "exp_samples": [
                    {"labels": label_set(db), "value": 0.4},
                    {"labels": '{kind="ceph_pool",pool="rbd",volume="dc1/rbd"}', "value": 0.5},
                ],
            }
            for expr in (table_full, fullest)
        ),
        {"expr": departments, "eval_time": "10m", "exp_samples": [{"labels": '{department="gaj"}', "value": 0.04}]},
        *(
            {"expr": expr, "eval_time": "10m", "exp_samples": [{"labels": '{pool="rbd",volume="dc1/rbd"}', "value": v}]}
            for expr, v in ((pool_used, 50), (pool_capacity, 100))
        ),
        {"expr": no_longer_reporting, "eval_time": "10m", "exp_samples": []},
    ]
    alone = {
        "expr": table_median,
        "eval_time": "10m",
        "exp_samples": [{"labels": label_set(db), "value": 2 * 3600 - 600}],
    }
    case = {
        "evaluation_interval": "1m",
        "tests": [
            {"interval": "1m", "input_series": stale + fresh, "promql_expr_test": read},
            {"interval": "1m", "input_series": stale, "promql_expr_test": [alone]},
        ],
    }
    assert_promtool_passes(tmp_path, case)


def label_set(labels: dict[str, str]) -> str:
    """``labels`` as promtool's expected samples write them (an empty label is no label)."""
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if v) + "}"


# The per-volume series the panels read: each only through the alerts' filter of stale replicas.
PER_VOLUME_SELECTOR = re.compile(
    r"\b(?:dizuo_storage_(?:used|capacity|exhaustion(?:_p10|_p90)?_timestamp)_(?:bytes|seconds)"
    r"|dizuo_capacity_left_out_last_sample_timestamp_seconds)\{[^}]*\}"
)


def test_the_dashboard_s_stale_replica_filter_is_the_alerts_with_the_config_s_replica_labels():
    """Every per-volume panel (5, 6, 7, 8's measured lines, 11) reads its series through the alerts' own filter
    (rules.served) with the dashboard's replica labels constant, and the committed dashboard is what `dizuo capacity
    rules` makes of it from the committed alert config: its replica labels are the config's. A replica label left out
    would make two replicas one, and a stale one would hide the fresh one."""
    config = load_alert_config(ROOT / "monitoring" / "alerts-config.yaml")
    text = DASHBOARD.read_text(encoding="utf-8")
    assert render_dashboard(config, text, str(DASHBOARD)).text == text, "run `dizuo capacity rules` and commit it"
    panels = {p["id"]: p for p in json.loads(text)["panels"]}
    per_volume = [t for i in (5, 6, 7, 11) for t in panels[i]["targets"]] + panels[8]["targets"][:2]
    for target in per_volume:
        selectors = PER_VOLUME_SELECTOR.findall(target["expr"])
        assert selectors, f"{target['expr']!r} reads no per-volume series"
        for selector in selectors:
            assert f"({served(selector, '$' + REPLICA_VARIABLE)})" in target["expr"], target["expr"]


def replica_constant(dashboard: Path) -> str:
    """The value of ``dashboard``'s hidden replica-labels constant, as Grafana puts it into the queries."""
    variables = {v["name"]: v for v in json.loads(dashboard.read_text())["templating"]["list"]}
    assert REPLICA_VARIABLE in variables, f"{dashboard} has no {REPLICA_VARIABLE} constant"
    return str(variables[REPLICA_VARIABLE]["query"])


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_a_city_s_own_replica_label_reaches_the_dashboard_and_hides_a_stale_replica(tmp_path):
    """A city whose scrape tells replicas apart by its own label (`replica`, both replicas behind one address) runs
    `dizuo capacity rules`: the dashboard beside the rules gets that label, and its time-to-full table shows the fresh
    replica's date, not the stale replica's older one, as the alerts do. Evaluated by promtool on the table's
    median query as Grafana sends it."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text((ROOT / "monitoring" / "alerts-config.yaml").read_text().replace("[instance, pod]", "[replica]"))
    (tmp_path / "dashboards").mkdir()
    dashboard = tmp_path / "dashboards" / "dizuo-capacity.json"
    shutil.copy(DASHBOARD, dashboard)
    rules = tmp_path / "alerts.yaml"
    result = CliRunner().invoke(app, ["capacity", "rules", "--config", str(config), "--output", str(rules)])
    assert result.exit_code == 0, result.output
    assert replica_constant(dashboard) == "replica", "the dashboard's replica labels are not the config's"
    series = []
    for replica, stale, hours in (("a", 1, 10), ("b", 0, 100)):
        target = f'job="dizuo-capacity",instance="10.61.0.10:9782",replica="{replica}"'
        volume = 'kind="pvc",volume="gaj/db",pool="ceph-ssd",department="gaj",system=""'
        series += [
            {"series": f"dizuo_capacity_forecast_stale{{{target}}}", "values": f"{stale}x30"},
            {
                "series": f"dizuo_storage_exhaustion_timestamp_seconds{{{target},{volume}}}",
                "values": f"{hours * 3600}x30",
            },
        ]
    written = json.loads(dashboard.read_text())
    (panel,) = (p for p in written["panels"] if p["id"] == 5)
    (median,) = (as_sent(t["expr"], written) for t in panel["targets"] if t["refId"] == "B")
    fresh = 100 * 3600 - 600  # replica b's date, seen 10 minutes in
    labels = '{kind="pvc",volume="gaj/db",pool="ceph-ssd",department="gaj"}'
    expected = {"expr": median, "eval_time": "10m", "exp_samples": [{"labels": labels, "value": fresh}]}
    case = {
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": [expected]}],
    }
    assert_promtool_passes(tmp_path, case)


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_forecast_runs_draws_each_replica_as_its_own_named_line(tmp_path):
    """With two exporter replicas behind one address told apart by the city's own label (`replica`), "Forecast runs"
    draws each replica's run time, failed runs and time since it read a kind of storage as its own line, named by that
    label: the failing replica's pvc read 10 minutes ago is not hidden behind the fresh one's, nor are the two lines
    named alike. Evaluated by promtool on the panel's queries as Grafana sends them from the dashboard `dizuo capacity
    rules` writes."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text((ROOT / "monitoring" / "alerts-config.yaml").read_text().replace("[instance, pod]", "[replica]"))
    (tmp_path / "dashboards").mkdir()
    dashboard = tmp_path / "dashboards" / "dizuo-capacity.json"
    shutil.copy(DASHBOARD, dashboard)
    result = CliRunner().invoke(
        app, ["capacity", "rules", "--config", str(config), "--output", str(tmp_path / "a.yaml")]
    )
    assert result.exit_code == 0, result.output
    series = []
    # Replica a fails every run and last read pvc at promtool's clock start; b reads it every minute.
    for replica, duration, failures, last_read in (("a", 30, "0+1x30", "0x30"), ("b", 40, "0x30", "0+60x30")):
        target = f'job="dizuo-capacity",instance="10.61.0.10:9782",replica="{replica}"'
        series += [
            {"series": f"dizuo_capacity_forecast_duration_seconds{{{target}}}", "values": f"{duration}x30"},
            {"series": f'dizuo_capacity_forecast_runs_total{{{target},result="failure"}}', "values": failures},
            {
                "series": f'dizuo_capacity_selector_last_read_timestamp_seconds{{{target},kind="pvc"}}',
                "values": last_read,
            },
        ]
    written = json.loads(dashboard.read_text())
    (panel,) = (p for p in written["panels"] if p["title"] == "Forecast runs")
    # Each query's value per replica, seen 10 minutes in; a line's labels are the job, the replica label and its kind.
    drawn = {"A": {"a": 30, "b": 40}, "B": {"a": 5, "b": 0}, "C": {"a": 600, "b": 0}}
    expected, legends = [], {}
    for target in panel["targets"]:
        kind = {"kind": "pvc"} if target["refId"] == "C" else {}
        lines = {replica: {"job": "dizuo-capacity", "replica": replica, **kind} for replica in drawn[target["refId"]]}
        samples = [{"labels": label_set(lines[r]), "value": v} for r, v in drawn[target["refId"]].items()]
        expected.append({"expr": as_sent(target["expr"], written), "eval_time": "10m", "exp_samples": samples})
        legend = as_sent(target["legendFormat"], written)
        legends[target["refId"]] = {legend_of(legend, line) for line in lines.values()}
    assert legends == {
        "A": {"duration a", "duration b"},
        "B": {"failed runs a", "failed runs b"},
        "C": {"since pvc read a", "since pvc read b"},
    }, legends
    case = {
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": expected}],
    }
    assert_promtool_passes(tmp_path, case)


def legend_of(legend: str, labels: dict[str, str]) -> str:
    """The name Grafana draws a line by: ``legend`` (as sent) with each ``{{label}}`` the line's value of it."""
    return re.sub(r"{{(\w+)}}", lambda m: labels.get(m[1], ""), legend)


def test_rules_check_names_a_dashboard_whose_replica_labels_are_not_the_config_s(tmp_path):
    """`dizuo capacity rules --check` fails, naming the dashboard, when the config's replica labels changed and the
    dashboard beside the rules was not regenerated; the rules themselves written, it passes."""
    config = tmp_path / "alerts-config.yaml"
    config.write_text((ROOT / "monitoring" / "alerts-config.yaml").read_text().replace("[instance, pod]", "[pod]"))
    rules = tmp_path / "alerts.yaml"
    rules.write_text(render(load_alert_config(config), source="alerts-config.yaml"))
    (tmp_path / "dashboards").mkdir()
    shutil.copy(DASHBOARD, tmp_path / "dashboards" / "dizuo-capacity.json")
    command = ["capacity", "rules", "--config", str(config), "--output", str(rules), "--check"]
    result = CliRunner().invoke(app, command, env={"COLUMNS": "400"})
    assert result.exit_code == FAILED, result.output
    assert "dizuo-capacity.json: its replica labels are not" in result.output, result.output
    assert CliRunner().invoke(app, command[:-1]).exit_code == 0
    assert CliRunner().invoke(app, command).exit_code == 0


def test_rules_refuse_a_dashboard_that_is_not_the_capacity_dashboard(tmp_path):
    """`dizuo capacity rules --dashboard` given another dashboard (the security one) refuses, naming the file and the
    key, and writes neither file."""
    other = tmp_path / "dizuo-security.json"
    shutil.copy(ROOT / "monitoring" / "dashboards" / "dizuo-security.json", other)
    before = other.read_bytes()
    rules = tmp_path / "alerts.yaml"
    command = ["capacity", "rules", "--config", str(ROOT / "monitoring" / "alerts-config.yaml"), "--output", str(rules)]
    result = CliRunner().invoke(app, [*command, "--dashboard", str(other)], env={"COLUMNS": "400"})
    assert result.exit_code == BAD_INPUT, result.output
    assert f"{other}: templating.list: is not the capacity dashboard" in result.output, result.output
    assert other.read_bytes() == before
    assert not rules.exists()


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_the_stale_stat_says_stale_only_where_no_replica_serves_a_fresh_forecast(tmp_path):
    """The "Forecast stale" stat is 0 while one replica of a pair serves a fresh forecast beside a stale one (the
    panels show the fresh one), and 1 when both are stale or neither reads a kind of storage. Evaluated by promtool."""
    (stat,) = panel_exprs(3)
    pair = {"stale": 0, "db_full_in_hours": 100, "db_used": 40, "rbd_used": 50}
    cases = [
        (replica_series("a", **{**pair, "stale": 1}) + replica_series("b", **pair), 0),
        (replica_series("a", **{**pair, "stale": 1}) + replica_series("b", **{**pair, "stale": 1}), 1),
        (replica_series("a", **pair, unread=("pvc",)) + replica_series("b", **pair, unread=("pvc",)), 1),
    ]
    case = {
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": series,
                "promql_expr_test": [{"expr": stat, "eval_time": "10m", "exp_samples": [{"value": stale}]}],
            }
            for series, stale in cases
        ],
    }
    assert_promtool_passes(tmp_path, case)


def panel_targets(panel_id: int) -> dict[str, dict[str, Any]]:
    """The targets of panel ``panel_id`` by refId."""
    (panel,) = (p for p in json.loads(DASHBOARD.read_text())["panels"] if p["id"] == panel_id)
    return {t["refId"]: t for t in panel["targets"]}


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian package prometheus) is not installed")
def test_a_department_over_a_quota_of_0_reads_over_0_quota_not_inf(tmp_path):
    """A department granted no storage (quota 0) whose volumes hold bytes is drawn as 'over 0 quota' with the bytes it
    holds, never as a +Inf share; one at a share of its quota keeps its share, and one with quota 0 holding nothing is
    not drawn (the report's '-'). Evaluated by promtool on the departments panel's queries, two exporters reporting."""
    gib = 2**30
    held = {"gaj": (0, 10 * gib), "sjj": (100 * gib, 50 * gib), "zwb": (0, 0)}  # department: quota, used
    series = []
    for instance in ("10.61.0.11:9782", "10.61.0.12:9782"):
        target = f'job="dizuo-capacity",instance="{instance}"'
        for department, (quota, used) in held.items():
            volume = f'kind="pvc",volume="{department}/db",pool="ceph-ssd",department="{department}",system=""'
            allocation = f'scope="department",department="{department}",pool="",kind="",volume=""'
            series += [
                {"series": f"dizuo_storage_used_bytes{{{target},{volume}}}", "values": f"{used}x10"},
                {"series": f"dizuo_storage_allocated_bytes{{{target},{allocation}}}", "values": f"{quota}x10"},
            ]
    targets = panel_targets(7)
    assert "B" in targets, "the departments panel has no query for departments over a quota of 0"
    share, over_0 = panel_exprs(7)
    expected = [
        {"expr": share, "eval_time": "5m", "exp_samples": [{"labels": '{department="sjj"}', "value": 0.5}]},
        {"expr": over_0, "eval_time": "5m", "exp_samples": [{"labels": '{department="gaj"}', "value": 10 * gib}]},
    ]
    case = {
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "promql_expr_test": expected}],
    }
    assert_promtool_passes(tmp_path, case)
    (panel,) = (p for p in json.loads(DASHBOARD.read_text())["panels"] if p["id"] == 7)
    (override,) = (
        o for o in panel["fieldConfig"]["overrides"] if o["matcher"] == {"id": "byFrameRefID", "options": "B"}
    )
    assert "over 0 quota" in targets["B"]["legendFormat"], targets["B"]["legendFormat"]
    assert {"id": "unit", "value": "bytes"} in override["properties"], "the bytes over a quota of 0 read as a share"
