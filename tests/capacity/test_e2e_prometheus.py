"""End to end with a real Prometheus: backfilled history -> `dizuo capacity serve` -> scrape -> alert rules.

Debian's Prometheus runs on 127.0.0.1 with its own TSDB in tmp, holding 14 days of kubelet volume
stats (and 40 of Ceph pools and MinIO buckets) backfilled with promtool: one PVC filling steadily (full in ~36 h) and
one with daily log rotation (never full, but a 6 h predict_linear would cry wolf every afternoon). The exporter runs as
a subprocess of the real CLI; Prometheus scrapes it and evaluates monitoring/alerts.yaml.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from typer.testing import CliRunner

from dizuo.capacity.collector import CapacityCollector, Snapshot
from dizuo.capacity.commands_serve import load_calendar
from dizuo.capacity.exporter import ForecastLoop, forecaster_for
from dizuo.capacity.prometheus_source import DEFAULT_CONFIG, PrometheusSource, load_config
from dizuo.capacity.types import Forecast
from dizuo.cli import app
from dizuo.declaration import load
from grafana import as_sent
from prometheus_server import (
    MISSING,
    MISSING_REASON,
    answering_with,
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
HISTORY_DAYS = 40  # longer than the 28 days the forecaster reads: a dataset's last write can lie before them
CLAIMS_DAYS = 14  # the two PVCs' age
BDC_DA_LOADED_DAYS = 35  # bdc-da's last load, days before the last sample
FILL_HOURS = 36  # the filling volume is full this long after the last backfilled sample

pytestmark = [
    pytest.mark.prometheus,
    pytest.mark.slow,
    pytest.mark.skipif(MISSING, reason=MISSING_REASON),
]

FILLING = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "data", "job": "kubelet"}
ROTATING = {"namespace": "gaj-01", "persistentvolumeclaim": "logs", "job": "kubelet"}
# A claim 97 % full whose kubelet stopped reporting it STOPPED_HOURS before the last sample.
STOPPED = {"namespace": "gaj-01", "persistentvolumeclaim": "db", "job": "kubelet"}
STOPPED_HOURS = 2
# A claim whose capacity is +Inf all along (no limit set): nothing to forecast, no number to chart or add up.
UNBOUNDED = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "unbounded", "job": "kubelet"}
# Two dataset claims on Ceph RBD, as the datapool stack names them (`dp-<owner>/<dataset>`), 40 days old and never
# growing: fr-jcxx reloaded every night with the same bytes (ceph-mgr counts them on its image), xj-xx never written.
# (claim, PV, the uuid of its ceph-csi image `csi-vol-<uuid>`, which ends the PV's volume handle)
RBD_CLAIMS = [
    ({"namespace": "dp-scjg", "persistentvolumeclaim": "fr-jcxx"}, "pvc-5b1c", "24862838-240d-4215-9183-abfc0e9e4002"),
    ({"namespace": "dp-jyj", "persistentvolumeclaim": "xj-xx"}, "pvc-9d07", "7f3e2a10-5c4b-4d6e-8f90-1a2b3c4d5e6f"),
]
# One claim name in both Kubernetes clusters, labelled `cluster` as kubernetes-mixin does: Prometheus' database, 96 %
# full in yl-gov and 30 % in yl-dmz, each on its own PV and RBD image; yl-gov's takes writes every night.
# (cluster, used GiB of 100, PV, image uuid, GiB written a night)
CLUSTER_CLAIMS = [
    ("yl-gov", 96.0, "pvc-6a1e", "0c0ffee0-1111-4aaa-8bbb-000000000001", 2.0),
    ("yl-dmz", 30.0, "pvc-7b2f", "0c0ffee0-2222-4aaa-8bbb-000000000002", 0.0),
]
SHARED_CLAIM = {"namespace": "monitoring", "persistentvolumeclaim": "prometheus-db"}
# A node's filesystems as node_exporter reports them: its root, and the mounts kubelet makes of a claim's RBD image
# (the pod's volume, and CSI's global mount): the claim is read by the pvc selector, not again as two filesystems.
NODE = {"instance": "10.61.16.21:9100", "job": "node"}
NODE_MOUNTS = [
    ("/", "/dev/sda1"),
    (
        "/var/lib/kubelet/pods/0b6c2a1e-8d4f-4c1a-9e2b-5f6a7b8c9d0e/volumes/kubernetes.io~csi/pvc-5b1c/mount",
        "/dev/rbd0",
    ),
    ("/var/lib/kubelet/plugins/kubernetes.io/csi/rbd.csi.ceph.com/2f1e/globalmount/0001-0009-rook-ceph", "/dev/rbd0"),
]
# Claims whose kubelet series gained kubernetes-mixin's `cluster` label RELABELLED_HOURS before the last sample (as the
# README advises): the same claims, `<namespace>/<claim>` until then and `yl-gov/<namespace>/<claim>` since.
RELABELLED_HOURS = 3
RELABELLED = [{"namespace": "sjj-dzzz", "persistentvolumeclaim": claim, "job": "kubelet"} for claim in ("db", "files")]
# Two filesystems whose series changed RENAMED_DAYS before the last sample, each 60 % full all along: one's device was
# renamed at a reboot (sdc1 -> sdb1), the other was also scraped by a second job until it was retired. The stopped copy
# of their series stays in the history read; the volume goes on in the new one. (instance, [(extra labels, until)])
RENAMED_DAYS = 2
RENAMED = [
    (
        "10.61.16.22:9100",
        [({"device": "/dev/sdc1", "job": "node"}, True), ({"device": "/dev/sdb1", "job": "node"}, False)],
    ),
    (
        "10.61.16.23:9100",
        [({"device": "/dev/sdb1", "job": "node"}, None), ({"device": "/dev/sdb1", "job": "node-old"}, True)],
    ),
]
# Ceph clusters in one Prometheus: pool ids and the `.mgr` pool repeat in each. Two labelled `cluster` as
# ceph-mixin does, yl-gov-ceph scraped by a second job too (a second Prometheus job on the same managers) and by a
# third that does not label it; and one cluster without the label, told apart by its job, which shares its name
# with the other cluster's label. (labels, pool id, name, stored GiB)
CEPH_POOLS = [
    ({"cluster": "yl-gov-ceph", "instance": "10.61.16.11:9283", "job": "ceph"}, "1", ".mgr", 100.0),
    ({"cluster": "yl-gov-ceph", "instance": "10.61.16.11:9283", "job": "ceph"}, "2", "phase1-ceph", 101.0),
    ({"cluster": "yl-gov-ceph", "instance": "10.61.16.11:9283", "job": "ceph-dr"}, "1", ".mgr", 100.0),
    ({"cluster": "yl-gov-ceph", "instance": "10.61.16.11:9283", "job": "ceph-dr"}, "2", "phase1-ceph", 101.0),
    ({"cluster": "yl-dmz-ceph", "instance": "10.62.16.11:9283", "job": "ceph"}, "1", ".mgr", 102.0),
    ({"cluster": "yl-dmz-ceph", "instance": "10.62.16.11:9283", "job": "ceph"}, "2", "dmz-ceph", 103.0),
    ({"instance": "10.61.16.11:9283", "job": "ceph-legacy"}, "1", ".mgr", 100.0),
    ({"instance": "10.61.16.11:9283", "job": "ceph-legacy"}, "2", "phase1-ceph", 101.0),
    ({"instance": "10.63.16.11:9283", "job": "yl-dmz-ceph"}, "1", ".mgr", 104.0),
    ({"instance": "10.63.16.11:9283", "job": "yl-dmz-ceph"}, "2", "archive", 105.0),
]


def history(now: int) -> str:
    """OpenMetrics text: 40 days at 15 min of used/capacity bytes for the two volumes, the buckets and the Ceph
    pools."""
    ts = np.arange(now - HISTORY_DAYS * 86400, now + 1, STEP, dtype=np.int64)
    full_at = now + FILL_HOURS * 3600
    # The two claims were created 14 days ago: no samples before (NaN).
    created = ts >= now - CLAIMS_DAYS * 86400
    noise = np.random.default_rng(4).normal(0, 0.05 * GIB, ts.size)
    filling_used = 100 * GIB - (full_at - ts) * (70 * GIB / (full_at - ts[created][0])) + noise
    # Logs grow 20 GiB over the local (UTC+8) day and are rotated away at midnight.
    rotating_used = (10 + 20 * ((ts + 8 * 3600) % 86400) / 86400) * GIB
    series: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {
        "kubelet_volume_stats_used_bytes": [
            (FILLING, np.where(created, filling_used, np.nan)),
            (ROTATING, np.where(created, rotating_used, np.nan)),
            (STOPPED, np.where(created & (ts <= now - STOPPED_HOURS * 3600), 97.0 * GIB, np.nan)),
            (UNBOUNDED, np.where(created, 40.0 * GIB, np.nan)),
        ],
        "kubelet_volume_stats_capacity_bytes": [
            (FILLING, np.where(created, 100.0 * GIB, np.nan)),
            (ROTATING, np.where(created, 50.0 * GIB, np.nan)),
            (STOPPED, np.where(created & (ts <= now - STOPPED_HOURS * 3600), 100.0 * GIB, np.nan)),
            (UNBOUNDED, np.where(created, np.inf, np.nan)),
        ],
        # Three dataset buckets, named as the datapool stack names them: bdc-da (refresh every 7 days) last loaded 35
        # days ago, before the 28 days the exporter forecasts from; gh-yzt (7 days too) loaded every night at 02:00
        # local; gtkj-jcsj (7 days) reloaded every night with the same 123 GiB: it never grows, but MinIO counts the
        # bytes received (below).
        "minio_bucket_usage_total_bytes": [
            ({"bucket": "yl-dp-gtkj-jcsj", "job": "minio"}, np.full(ts.size, 123.0 * GIB)),
            (
                {"bucket": "yl-dp-bdc-da", "job": "minio"},
                np.where(ts >= now - BDC_DA_LOADED_DAYS * 86400, 300.0, 290.0) * GIB,
            ),
            (
                {"bucket": "yl-dp-gh-yzt", "job": "minio"},
                (30 + ((ts + 6 * 3600) // 86400 - (ts[0] + 6 * 3600) // 86400)) * GIB,
            ),
        ],
        "minio_bucket_quota_total_bytes": [
            ({"bucket": "yl-dp-gtkj-jcsj", "job": "minio"}, np.full(ts.size, 1000.0 * GIB)),
            ({"bucket": "yl-dp-bdc-da", "job": "minio"}, np.full(ts.size, 1000.0 * GIB)),
            ({"bucket": "yl-dp-gh-yzt", "job": "minio"}, np.full(ts.size, 1000.0 * GIB)),
        ],
        "ceph_pool_stored": [],
        "ceph_pool_max_avail": [],
        "ceph_pool_metadata": [],
    }
    for claim, pv, uuid in RBD_CLAIMS:
        series["kubelet_volume_stats_used_bytes"].append(({**claim, "job": "kubelet"}, np.full(ts.size, 30.0 * GIB)))
        series["kubelet_volume_stats_capacity_bytes"].append(({**claim, "job": "kubelet"}, np.full(ts.size, 40 * GIB)))
        # kube-state-metrics: which PV a claim is bound to, and the PV's CSI volume handle (Rook's driver name).
        info = {"persistentvolume": pv, "storageclass": "yl-datapool-ceph", "job": "kube-state-metrics"}
        handle = f"0001-0009-rook-ceph-0000000000000002-{uuid}"
        series.setdefault("kube_persistentvolume_info", []).append(
            ({**info, "csi_driver": "rook-ceph.rbd.csi.ceph.com", "csi_volume_handle": handle}, np.ones(ts.size))
        )
        series.setdefault("kube_persistentvolumeclaim_info", []).append(
            (
                {**claim, "volumename": pv, "storageclass": "yl-datapool-ceph", "job": "kube-state-metrics"},
                np.ones(ts.size),
            )
        )
    for cluster, used, pv, uuid, _nightly in CLUSTER_CLAIMS:
        claim = {"cluster": cluster, **SHARED_CLAIM}
        series["kubelet_volume_stats_used_bytes"].append(({**claim, "job": "kubelet"}, np.full(ts.size, used * GIB)))
        series["kubelet_volume_stats_capacity_bytes"].append(({**claim, "job": "kubelet"}, np.full(ts.size, 100 * GIB)))
        handle = f"0001-0009-rook-ceph-0000000000000002-{uuid}"
        info = {"cluster": cluster, "persistentvolume": pv, "job": "kube-state-metrics"}
        series["kube_persistentvolume_info"].append(
            ({**info, "csi_driver": "rook-ceph.rbd.csi.ceph.com", "csi_volume_handle": handle}, np.ones(ts.size))
        )
        series["kube_persistentvolumeclaim_info"].append(
            ({**claim, "volumename": pv, "job": "kube-state-metrics"}, np.ones(ts.size))
        )
    for mountpoint, device in NODE_MOUNTS:
        fs = {**NODE, "mountpoint": mountpoint, "device": device, "fstype": "ext4"}
        series.setdefault("node_filesystem_size_bytes", []).append((fs, np.full(ts.size, 100.0 * GIB)))
        series.setdefault("node_filesystem_avail_bytes", []).append((fs, np.full(ts.size, 80.0 * GIB)))
    unlabelled = ts < now - RELABELLED_HOURS * 3600
    for claim in RELABELLED:
        for labels, when in ((claim, unlabelled), ({**claim, "cluster": "yl-gov"}, ~unlabelled)):
            series["kubelet_volume_stats_used_bytes"].append((labels, np.where(when, 40.0 * GIB, np.nan)))
            series["kubelet_volume_stats_capacity_bytes"].append((labels, np.where(when, 100.0 * GIB, np.nan)))
    before = ts <= now - RENAMED_DAYS * 86400
    for instance, copies in RENAMED:
        for extra, until in copies:
            # True: until the change; False: since; None: all along.
            when = np.ones(ts.size, dtype=bool) if until is None else before if until else ~before
            fs = {"instance": instance, "mountpoint": "/data", "fstype": "xfs", **extra}
            series["node_filesystem_size_bytes"].append((fs, np.where(when, 1000.0 * GIB, np.nan)))
            series["node_filesystem_avail_bytes"].append((fs, np.where(when, 400.0 * GIB, np.nan)))
    for where, pool_id, name, stored in CEPH_POOLS:
        labels = {**where, "pool_id": pool_id}
        series["ceph_pool_stored"].append((labels, np.full(ts.size, stored * GIB)))
        series["ceph_pool_max_avail"].append((labels, np.full(ts.size, 300.0 * GIB)))
        series["ceph_pool_metadata"].append(({**labels, "name": name}, np.ones(ts.size)))
    return (
        openmetrics(ts, series).removesuffix("# EOF\n")
        + received_bytes(ts[0], now).removesuffix("# EOF\n")
        + rbd_written_bytes(ts[0], now)
    )


def received_bytes(start: int, now: int) -> str:
    """MinIO's per-server counters of the S3 bytes received into gtkj-jcsj, scraped every 5 minutes, 7 s past (a
    counter's increase over a step needs samples inside it): each night at 01:58 local each of the two servers takes
    half of the 123 GiB reload, between the last scrape of one 15-minute window and the first of the next (windows
    of one step would miss it); the second server restarted 20 days ago (its counter starts again from 0)."""
    ts = np.arange(start + 7, now + 1, 300, dtype=np.int64)
    nights = (ts + 6 * 3600 + 120) // 86400 - (start + 6 * 3600 + 120) // 86400
    restart = now - 20 * 86400
    since_restart = nights - nights[np.searchsorted(ts, restart)]
    half = 61.5 * GIB
    servers = [
        ({"bucket": "yl-dp-gtkj-jcsj", "server": "10.61.17.11:9000", "job": "minio"}, nights * half),
        (
            {"bucket": "yl-dp-gtkj-jcsj", "server": "10.61.17.12:9000", "job": "minio"},
            np.where(ts < restart, nights, since_restart) * half,
        ),
    ]
    return openmetrics(ts, {"minio_bucket_traffic_received_bytes": servers})


def rbd_written_bytes(start: int, now: int) -> str:
    """ceph-mgr's counters of the bytes written to each claim's RBD image, scraped every 5 minutes: fr-jcxx's takes
    its 33 GiB reload each night at 01:58 local (the same bytes: the claim does not grow), xj-xx's takes none."""
    ts = np.arange(start + 7, now + 1, 300, dtype=np.int64)
    nights = (ts + 6 * 3600 + 120) // 86400 - (start + 6 * 3600 + 120) // 86400
    images = [
        ({"pool": "datapool-ceph", "namespace": "", "image": f"csi-vol-{uuid}", "job": "ceph"}, nights * 33.0 * GIB * w)
        for (_claim, _pv, uuid), w in zip(RBD_CLAIMS, (1, 0), strict=True)
    ]
    images += [
        ({"pool": "phase1-ceph", "namespace": "", "image": f"csi-vol-{uuid}", "job": "ceph"}, nights * nightly * GIB)
        for _cluster, _used, _pv, uuid, nightly in CLUSTER_CLAIMS
    ]
    return openmetrics(ts, {"ceph_rbd_write_bytes": images})


@dataclass
class City:
    """The running Prometheus and exporter of this module."""

    prometheus: subprocess.Popen[bytes]
    prometheus_url: str
    exporter: subprocess.Popen[bytes]
    exporter_url: str
    logs: list[Path]

    def alerts(self) -> list[dict[str, Any]]:
        return list(json.loads(get(f"{self.prometheus_url}/api/v1/alerts"))["data"]["alerts"])

    def metrics(self) -> dict[str, list[Any]]:
        text = get(f"{self.exporter_url}/metrics").decode()
        return {f.name: f.samples for f in text_string_to_metric_families(text)}


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    work = tmp_path_factory.mktemp("e2e-prometheus")
    now = int(time.time()) // STEP * STEP
    tsdb = backfill(work, history(now))
    quick_rules(work, ROOT / "monitoring" / "alerts.yaml")
    exporter_port = free_port()
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["alerts.yaml"],
        "scrape_configs": [
            {"job_name": "dizuo-capacity", "static_configs": [{"targets": [f"127.0.0.1:{exporter_port}"]}]}
        ],
    }
    logs = [work / "prometheus.log", work / "exporter.log"]
    with serving(work, tsdb, config, logs[0]) as (prometheus, prometheus_url):
        exporter = start_exporter(
            ROOT,
            prometheus_url,
            f"127.0.0.1:{exporter_port}",
            logs[1],
            "--calendar",
            str(ROOT / "monitoring" / "working-calendar.yaml"),
        )
        try:
            yield City(prometheus, prometheus_url, exporter, f"http://127.0.0.1:{exporter_port}", logs)
        finally:
            stop(exporter)


def by_volume(alerts: list[dict[str, Any]], volume: str) -> dict[str, dict[str, Any]]:
    return {a["labels"]["alertname"]: a for a in alerts if a["labels"].get("volume") == volume}


def test_filling_volume_fires_and_rotating_volume_does_not(city):
    """Prometheus fires the exhaustion alerts for the filling PVC and none for the daily-rotation PVC."""
    fired = wait_for(
        lambda: (
            by_volume(city.alerts(), "sjj-tyrz/data").get("DizuoStorageExhaustionForecastCritical", {}).get("state")
            == "firing"
            and city.alerts()
        ),
        "DizuoStorageExhaustionForecastCritical firing for pvc sjj-tyrz/data",
        city.logs,
    )
    filling = by_volume(fired, "sjj-tyrz/data")
    assert set(filling) >= {
        "DizuoStorageExhaustionForecastCritical",
        "DizuoStorageExhaustionForecastWarning",
    }, f"alerts on pvc sjj-tyrz/data: {sorted(filling)}"
    critical = filling["DizuoStorageExhaustionForecastCritical"]
    assert {k: critical["labels"][k] for k in ("severity", "kind", "department", "system", "pool")} == {
        "severity": "critical",
        "kind": "pvc",
        "department": "sjj",
        "system": "sjj-tyrz",
        "pool": "xc-ceph",
    }, f"labels of the alert on pvc sjj-tyrz/data: {critical['labels']}"
    description = critical["annotations"]["description"]
    assert description.startswith("pvc sjj-tyrz/data (department sjj, pool xc-ceph) is forecast to be full in "), (
        description
    )
    hours_left = (float(critical["value"])) / 3600
    assert 24 < hours_left < 48, (
        f"pvc sjj-tyrz/data is full {FILL_HOURS} h after its last sample; forecast says {hours_left:.1f} h"
    )
    assert "DizuoStorageUsageCritical" not in filling, "pvc sjj-tyrz/data is 93 % full: below the hard threshold"

    # The rotating volume was scraped and forecast in the same runs, so its silence is a verdict.
    used = {s.labels["volume"] for s in city.metrics()["dizuo_storage_used_bytes"]}
    assert "gaj-01/logs" in used, f"volumes the exporter saw: {sorted(used)}"
    rotating = by_volume(city.alerts(), "gaj-01/logs")
    assert rotating == {}, f"the daily-rotation volume gaj-01/logs must not alert (not even pending): {rotating}"


def test_a_volume_that_stopped_reporting_is_counted_and_warned_of(city):
    """pvc gaj-01/db, 97 % full, has had no sample for 2 hours (its kubelet stopped reporting it): it is left out of the
    forecast, so none of its alerts can fire and no volume-count alert sees it; the exporter exports it with its last
    sample, and DizuoCapacityVolumesLeftOut warns for that volume, by name."""
    fired = wait_for(
        lambda: [
            a
            for a in city.alerts()
            if a["labels"]["alertname"] == "DizuoCapacityVolumesLeftOut" and a["state"] == "firing"
        ],
        "DizuoCapacityVolumesLeftOut firing",
        city.logs,
    )
    assert [(a["labels"]["kind"], a["labels"]["volume"], a["labels"]["severity"]) for a in fired] == [
        ("pvc", "gaj-01/db", "warning")
    ], fired
    metrics = city.metrics()
    left_out = {s.labels["volume"]: s.value for s in metrics["dizuo_capacity_left_out_last_sample_timestamp_seconds"]}
    assert list(left_out) == ["gaj-01/db"], f"only the stopped claim is left out: {left_out}"
    assert time.time() - left_out["gaj-01/db"] > 3600, "valued at its last sample, over an hour ago"
    used = {s.labels["volume"] for s in metrics["dizuo_storage_used_bytes"]}
    assert "gaj-01/db" not in used, "a volume with no recent sample is not forecast"


def test_a_dataset_nobody_refreshed_fires_for_its_owner_and_a_loaded_one_does_not(city):
    """bdc-da's bucket was last loaded 35 days ago, five times its declared 7-day refresh and before the 28 days the
    exporter reads to forecast: DizuoDatasetStale fires with the dataset, its owner and pool, and its age is the
    35 days, found by the exporter looking further back; gh-yzt, loaded every night, stays quiet, and so do the
    bucket gtkj-jcsj and the claim fr-jcxx, reloaded every night with the same bytes; the claim xj-xx fires."""
    fired = wait_for(
        lambda: [
            a for a in city.alerts() if a["labels"]["alertname"] == "DizuoDatasetStale" and a["state"] == "firing"
        ],
        "DizuoDatasetStale firing for bdc-da",
        city.logs,
    )
    stale = {a["labels"]["dataset"]: a for a in fired}
    assert sorted(stale) == ["bdc-da", "xj-xx"], fired
    labels = stale["bdc-da"]["labels"]
    assert (labels["department"], labels["pool"], labels["severity"]) == ("bdc", "datapool-s3", "warning"), labels
    # Looked for at write_step (1 h): the load is dated to the first hourly sample after it.
    age_days = float(stale["bdc-da"]["value"]) / 86400
    assert BDC_DA_LOADED_DAYS - 1 / 24 - 0.01 < age_days < BDC_DA_LOADED_DAYS + 0.05, f"bdc-da's age: {age_days} d"
    written = {s.labels["dataset"]: s.value for s in city.metrics()["dizuo_dataset_last_write_timestamp_seconds"]}
    assert "gh-yzt" in written, written
    assert written["gh-yzt"] > time.time() - 86400, "gh-yzt was loaded last night"
    assert written["gtkj-jcsj"] > time.time() - 86400, "gtkj-jcsj was reloaded last night, with the same bytes"
    # Claims: the bytes ceph-mgr counts on each claim's RBD image (joined through kube-state-metrics) are writes.
    assert written["fr-jcxx"] > time.time() - 86400, "fr-jcxx's claim was reloaded last night, with the same bytes"
    assert stale["xj-xx"]["labels"]["department"] == "jyj", "xj-xx's claim: never written, its image neither"
    # rk-jcxx has no volume in this Prometheus: unwatched, its freshness unknown; the two buckets are watched.
    unwatched = wait_for(
        lambda: {
            a["labels"]["dataset"]
            for a in city.alerts()
            if a["labels"]["alertname"] == "DizuoDatasetUnwatched" and a["state"] == "firing"
        },
        "DizuoDatasetUnwatched firing",
        city.logs,
    )
    assert "rk-jcxx" in unwatched, sorted(unwatched)
    assert not unwatched & {"bdc-da", "gh-yzt"}, sorted(unwatched)


def test_a_dataset_s_older_past_is_read_for_its_own_volumes_only(city):
    """PrometheusSource.write_histories filters each selector in Prometheus to the volumes of the datasets asked
    for (PromQL has no label filter on an expression: the query marks and matches them), over write_lookback at
    write_step."""
    declaration = load(ROOT / "inventories" / "yulin")
    source = PrometheusSource(city.prometheus_url, declaration=declaration)
    (older,) = source.write_histories(["bdc-da"])
    assert (older.series, older.labels["dataset"], older.labels["department"]) == (
        "bucket:yl-dp-bdc-da",
        "bdc-da",
        "bdc",
    )
    assert set(np.diff(older.timestamps)) == {3600}
    days = (older.timestamps[-1] - older.timestamps[0]) / 86400
    assert HISTORY_DAYS - 1 < days <= HISTORY_DAYS, f"read {days:.1f} days: what Prometheus holds"
    both = source.write_histories(["bdc-da", "gh-yzt"])
    assert sorted(h.labels["dataset"] for h in both) == ["bdc-da", "gh-yzt"]
    assert source.write_histories(["rk-jcxx"]) == [], "a dataset without a volume in this Prometheus"
    # A selector of one's own, $owners after braces and before them, and one without it (filtered after evaluation).
    bucket = DEFAULT_CONFIG.selectors[3]
    own = [
        bucket.model_copy(update={"used": 'minio_bucket_usage_total_bytes{job="minio"}$owners', "written": None}),
        bucket.model_copy(update={"used": 'minio_bucket_usage_total_bytes$owners{job="minio"}', "written": None}),
        bucket.model_copy(
            update={"used": "minio_bucket_usage_total_bytes", "capacity": "minio_bucket_quota_total_bytes"}
        ),
    ]
    for selector in own:
        config = DEFAULT_CONFIG.model_copy(update={"selectors": (selector,)})
        found = PrometheusSource(city.prometheus_url, config, declaration).write_histories(["bdc-da"])
        assert [h.series for h in found] == ["bucket:yl-dp-bdc-da"], selector


def test_ceph_pools_are_one_volume_per_cluster_and_pool(city):
    """Pool ids and the `.mgr` pool repeat in every Ceph cluster: the default selector joins each pool's name from
    its own cluster, reads a labelled cluster's pool once however many jobs scrape it (with the label or without),
    and tells an unlabelled cluster apart by its job, under a name no cluster label takes."""
    metrics = wait_for(
        lambda: (m := city.metrics()).get("dizuo_storage_used_bytes") and m, "a first forecast", city.logs
    )
    used = {s.labels["volume"]: s.value for s in metrics["dizuo_storage_used_bytes"] if s.labels["kind"] == "ceph_pool"}
    assert used == {
        "yl-gov-ceph/.mgr": 100.0 * GIB,
        "yl-gov-ceph/phase1-ceph": 101.0 * GIB,
        "yl-dmz-ceph/.mgr": 102.0 * GIB,
        "yl-dmz-ceph/dmz-ceph": 103.0 * GIB,
        "job:yl-dmz-ceph/.mgr": 104.0 * GIB,
        "job:yl-dmz-ceph/archive": 105.0 * GIB,
    }
    pools = {s.labels["volume"]: s.labels["pool"] for s in metrics["dizuo_storage_used_bytes"]}
    assert pools["yl-gov-ceph/phase1-ceph"] == "phase1-ceph"


def test_one_claim_name_in_two_clusters_is_two_volumes(city):
    """`monitoring/prometheus-db` in yl-gov (96 % full) and in yl-dmz (30 %) are two volumes, each with its own
    usage and its own bytes written: the full one is not hidden behind the other, and pages."""
    fired = wait_for(
        lambda: by_volume(city.alerts(), "yl-gov/monitoring/prometheus-db").get("DizuoStorageUsageCritical"),
        "DizuoStorageUsageCritical for pvc yl-gov/monitoring/prometheus-db",
        city.logs,
    )
    assert fired["labels"]["kind"] == "pvc", fired
    used = {
        s.labels["volume"]: s.value
        for s in city.metrics()["dizuo_storage_used_bytes"]
        if "monitoring" in s.labels["volume"]
    }
    assert used == {"yl-gov/monitoring/prometheus-db": 96.0 * GIB, "yl-dmz/monitoring/prometheus-db": 30.0 * GIB}
    # The bytes written join PV and claim within their cluster: yl-gov's image takes 2 GiB a night, yl-dmz's none.
    histories = {h.series: h for h in PrometheusSource(city.prometheus_url).histories()}
    written = {c: np.nansum(histories[f"pvc:{c}/monitoring/prometheus-db"].written_bytes) for c in ("yl-gov", "yl-dmz")}
    assert written["yl-gov"] > 20 * GIB, written
    assert written["yl-dmz"] == 0, written


def test_kubelet_s_mounts_of_claims_are_not_node_filesystems(city):
    """A node's filesystems are its own (here its root): the mounts kubelet makes of a claim under /var/lib/kubelet
    (the pod's volume, CSI's global mount) are the claim, read by the pvc selector, not two more volumes."""
    metrics = wait_for(
        lambda: (m := city.metrics()).get("dizuo_storage_used_bytes") and m, "a first forecast", city.logs
    )
    filesystems = {
        s.labels["volume"]
        for s in metrics["dizuo_storage_used_bytes"]
        if s.labels["kind"] == "filesystem" and s.labels["volume"].startswith(NODE["instance"])
    }
    assert filesystems == {"10.61.16.21:9100//"}


def test_a_volume_whose_series_changed_is_forecast_on_its_whole_history(city):
    """A filesystem whose device was renamed at a reboot, and one whose second scrape job was retired, leave a stopped
    copy of their series in the history read: each is still forecast, on its whole history, and not left out."""
    metrics = wait_for(
        lambda: (m := city.metrics()).get("dizuo_storage_used_bytes") and m, "a first forecast", city.logs
    )
    volumes = [f"{instance}//data" for instance, _copies in RENAMED]
    used = {s.labels["volume"]: s.value for s in metrics["dizuo_storage_used_bytes"] if s.labels["volume"] in volumes}
    assert used == dict.fromkeys(volumes, 600.0 * GIB), f"served: {used}"
    assert_forecast_on_whole_history(city, metrics, "filesystem", volumes)


def assert_forecast_on_whole_history(city: City, metrics: dict[str, list[Any]], kind: str, volumes: list[str]) -> None:
    """None of ``volumes`` is left out, and each is forecast on the 28 days read, without a gap where its series
    changed."""
    left_out = {s.labels["volume"] for s in metrics.get("dizuo_capacity_left_out_last_sample_timestamp_seconds", [])}
    assert not left_out & set(volumes), f"left out: {sorted(left_out)}"
    histories = {h.series: h for h in PrometheusSource(city.prometheus_url).histories()}
    for volume in volumes:
        history = histories[f"{kind}:{volume}"]
        days = (history.timestamps[-1] - history.timestamps[0]) / 86400
        assert days > 27, f"{volume}: forecast on {days:.1f} days of history, not the 28 read"
        assert set(np.diff(history.timestamps)) == {STEP}, f"{volume}: a gap where its series changed"


def query(city: City, expr: str) -> dict[str, Any]:
    url = f"{city.prometheus_url}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
    try:
        return dict(json.loads(get(url)))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))


def test_every_dashboard_query_runs_on_prometheus(city):
    """Every Grafana panel query of both dashboards (capacity, host security) is valid PromQL here, and the
    time-to-full table lists the filling PVC only."""
    wait_for(lambda: city.metrics().get("dizuo_storage_exhaustion_timestamp_seconds"), "a first forecast", city.logs)
    wait_for(lambda: query(city, "dizuo_storage_used_bytes")["data"]["result"], "a scrape of the exporter", city.logs)
    for name in ("dizuo-capacity.json", "dizuo-security.json"):
        document = json.loads((ROOT / "monitoring" / "dashboards" / name).read_text())
        for panel in document["panels"]:
            for target in panel["targets"]:
                expr = as_sent(target["expr"], document)
                answer = query(city, expr)
                assert answer["status"] == "success", f"{name} {panel['title']!r}: {expr!r}: {answer.get('error')}"
    dashboard = json.loads((ROOT / "monitoring" / "dashboards" / "dizuo-capacity.json").read_text())
    table = next(p for p in dashboard["panels"] if p["title"] == "Volumes by time to full")
    median = next(t for t in table["targets"] if t["refId"] == "B")
    rows = query(city, as_sent(median["expr"], dashboard))["data"]["result"]
    assert [r["metric"]["volume"] for r in rows] == ["sjj-tyrz/data"], f"time-to-full rows: {rows}"


def test_the_pool_panel_keeps_same_named_pools_of_two_clusters_apart(city):
    """The dashboard's "Pools: used vs capacity" draws each Ceph pool volume the exporter exports as its own line at
    its own value: the .mgr pools of yl-gov-ceph and yl-dmz-ceph are not added up into one "pool .mgr"."""
    wait_for(lambda: query(city, 'dizuo_storage_used_bytes{kind="ceph_pool"}')["data"]["result"], "pools", city.logs)
    dashboard = json.loads((ROOT / "monitoring" / "dashboards" / "dizuo-capacity.json").read_text())
    panel = next(p for p in dashboard["panels"] if p["title"] == "Pools: used vs capacity")
    for metric, ref, what in (
        ("dizuo_storage_used_bytes", "A", "used"),
        ("dizuo_storage_capacity_bytes", "B", "capacity"),
    ):
        exported = {
            r["metric"]["volume"]: float(r["value"][1])
            for r in query(city, f'{metric}{{kind="ceph_pool"}}')["data"]["result"]
        }
        assert sum(v.endswith("/.mgr") for v in exported) >= 2, f"the city has .mgr in two clusters: {exported}"
        drawn = panel_lines(city, dashboard, panel, ref)
        assert drawn == {f"{v} {what}": b for v, b in exported.items()}, f"{panel['title']} {ref}: {drawn}"


def panel_lines(city: City, dashboard: dict[str, Any], panel: dict[str, Any], ref: str) -> dict[str, float]:
    """The lines query ``ref`` of ``dashboard``'s ``panel`` draws as Grafana sends it (every pool chosen), by legend."""
    target = next(t for t in panel["targets"] if t["refId"] == ref)
    lines = query(city, as_sent(target["expr"], dashboard))["data"]["result"]
    legend = re.sub(r"{{(\w+)}}", lambda m: "{" + m[1] + "}", target["legendFormat"])
    return {legend.format(**r["metric"]): float(r["value"][1]) for r in lines}


def test_the_pool_panel_draws_each_declared_pool_beside_its_own_cluster_s_pool(city):
    """The declared capacity of a pool is drawn as `<cluster>/<pool> declared`, the Ceph pool told as its own (here
    the only one of its name), and a join of the used bytes with the allocation on their labels meets that pool only;
    a declared pool with no Ceph series told as its own is drawn under its name, saying so."""
    wait_for(lambda: query(city, 'dizuo_storage_used_bytes{kind="ceph_pool"}')["data"]["result"], "pools", city.logs)
    dashboard = json.loads((ROOT / "monitoring" / "dashboards" / "dizuo-capacity.json").read_text())
    panel = next(p for p in dashboard["panels"] if p["title"] == "Pools: used vs capacity")
    declared = {p.name: p.capacity_gib * GIB for p in load(ROOT / "inventories" / "yulin").storage_pools()}
    drawn = {**panel_lines(city, dashboard, panel, "C"), **panel_lines(city, dashboard, panel, "D")}
    untold = ("xc-ceph", "datapool-ceph", "datapool-s3")
    assert drawn == {
        "yl-gov-ceph/phase1-ceph declared": declared["phase1-ceph"],
        "yl-dmz-ceph/dmz-ceph declared": declared["dmz-ceph"],
        **{f"{p} declared (no Ceph pool told as its own)": declared[p] for p in untold},
    }, f"{panel['title']}: {drawn}"
    used, allocated = 'dizuo_storage_used_bytes{kind="ceph_pool"}', 'dizuo_storage_allocated_bytes{scope="pool"}'
    share = f"{used} / on (kind, volume, pool) {allocated}"
    joined = {r["metric"]["volume"]: float(r["value"][1]) for r in query(city, share)["data"]["result"]}
    assert joined == {
        "yl-gov-ceph/phase1-ceph": 101.0 * GIB / declared["phase1-ceph"],
        "yl-dmz-ceph/dmz-ceph": 103.0 * GIB / declared["dmz-ceph"],
    }, f"used / allocated joined: {joined}"


def test_report_from_prometheus_charts_the_filling_volume(city, tmp_path):
    """`dizuo capacity report --prometheus-url` reads the same history and charts only the filling PVC."""
    out = tmp_path / "report"
    args = ["capacity", "report", "--prometheus-url", city.prometheus_url, "--out", str(out), "--rows", "200"]
    result = CliRunner().invoke(app, [*args, "--declaration", str(ROOT / "inventories" / "yulin")])
    assert result.exit_code == 0, result.output
    charts = sorted(p.name for p in out.glob("*.png"))
    assert len(charts) == 2, f"charts written: {charts}"
    # The dataset table dates bdc-da's load of 35 days ago, found further back than the 28 days read to forecast.
    row = next(line for line in result.output.splitlines() if " bdc-da " in line)
    assert "35.0 d" in row, row
    assert ">=" not in row, row
    assert "before" not in row, row
    assert charts[0] == "allocation.png", f"charts written: {charts}"
    assert charts[1].startswith("pvc_sjj-tyrz_data-"), f"charts written: {charts}"


LOADER = {"namespace": "dp-scjg", "persistentvolumeclaim": "fr-jcxx", "job": "kubelet"}
LOADER_GONE_HOURS = 5  # fr-jcxx's nightly loader unmounted its claim this long before the last sample
LOADER_MOUNTS = 5400  # for 1.5 h a night: kubelet reports a claim only while a pod mounts it


def loader_history() -> tuple[int, np.ndarray, dict[str, list[tuple[dict[str, str], np.ndarray]]]]:
    """Now, the sample times and kubelet's series of 10 days: fr-jcxx's claim mounted by its loader 1.5 h a night (2
    GiB more each night), last 5 h ago; sjj-tyrz/data mounted throughout."""
    now = int(time.time()) // STEP * STEP
    ts = np.arange(now - 10 * 86400, now + 1, STEP, dtype=np.int64)
    since = (ts - (now - LOADER_GONE_HOURS * 3600) + LOADER_MOUNTS) % 86400  # from the start of each night's mount
    nights = np.floor((ts - (now - LOADER_GONE_HOURS * 3600) + LOADER_MOUNTS) / 86400)
    mounted = since <= LOADER_MOUNTS
    used = np.where(mounted, 50 * GIB + 2 * GIB * nights, np.nan)  # each night's load adds 2 GiB
    fresh = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "data", "job": "kubelet"}
    series = {
        "kubelet_volume_stats_used_bytes": [(LOADER, used), (fresh, np.full(ts.size, 10.0 * GIB))],
        "kubelet_volume_stats_capacity_bytes": [
            (LOADER, np.where(mounted, 200.0 * GIB, np.nan)),
            (fresh, np.full(ts.size, 100.0 * GIB)),
        ],
    }
    return now, ts, series


def claims_history() -> tuple[int, np.ndarray, dict[str, list[tuple[dict[str, str], np.ndarray]]]]:
    """``loader_history`` with a claim sjj-tyrz/old deleted a day ago, and kube-state-metrics reporting fr-jcxx and
    sjj-tyrz/data all along, and old until it was deleted."""
    now, ts, series = loader_history()
    deleted = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "old", "job": "kubelet"}
    gone = np.where(ts < now - 86400, 1.0 * GIB, np.nan)
    series["kubelet_volume_stats_used_bytes"].append((deleted, gone))
    series["kubelet_volume_stats_capacity_bytes"].append((deleted, np.where(np.isnan(gone), np.nan, 10.0 * GIB)))
    state = {"job": "kube-state-metrics", "storageclass": "rbd", "volumename": "pvc-1"}
    series["kube_persistentvolumeclaim_info"] = [
        ({**state, "namespace": "dp-scjg", "persistentvolumeclaim": "fr-jcxx"}, np.ones(ts.size)),
        ({**state, "namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}, np.ones(ts.size)),
        ({**state, "namespace": "sjj-tyrz", "persistentvolumeclaim": "old"}, np.where(np.isnan(gone), np.nan, 1.0)),
    ]
    return now, ts, series


@pytest.mark.filterwarnings("ignore::dizuo.capacity.calendar_cn.CalendarNotCoveredWarning")  # 2027 not yet published
def test_a_dataset_claim_only_its_nightly_loader_mounts_keeps_its_last_write(tmp_path):
    """fr-jcxx's claim is in kubelet's stats only while its nightly loader mounts it, last 5 h ago: left out of the
    forecast (no recent sample), its history in Prometheus still dates the last load, for `report` (not "not seen",
    listed first as the most overdue) and for an exporter just started (which had no write of it: DizuoDatasetStale
    could not fire on it, and DizuoDatasetUnwatched would a day later)."""
    now, ts, series = loader_history()
    tsdb = backfill(tmp_path, openmetrics(ts, series))
    loaded = now - LOADER_GONE_HOURS * 3600 - LOADER_MOUNTS  # the first sample of the last mount
    with serving(tmp_path, tsdb, {"global": {"scrape_interval": "1m"}}, tmp_path / "prometheus.log") as (_, url):
        out = tmp_path / "report"
        args = ["capacity", "report", "--prometheus-url", url, "--out", str(out), "--rows", "200"]
        result = CliRunner().invoke(app, [*args, "--declaration", str(ROOT / "inventories" / "yulin")])
        assert result.exit_code == 0, result.output
        row = next(line for line in result.output.splitlines() if " fr-jcxx " in line)
        assert "not seen" not in row, row
        assert f" {(now - loaded) / 86400:.1f} d " in row, row
        source = PrometheusSource(url, declaration=load(ROOT / "inventories" / "yulin"))
        snapshot = ForecastLoop(source, lambda _histories: [], interval=60).run_once()
    assert snapshot.error is None, snapshot.error
    assert [lo.labels[1] for lo in snapshot.left_out] == ["dp-scjg/fr-jcxx"], snapshot.left_out
    writes = {w.dataset: w for w in snapshot.writes}
    assert "fr-jcxx" in writes, f"no write of fr-jcxx exported: {snapshot.writes}"
    assert (writes["fr-jcxx"].at, writes["fr-jcxx"].seen) == (loaded, True), writes["fr-jcxx"]


def test_a_claim_whose_series_gained_the_cluster_label_keeps_its_history(city):
    """Claims whose kubelet series gained the `cluster` label 3 hours ago (the README's advice) are forecast under
    `<cluster>/<namespace>/<claim>` on their whole history, and their old ids are not left out (no
    DizuoCapacityVolumesLeftOut per claim for 28 days)."""
    metrics = wait_for(
        lambda: (m := city.metrics()).get("dizuo_storage_used_bytes") and m, "a first forecast", city.logs
    )
    claims = [f"{c['namespace']}/{c['persistentvolumeclaim']}" for c in RELABELLED]
    used = {s.labels["volume"] for s in metrics["dizuo_storage_used_bytes"] if s.labels["kind"] == "pvc"}
    assert {f"yl-gov/{c}" for c in claims} <= used, sorted(used)
    assert not used & set(claims), sorted(used)
    assert_forecast_on_whole_history(city, metrics, "pvc", [f"yl-gov/{c}" for c in claims])
    left_out = {s.labels["volume"] for s in metrics.get("dizuo_capacity_left_out_last_sample_timestamp_seconds", [])}
    assert not left_out & set(claims), f"the old ids are left out: {sorted(left_out)}"


def test_a_capacity_of_plus_inf_is_left_out_and_said(city, tmp_path, caplog):
    """A claim whose capacity is +Inf (no limit set) is not forecast: the report is written (not a crash on an
    infinite axis or total), the log names the claim, and the exporter serves no +Inf."""
    out = tmp_path / "report"
    args = ["capacity", "report", "--prometheus-url", city.prometheus_url, "--out", str(out)]
    with caplog.at_level("WARNING", logger="dizuo.capacity.source"):
        result = CliRunner().invoke(app, [*args, "--declaration", str(ROOT / "inventories" / "yulin")])
    assert result.exit_code == 0, result.output
    assert (out / "index.html").exists()
    assert "capacity that is not a finite number" in caplog.text
    assert "sjj-tyrz/unbounded" in caplog.text, caplog.text
    metrics = wait_for(
        lambda: (m := city.metrics()).get("dizuo_storage_capacity_bytes") and m, "a first forecast", city.logs
    )
    served = {s.labels["volume"]: s.value for s in metrics["dizuo_storage_capacity_bytes"]}
    assert "sjj-tyrz/unbounded" not in served, served
    assert all(np.isfinite(v) for v in served.values()), served


def test_a_selector_that_is_not_promql_is_named_by_file_and_key(city, tmp_path):
    """A stray parenthesis in one selector of --config: `report` exits 2 naming the file and the key path
    (selectors[3].capacity) and Prometheus' reason, and `serve` refuses to start the same way (it would only log
    failed runs)."""
    config = yaml.safe_load((ROOT / "monitoring" / "capacity-sources.yaml").read_text())
    config["selectors"][3]["capacity"] += ")"
    assert_refused_by_file_and_key(city, tmp_path, config, "selectors[3].capacity", "unexpected right parenthesis")


def assert_refused_by_file_and_key(city: City, tmp_path: Path, config: dict[str, Any], key: str, reason: str) -> None:
    """`report` with the selectors ``config`` exits 2 naming its file, ``key`` and Prometheus' ``reason``, writing
    nothing; `serve` refuses to start the same way."""
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(config))
    args = ["capacity", "report", "--prometheus-url", city.prometheus_url, "--config", str(path)]
    result = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "report")])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert f"{path}: {key}: Prometheus refuses it" in said, said
    assert reason in said, said
    assert not (tmp_path / "report").exists()
    serve = [sys.executable, "-c", "from dizuo.cli import main; main()", "capacity", "serve", "--config", str(path)]
    serve += ["--prometheus-url", city.prometheus_url, "--listen", f"127.0.0.1:{free_port()}"]
    done = subprocess.run(serve, capture_output=True, text=True, timeout=120, check=False, cwd=ROOT)
    said = " ".join(done.stderr.split())
    assert done.returncode == 2, done.stderr
    assert f"{path}: {key}: Prometheus refuses it" in said, said


def test_a_selector_prometheus_cannot_evaluate_is_named_by_file_and_key(city, tmp_path):
    """A regular expression Prometheus cannot compile in one selector's label_replace (HTTP 422 even at the epoch,
    where no data is): `report` exits 2 naming the file and the key path and Prometheus' reason, and `serve` refuses
    to start the same way, not "Prometheus did not answer" and a start whose runs never read that kind."""
    config = yaml.safe_load((ROOT / "monitoring" / "capacity-sources.yaml").read_text())
    config["selectors"][1]["capacity"] = (
        f'label_replace({config["selectors"][1]["capacity"]}, "disk", "$1", "mountpoint", "(")'
    )
    assert_refused_by_file_and_key(city, tmp_path, config, "selectors[1].capacity", "invalid regular expression")


def test_a_volume_label_no_series_carries_is_named_where_it_merges_volumes(city, tmp_path, caplog):
    """A misspelt `volume` label (`persistentvolumeclam`) makes a namespace's claims one volume: the warning names the
    selector, the config file and key path and the label, not only "two scrape jobs"."""
    config = yaml.safe_load((ROOT / "monitoring" / "capacity-sources.yaml").read_text())
    config["selectors"][0]["volume"] = ["cluster", "namespace", "persistentvolumeclam"]
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump(config))
    source = PrometheusSource(city.prometheus_url, load_config(path), config_path=path)
    with caplog.at_level("WARNING", logger="dizuo.capacity.source"):
        source.histories()
    said = [r.getMessage() for r in caplog.records if "more than once" in r.getMessage()]
    assert len(said) == 1, said
    assert "by selectors[0] (kind pvc)" in said[0], said
    assert f"no series carries 'persistentvolumeclam' ({path}: selectors[0].volume)" in said[0], said
    assert "sjj-tyrz" in said[0], "sjj-tyrz/data and sjj-tyrz/unbounded merged: " + said[0]


@pytest.mark.filterwarnings("ignore::dizuo.capacity.calendar_cn.CalendarNotCoveredWarning")  # 2027 not yet published
def test_a_selector_prometheus_refuses_leaves_the_other_kinds_fresh(city):
    """Ceph pools joined to their names on the pool id alone (ids repeat in every cluster: Prometheus refuses the
    query, 'found duplicate series') fail only the Ceph kind: the runs succeed with the claims, filesystems and
    buckets, the pools are served as the last run that read them forecast them, and the Ceph kind is stale."""
    source = PrometheusSource(city.prometheus_url, DEFAULT_CONFIG, load(ROOT / "inventories" / "yulin"))
    calendar = load_calendar(ROOT / "monitoring" / "working-calendar.yaml")
    loop = ForecastLoop(source, forecaster_for(calendar), interval=60)
    registry = CollectorRegistry()
    CapacityCollector(loop.snapshot, stale_after=180, registry=registry)

    def by_kind(snapshot: Snapshot, kind: str) -> dict[str, Forecast]:
        return {f.series: f for f in snapshot.forecasts if f.labels["kind"] == kind}

    first = loop.run_once()
    assert first.error is None, first.error
    pools = by_kind(first, "ceph_pool")
    assert len(pools) == 6, sorted(pools)
    ambiguous = "ceph_pool_stored * on (pool_id) group_left (name) ceph_pool_metadata"
    source.config = DEFAULT_CONFIG.model_copy(
        update={
            "selectors": tuple(
                s.model_copy(update={"used": ambiguous}) if s.kind == "ceph_pool" else s
                for s in DEFAULT_CONFIG.selectors
            )
        }
    )
    runs = [loop.run_once() for _run in range(3)]
    assert [run.error for run in runs] == [None] * 3
    assert by_kind(runs[-1], "ceph_pool") == pools, "the pools as the last run that read them forecast them"
    assert by_kind(runs[-1], "pvc").keys() == by_kind(first, "pvc").keys()
    reads = {r.kind: r for r in runs[-1].selectors}
    assert reads["ceph_pool"].failed_in_a_row == 3
    assert "duplicate series" in (reads["ceph_pool"].error or ""), reads["ceph_pool"].error
    assert reads["pvc"].read_at == runs[-1].succeeded_at
    assert registry.get_sample_value("dizuo_capacity_selector_stale", {"kind": "ceph_pool"}) == 1
    assert registry.get_sample_value("dizuo_capacity_selector_stale", {"kind": "pvc"}) == 0
    assert registry.get_sample_value("dizuo_capacity_forecast_stale") == 0


def test_prometheus_down_keeps_the_last_forecast_and_marks_it_stale(city):
    """With Prometheus stopped the exporter keeps running, serves the last good forecast, and stale=1."""
    wait_for(
        lambda: city.metrics().get("dizuo_storage_exhaustion_timestamp_seconds"),
        "a first forecast",
        city.logs,
    )

    def served(metrics: dict[str, list[Any]]) -> tuple[dict[str, float], float]:
        """The forecast served, by volume, and when the run that made it succeeded."""
        forecast = {s.labels["volume"]: s.value for s in metrics["dizuo_storage_exhaustion_timestamp_seconds"]}
        return forecast, metrics["dizuo_capacity_forecast_last_success_timestamp_seconds"][0].value

    def failures(metrics: dict[str, list[Any]]) -> float:
        return {s.labels["result"]: s.value for s in metrics["dizuo_capacity_forecast_runs"]}.get("failure", 0.0)

    before, before_success = served(city.metrics())
    stop(city.prometheus)
    # From the first failed run on nothing can succeed, so what is served then is the last good forecast (a
    # run may have succeeded between reading `before` and the stop: its asof may sit one step later).
    first_failure = wait_for(lambda: failures(m := city.metrics()) >= 1 and m, "a failed run", city.logs)
    last_good, last_success = served(first_failure)
    assert last_good.keys() == before.keys()
    if last_success == before_success:
        assert last_good == before
    metrics = wait_for(
        lambda: (m := city.metrics())["dizuo_capacity_forecast_stale"][0].value == 1 and m,
        "dizuo_capacity_forecast_stale 1 after Prometheus stopped",
        city.logs,
    )
    assert served(metrics) == (last_good, last_success), "the last good forecast must still be served while down"
    assert city.exporter.poll() is None, "the exporter must not exit when Prometheus is down"
    # A query in flight while Prometheus shut down may fail first with its HTTP 503 (logged as such); once it is
    # gone, each run logs that it cannot connect.
    wait_for(lambda: "cannot connect" in city.logs[1].read_text(), "the exporter logging why its runs fail", city.logs)


@pytest.mark.filterwarnings("ignore::dizuo.capacity.calendar_cn.CalendarNotCoveredWarning")  # 2027 not yet published
def test_a_claim_that_exists_but_no_pod_mounts_now_is_not_left_out(tmp_path, caplog):
    """kube-state-metrics says fr-jcxx's claim exists while no pod mounts it (its loader ran 5 h ago): the exporter
    does not export it as left out (no DizuoCapacityVolumesLeftOut every day) nor log it as deleted, and its history
    still dates the load; a claim kube-state-metrics no longer reports (deleted) is left out as before."""
    now, ts, series = claims_history()
    tsdb = backfill(tmp_path, openmetrics(ts, series))
    loaded = now - LOADER_GONE_HOURS * 3600 - LOADER_MOUNTS
    with serving(tmp_path, tsdb, {"global": {"scrape_interval": "1m"}}, tmp_path / "prometheus.log") as (_, url):
        source = PrometheusSource(url, declaration=load(ROOT / "inventories" / "yulin"))
        with caplog.at_level("WARNING", logger="dizuo.capacity.source"):
            snapshot = ForecastLoop(source, lambda _histories: [], interval=60).run_once()
    assert snapshot.error is None, snapshot.error
    assert [lo.labels[1] for lo in snapshot.left_out] == ["sjj-tyrz/old"], snapshot.left_out
    assert "fr-jcxx" not in caplog.text, caplog.text
    writes = {w.dataset: w for w in snapshot.writes}
    assert (writes["fr-jcxx"].at, writes["fr-jcxx"].seen) == (loaded, True), writes.get("fr-jcxx")


@pytest.mark.filterwarnings("ignore::dizuo.capacity.calendar_cn.CalendarNotCoveredWarning")  # 2027 not yet published
def test_a_claim_a_running_pod_mounts_is_left_out_when_its_kubelet_is_not_read(tmp_path):
    """A claim a running pod still mounts whose kubelet stopped reporting it 2 h ago (its node down) is left out, so
    that DizuoCapacityVolumesLeftOut says its forecast is gone; fr-jcxx, whose loader pod ran and ended 5 h ago, is
    only not mounted. Before, every claim kube-state-metrics reports counted as not mounted, so a node down hid its
    claims' forecasts in silence."""
    now, ts, series = loader_history()
    node_down = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "cache", "job": "kubelet"}
    reported = np.where(ts < now - 2 * 3600, 1.0, np.nan)
    series["kubelet_volume_stats_used_bytes"].append((node_down, 5.0 * GIB * reported))
    series["kubelet_volume_stats_capacity_bytes"].append((node_down, 10.0 * GIB * reported))
    state = {"job": "kube-state-metrics"}
    claims = [("dp-scjg", "fr-jcxx", "fr-loader"), ("sjj-tyrz", "data", "tyrz-0"), ("sjj-tyrz", "cache", "tyrz-1")]
    loader_runs = ~np.isnan(series["kubelet_volume_stats_used_bytes"][0][1])  # the loader pod runs while mounted
    series["kube_persistentvolumeclaim_info"] = [
        ({**state, "namespace": ns, "persistentvolumeclaim": claim}, np.ones(ts.size)) for ns, claim, _ in claims
    ]
    series["kube_pod_spec_volumes_persistentvolumeclaims_info"] = [
        ({**state, "namespace": ns, "pod": pod, "volume": "data", "persistentvolumeclaim": claim}, np.ones(ts.size))
        for ns, claim, pod in claims
    ]
    series["kube_pod_status_phase"] = [
        ({**state, "namespace": "dp-scjg", "pod": "fr-loader", "phase": "Running"}, loader_runs.astype(float)),
        ({**state, "namespace": "dp-scjg", "pod": "fr-loader", "phase": "Succeeded"}, (~loader_runs).astype(float)),
        ({**state, "namespace": "sjj-tyrz", "pod": "tyrz-0", "phase": "Running"}, np.ones(ts.size)),
        # kube-state-metrics reads the API server: the pod of a node that stopped answering is still Running there.
        ({**state, "namespace": "sjj-tyrz", "pod": "tyrz-1", "phase": "Running"}, np.ones(ts.size)),
    ]
    tsdb = backfill(tmp_path, openmetrics(ts, series))
    with serving(tmp_path, tsdb, {"global": {"scrape_interval": "1m"}}, tmp_path / "prometheus.log") as (_, url):
        source = PrometheusSource(url, declaration=load(ROOT / "inventories" / "yulin"))
        snapshot = ForecastLoop(source, lambda _histories: [], interval=60).run_once()
    assert snapshot.error is None, snapshot.error
    assert [lo.labels[1] for lo in snapshot.left_out] == ["sjj-tyrz/cache"], snapshot.left_out


@pytest.mark.filterwarnings("ignore::dizuo.capacity.calendar_cn.CalendarNotCoveredWarning")  # 2027 not yet published
@pytest.mark.parametrize("labelled", ["kubelet", "kube-state-metrics"])
def test_a_claim_no_pod_mounts_is_not_left_out_where_one_exporter_only_carries_the_cluster_label(tmp_path, labelled):
    """kubelet's series labelled `cluster` and kube-state-metrics' not (a relabelling on one scrape job only), or the
    reverse: fr-jcxx, which its loader mounted 5 h ago, is still only not mounted (no DizuoCapacityVolumesLeftOut
    every day), while a claim kube-state-metrics no longer reports is left out. Before, the claim's id differed by the
    cluster between the two exporters, so every claim no pod mounts was left out as deleted."""
    _now, ts, series = claims_history()
    for metric in series:
        if (metric.startswith("kubelet_") and labelled == "kubelet") or (
            metric.startswith("kube_") and labelled == "kube-state-metrics"
        ):
            series[metric] = [({**labels, "cluster": "yl-gov"}, values) for labels, values in series[metric]]
    tsdb = backfill(tmp_path, openmetrics(ts, series))
    with serving(tmp_path, tsdb, {"global": {"scrape_interval": "1m"}}, tmp_path / "prometheus.log") as (_, url):
        source = PrometheusSource(url, declaration=load(ROOT / "inventories" / "yulin"))
        snapshot = ForecastLoop(source, lambda _histories: [], interval=60).run_once()
    assert snapshot.error is None, snapshot.error
    old = "yl-gov/sjj-tyrz/old" if labelled == "kubelet" else "sjj-tyrz/old"
    assert [lo.labels[1] for lo in snapshot.left_out] == [old], snapshot.left_out


def test_a_prometheus_with_no_usage_series_is_named_in_the_refusal(tmp_path):
    """`dizuo capacity report` pointed at a Prometheus that scrapes none of the exporters (a first mistake: another
    Prometheus than the cluster's) exits 1 naming that Prometheus, its password hidden, and the selectors read, not
    "or the CSV" of a command given no CSV."""
    tsdb = tmp_path / "tsdb"
    with serving(tmp_path, tsdb, {"global": {"scrape_interval": "1m"}}, tmp_path / "prometheus.log") as (_, url):
        with_password = url.replace("http://", "http://ops:s3cret@")
        args = ["capacity", "report", "--prometheus-url", with_password, "--out", str(tmp_path / "report")]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    assert f"--prometheus-url http://***@{url.removeprefix('http://')}: no usage series found" in result.output
    assert "the built-in selectors" in result.output, result.output
    assert "s3cret" not in result.output, result.output
    assert "CSV" not in result.output, result.output


NEW_NODE = (
    'node_filesystem_size_bytes{device="/dev/vdb",fstype="ext4",mountpoint="/srv"} 1e11\n'
    'node_filesystem_avail_bytes{device="/dev/vdb",fstype="ext4",mountpoint="/srv"} 4e10\n'
)


def history_end(seconds: float) -> str:
    """How a message names the end of the history read at ``seconds``: the last whole step before it, in UTC."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds // STEP * STEP))


def a_step_begun_with_room(seconds: float) -> None:
    """Wait, where less than ``seconds`` are left of the current step, for the next one: a test that needs every
    sample it scrapes to stay newer than the last whole step fails if a step ends while it runs."""
    left = STEP - time.time() % STEP
    if left < seconds:
        time.sleep(left + 1)


def test_a_prometheus_scraping_for_less_than_a_step_says_up_to_when_it_was_read(tmp_path, caplog):
    """A new set-up: Prometheus has just begun scraping node_exporter, so its only samples are newer than the last whole
    step, where the history read ends. `report` and the exporter's run find no volume, and say up to when they read,
    not only "check the selectors" that do match it."""
    tsdb = tmp_path / "tsdb"
    # Scraping, then reading twice, takes well under 2 minutes; a step ending between the first scrape and a read
    # would make that scrape history (the report then finds the volume).
    a_step_begun_with_room(120)
    with answering_with(NEW_NODE) as node:
        scrape = {"job_name": "node", "scrape_interval": "1s", "static_configs": [{"targets": [node]}]}
        config = {"global": {"scrape_interval": "1m"}, "scrape_configs": [scrape]}
        with serving(tmp_path, tsdb, config, tmp_path / "prometheus.log") as (_, url):
            used = DEFAULT_CONFIG.selectors[1].used
            instant = f"{url}/api/v1/query?{urllib.parse.urlencode({'query': used})}"
            wait_for(lambda: json.loads(get(instant))["data"]["result"], "the filesystem selector to match", [])
            started = time.time()
            report = CliRunner().invoke(
                app, ["capacity", "report", "--prometheus-url", url, "--out", str(tmp_path / "r")]
            )
            with caplog.at_level("WARNING", logger="dizuo.capacity.exporter"):
                snapshot = ForecastLoop(PrometheusSource(url), lambda _histories: [], interval=60).run_once()
            ended = time.time()
    assert snapshot.error is None, snapshot.error
    assert report.exit_code == 1, report.output
    said = [" ".join(report.output.split()), caplog.text]
    ends = {f"history read up to {history_end(t)}, the last whole step" for t in (started, ended)}
    for text in said:
        assert any(end in text for end in ends), f"neither of {sorted(ends)} in: {text}"
