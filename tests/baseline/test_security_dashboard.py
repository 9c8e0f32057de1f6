"""The host-security dashboard and alerts only use the metrics the hardened hosts' jobs write, and show them all."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from grafana import check_dashboard

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "monitoring" / "dashboards" / "dizuo-security.json"
ALERTS = ROOT / "monitoring" / "security-alerts.yaml"
# The jobs the role installs that write node_exporter textfile metrics (DZ-MC-03, DZ-MC-02).
HOST_SCRIPTS = [
    ROOT / "roles" / "baseline" / "templates" / name for name in ("dizuo-malware-scan.j2", "dizuo-aide-check.j2")
]
METRIC = re.compile(r"\bdizuo_[a-z0-9_]+")


def written_by_hosts() -> set[str]:
    """Metric names the host scripts declare: each is written with a `# HELP <name>` line."""
    names: set[str] = set()
    for script in HOST_SCRIPTS:
        text = script.read_text(encoding="utf-8")
        names |= set(re.findall(r"# HELP (dizuo_[a-z0-9_]+)", text))
        # The malware job builds its HELP lines from (name, help, samples) rows.
        names |= set(re.findall(r'\(\s*"(dizuo_[a-z0-9_]+)",', text))
    return names


def dashboard_exprs() -> list[str]:
    return [t["expr"] for p in json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"] for t in p["targets"]]


def test_the_scripts_declare_the_metrics_the_alerts_were_written_for() -> None:
    assert written_by_hosts() >= {
        "dizuo_malware_found",
        "dizuo_malware_scan_success",
        "dizuo_malware_scan_timestamp_seconds",
        "dizuo_malware_signatures_updated_timestamp_seconds",
        "dizuo_integrity_entries",
        "dizuo_integrity_check_success",
        "dizuo_integrity_check_timestamp_seconds",
    }


def test_dashboard_is_valid_grafana_json() -> None:
    """The dashboard parses, has a uid, unique panel ids, and every panel queries the chosen Prometheus."""
    check_dashboard(DASHBOARD, "dizuo-security", {"datasource", "instance"})


def test_dashboard_and_alerts_use_only_metrics_the_hosts_write() -> None:
    """Every dizuo_* metric of the dashboard and of security-alerts.yaml is one a host script writes (no typos)."""
    written = written_by_hosts()
    rules = yaml.safe_load(ALERTS.read_text(encoding="utf-8"))
    alert_exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    for source, exprs in (("dashboard", dashboard_exprs()), ("security-alerts.yaml", alert_exprs)):
        for expr in exprs:
            unknown = set(METRIC.findall(expr)) - written
            assert not unknown, f"{source}: {expr!r} uses metrics no host writes: {sorted(unknown)}"


def test_every_metric_the_hosts_write_is_on_the_dashboard() -> None:
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    missing = written_by_hosts() - used
    assert not missing, f"written by the hosts but not on the dashboard: {sorted(missing)}"
