"""Two `dizuo capacity serve` replicas behind one scrape job (an HA pair), a real Prometheus and the committed rules.

Debian's Prometheus runs on 127.0.0.1 over a TSDB backfilled with promtool: a claim filling (full in ~36 h), a claim
whose kubelet stopped reporting it 2 hours ago (left out), and one mountpoint `/data`, 97 % full, on two nodes (their
node_exporter `instance` is part of the volume's name), and one NFS share, 97 % full, that both nodes mount (one
volume, named by its device). Two exporter processes read it; Prometheus scrapes both as job
dizuo-capacity (honor_labels: true, where a label of the exporter's own named `instance` would replace the target's)
and evaluates monitoring/alerts.yaml with every `for:` cut to 3 s.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from prometheus_server import (
    REAL_PROMETHEUS,
    backfill,
    free_port,
    get,
    openmetrics,
    quick_rules,
    serving,
    start_exporter,
    stop,
    wait_for,
)

ROOT = Path(__file__).resolve().parents[2]
GIB = 2**30
STEP = 900
DAYS = 14
FILL_HOURS = 36
STOPPED_HOURS = 2

pytestmark = REAL_PROMETHEUS

FILLING = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "data", "job": "kubelet"}
STOPPED = {"namespace": "gaj-01", "persistentvolumeclaim": "db", "job": "kubelet"}
NODES = ("10.61.16.21:9100", "10.61.16.22:9100")
SHARE = "10.61.16.5:/export"
# What each volume alert must carry besides its name and job, exactly: the volume's labels, no replica's `instance`.
FILLING_LABELS = {
    "kind": "pvc",
    "volume": "sjj-tyrz/data",
    "department": "sjj",
    "system": "sjj-tyrz",
    "pool": "xc-ceph",
}
EXPECTED = {
    ("DizuoStorageExhaustionForecastCritical", "sjj-tyrz/data"): {"severity": "critical", **FILLING_LABELS},
    ("DizuoStorageExhaustionForecastWarning", "sjj-tyrz/data"): {"severity": "warning", **FILLING_LABELS},
    ("DizuoCapacityVolumesLeftOut", "gaj-01/db"): {
        "severity": "warning",
        "kind": "pvc",
        "volume": "gaj-01/db",
        "department": "gaj",
        "system": "gaj-01",
        "pool": "phase1-ceph",
    },
    **{
        ("DizuoStorageUsageCritical", f"{node}//data"): {
            "severity": "critical",
            "kind": "filesystem",
            "volume": f"{node}//data",
        }
        for node in NODES
    },
    ("DizuoStorageUsageCritical", SHARE): {"severity": "critical", "kind": "filesystem", "volume": SHARE},
}


def history(now: int) -> str:
    """OpenMetrics text: 14 days at 15 min of the two claims and the two nodes' /data."""
    ts = np.arange(now - DAYS * 86400, now + 1, STEP, dtype=np.int64)
    full_at = now + FILL_HOURS * 3600
    filling = 100 * GIB - (full_at - ts) * (70 * GIB / (full_at - ts[0]))
    stopped = ts <= now - STOPPED_HOURS * 3600
    series: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {
        "kubelet_volume_stats_used_bytes": [
            (FILLING, filling),
            (STOPPED, np.where(stopped, 50.0 * GIB, np.nan)),
        ],
        "kubelet_volume_stats_capacity_bytes": [
            (FILLING, np.full(ts.size, 100.0 * GIB)),
            (STOPPED, np.where(stopped, 100.0 * GIB, np.nan)),
        ],
        "node_filesystem_size_bytes": [],
        "node_filesystem_avail_bytes": [],
    }
    for node in NODES:
        fs = {"instance": node, "job": "node", "mountpoint": "/data", "device": "/dev/sdb1", "fstype": "xfs"}
        series["node_filesystem_size_bytes"].append((fs, np.full(ts.size, 1000.0 * GIB)))
        series["node_filesystem_avail_bytes"].append((fs, np.full(ts.size, 30.0 * GIB)))
        share = {"instance": node, "job": "node", "mountpoint": "/mnt/share", "device": SHARE, "fstype": "nfs4"}
        series["node_filesystem_size_bytes"].append((share, np.full(ts.size, 500.0 * GIB)))
        series["node_filesystem_avail_bytes"].append((share, np.full(ts.size, 15.0 * GIB)))
    return openmetrics(ts, series)


@dataclass
class Pair:
    """The running Prometheus and the two exporter replicas."""

    prometheus_url: str
    exporters: dict[str, subprocess.Popen[bytes]]  # by the `instance` Prometheus gives each
    logs: list[Path]

    def alerts(self, state: str = "firing") -> list[dict[str, Any]]:
        answer = json.loads(get(f"{self.prometheus_url}/api/v1/alerts"))["data"]["alerts"]
        return [a for a in answer if a["state"] == state]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    work = tmp_path_factory.mktemp("e2e-replicas")
    now = int(time.time()) // STEP * STEP
    tsdb = backfill(work, history(now))
    quick_rules(work, ROOT / "monitoring" / "alerts.yaml")
    ports = [free_port(), free_port()]
    targets = [f"127.0.0.1:{port}" for port in ports]
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yaml"],
        "scrape_configs": [
            {"job_name": "dizuo-capacity", "honor_labels": True, "static_configs": [{"targets": targets}]}
        ],
    }
    logs = [work / "prometheus.log", *(work / f"exporter-{i}.log" for i in range(len(ports)))]
    exporters: dict[str, subprocess.Popen[bytes]] = {}
    with serving(work, tsdb, config, logs[0]) as (_prometheus, prometheus_url):
        try:
            for target, log in zip(targets, logs[1:], strict=True):
                exporters[target] = start_exporter(ROOT, prometheus_url, target, log)
            yield Pair(prometheus_url, exporters, logs)
        finally:
            for exporter in exporters.values():
                stop(exporter)


def volume_alerts(alerts: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    """How many alerts Prometheus holds per (alert name, volume)."""
    return Counter((a["labels"]["alertname"], a["labels"]["volume"]) for a in alerts if "volume" in a["labels"])


def test_two_replicas_alert_once_per_volume_with_the_volume_s_labels(pair):
    """With both replicas scraped, each volume alert fires exactly once, with exactly the volume's labels and the job
    (no replica's `instance`), while both replicas' series are in Prometheus; the two nodes' /data, which differ only
    in the node's `instance`, stay two alerts; the NFS share both mount is one alert."""
    fired = wait_for(
        lambda: (alerts := pair.alerts()) and set(volume_alerts(alerts)) >= set(EXPECTED) and alerts,
        f"every one of {sorted(EXPECTED)} firing",
        pair.logs,
    )
    counts = volume_alerts(fired)
    assert {key: counts[key] for key in EXPECTED} == dict.fromkeys(EXPECTED, 1), f"alerts per volume: {counts}"
    for alert in fired:
        key = (alert["labels"]["alertname"], alert["labels"].get("volume", ""))
        if key in EXPECTED:
            expected = {"alertname": key[0], "job": "dizuo-capacity", **EXPECTED[key]}
            assert alert["labels"] == expected, f"labels of {key}: {alert['labels']}"
    # Both replicas do serve every volume: the one alert is the pair's, not one replica's by chance.
    served = json.loads(
        get(f"{pair.prometheus_url}/api/v1/query?query=count+by+(volume)+(dizuo_storage_used_bytes)").decode()
    )["data"]["result"]
    assert {r["metric"]["volume"]: r["value"][1] for r in served} == {
        "sjj-tyrz/data": "2",
        **{f"{node}//data": "2" for node in NODES},
        SHARE: "2",
    }, served


def test_one_replica_down_keeps_every_alert_and_warns_for_that_replica_only(pair):
    """One replica stopped: every volume alert keeps firing, once, from the same moment (no resolve, no second page),
    and DizuoCapacityExporterDown warns for the stopped replica alone, a warning (it does not page)."""
    before = wait_for(
        lambda: (alerts := pair.alerts()) and set(volume_alerts(alerts)) >= set(EXPECTED) and alerts,
        "every volume alert firing",
        pair.logs,
    )
    active_at = {
        (a["labels"]["alertname"], a["labels"]["volume"]): a["activeAt"] for a in before if "volume" in a["labels"]
    }
    gone, kept = pair.exporters
    stop(pair.exporters[gone])
    down = wait_for(
        lambda: [a for a in pair.alerts() if a["labels"]["alertname"] == "DizuoCapacityExporterDown"],
        f"DizuoCapacityExporterDown firing for {gone}",
        pair.logs,
    )
    assert [(a["labels"]["instance"], a["labels"]["severity"]) for a in down] == [(gone, "warning")], down
    # The stopped replica's series are still bridged (series_gap, 15 minutes): the promtool cases in monitoring/tests
    # follow the alerts past that; here, no alert of the pair may have moved when a replica's scrape started failing.
    after = pair.alerts()
    counts = volume_alerts(after)
    assert {key: counts[key] for key in EXPECTED} == dict.fromkeys(EXPECTED, 1), f"alerts per volume: {counts}"
    assert {
        (a["labels"]["alertname"], a["labels"]["volume"]): a["activeAt"] for a in after if "volume" in a["labels"]
    } == active_at, "a volume alert restarted when one replica stopped"
    assert pair.exporters[kept].poll() is None, f"replica {kept} still runs"
