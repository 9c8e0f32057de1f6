"""A deleted claim is gone, not left out: a real Prometheus over backfilled blocks, `dizuo capacity serve` reading it.

Four claims stopped reporting 2 hours before the last backfilled sample. The kubelet that reported the first is still
scraped (`up` 1: Prometheus scrapes a live target under that job and instance) and kube-state-metrics no longer lists
it: the claim was deleted, and is gone. The same kubelet stopped reporting the second, still mounted by a running pod
and listed by kube-state-metrics (its CSI driver's volume stats failing): it is left out. The kubelet of the third is
down (its target refuses the connection: `up` 0), and the fourth's kubelet is no longer a target at all: their claims
are left out too, and DizuoCapacityVolumesLeftOut warns of the three. Likewise a node's exporter, still scraped,
stopped reporting two filesystems' sizes: one unmounted (gone), the other an NFS mount whose statfs fails, which
node_exporter still names (node_filesystem_device_error 1): left out. In a second cluster, yl-dr, whose
kube-state-metrics stopped when the claims ended (it lists nothing since), its kubelet, still scraped, stopped
reporting a claim: with no listing of that cluster, nothing proves it deleted, and it is left out.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

from prometheus_server import (
    REAL_PROMETHEUS,
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
DAYS = 14
ENDED_HOURS = 2

pytestmark = REAL_PROMETHEUS

SCRAPED = "10.61.16.31:10250"  # its kubelet still scraped, successfully
DOWN = "10.61.16.32:10250"  # its kubelet still a target, refusing the scrape
# (claim labels, whose kubelet reported it)
DELETED = ({"namespace": "sjj-tyrz", "persistentvolumeclaim": "tmp-import"}, SCRAPED)
ON_A_DOWN_NODE = ({"namespace": "gaj-01", "persistentvolumeclaim": "db"}, DOWN)
NODE_RETIRED = ({"namespace": "gaj-01", "persistentvolumeclaim": "cache"}, "10.61.16.33:10250")
LIVE = ({"namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}, SCRAPED)
STATS_FAILING = ({"namespace": "sjj-tyrz", "persistentvolumeclaim": "archive"}, SCRAPED)
DR_SCRAPED = "10.62.16.31:10250"  # cluster yl-dr's kubelet, still scraped; its kube-state-metrics down
UNLISTED = ({"cluster": "yl-dr", "namespace": "gaj-02", "persistentvolumeclaim": "db"}, DR_SCRAPED)
NODE = "10.61.16.31:9100"  # the node's exporter, still scraped
UNMOUNTED, HUNG = "/mnt/old", "/data"  # their sizes reported until the claims ended; the NFS mount /data still named
SHARE = "10.61.20.5:/export/data"  # what the NFS mount is mounted from: its volume


def history(now: int) -> str:
    """OpenMetrics text: 14 days at 15 min of the claims' stats, of their kubelets' `up`, and of kube-state-metrics'
    claims and pods of the claims on the node still scraped."""
    ts = np.arange(now - DAYS * 86400, now + 1, STEP, dtype=np.int64)
    until_ended = ts <= now - ENDED_HOURS * 3600
    series: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {
        "kubelet_volume_stats_used_bytes": [],
        "kubelet_volume_stats_capacity_bytes": [],
        "up": [],
        "kube_persistentvolumeclaim_info": [],
        "kube_pod_spec_volumes_persistentvolumeclaims_info": [],
        "kube_pod_status_phase": [],
        "node_filesystem_size_bytes": [],
        "node_filesystem_avail_bytes": [],
        "node_filesystem_device_error": [],
    }
    for claim, instance in (DELETED, ON_A_DOWN_NODE, NODE_RETIRED, LIVE, STATS_FAILING, UNLISTED):
        labels = {**claim, "job": "kubelet", "instance": instance}
        when = np.ones(ts.size, dtype=bool) if (claim, instance) == LIVE else until_ended
        series["kubelet_volume_stats_used_bytes"].append((labels, np.where(when, 40.0 * GIB, np.nan)))
        series["kubelet_volume_stats_capacity_bytes"].append((labels, np.where(when, 100.0 * GIB, np.nan)))
    # kube-state-metrics: the deleted claim and its pod listed until they ended, the others, each mounted by a running
    # pod, to the end.
    # yl-dr's kube-state-metrics, with a cluster label, listed its claim until it stopped then.
    ksm = {"job": "kube-state-metrics", "instance": "10.61.0.9:8080"}
    for claim, listed in (
        (DELETED[0], until_ended),
        (LIVE[0], ts > 0),
        (STATS_FAILING[0], ts > 0),
        (UNLISTED[0], until_ended),
    ):
        pod = {"namespace": claim["namespace"], "pod": f"{claim['persistentvolumeclaim']}-0"}
        pod |= {"cluster": claim["cluster"]} if "cluster" in claim else {}
        series["kube_persistentvolumeclaim_info"].append(({**ksm, **claim}, np.where(listed, 1.0, np.nan)))
        series["kube_pod_spec_volumes_persistentvolumeclaims_info"].append(
            ({**ksm, **claim, **pod, "volume": "data"}, np.where(listed, 1.0, np.nan))
        )
        series["kube_pod_status_phase"].append(({**ksm, **pod, "phase": "Running"}, np.where(listed, 1.0, np.nan)))
    # node_exporter: both mounts sized until the claims ended; then /mnt/old is gone, and /data fails its statfs.
    for mountpoint, device, fstype in ((UNMOUNTED, "/dev/sdb1", "xfs"), (HUNG, SHARE, "nfs4")):
        mount = {"device": device, "fstype": fstype, "mountpoint": mountpoint, "job": "node", "instance": NODE}
        series["node_filesystem_size_bytes"].append((mount, np.where(until_ended, 100.0 * GIB, np.nan)))
        series["node_filesystem_avail_bytes"].append((mount, np.where(until_ended, 60.0 * GIB, np.nan)))
        error = np.where(until_ended, 0.0, 1.0 if mountpoint == HUNG else np.nan)
        series["node_filesystem_device_error"].append((mount, error))
    series["up"].append(({"job": "node", "instance": NODE}, np.ones(ts.size)))
    # The scrapes' own record, as Prometheus kept it: the node still scraped is up all along, the one down since the
    # claims ended, the retired one no longer a target since then (no sample).
    target = {"job": "kubelet"}
    series["up"] += [
        ({**target, "instance": SCRAPED}, np.ones(ts.size)),
        ({**target, "instance": DR_SCRAPED}, np.ones(ts.size)),
        ({**target, "instance": DOWN}, np.where(until_ended, 1.0, 0.0)),
        ({**target, "instance": NODE_RETIRED[1]}, np.where(until_ended, 1.0, np.nan)),
    ]
    return openmetrics(ts, series)


@dataclass
class Served:
    """The running Prometheus and exporter."""

    prometheus_url: str
    exporter_url: str
    logs: list[Path]

    def left_out(self) -> dict[str, float]:
        text = get(f"{self.exporter_url}/metrics").decode()
        families = {f.name: f.samples for f in text_string_to_metric_families(text)}
        if (
            not families.get("dizuo_capacity_forecast_series")
            or families["dizuo_capacity_forecast_series"][0].value < 1
        ):
            return {}
        return {
            s.labels["volume"]: s.value for s in families["dizuo_capacity_left_out_last_sample_timestamp_seconds"]
        } or {"": 0.0}

    def alerts(self) -> list[dict[str, Any]]:
        return list(json.loads(get(f"{self.prometheus_url}/api/v1/alerts"))["data"]["alerts"])

    def when_left_out_fires_for(self, volumes: list[str]) -> list[dict[str, Any]]:
        """Every alert, once DizuoCapacityVolumesLeftOut fires for exactly ``volumes`` (sorted)."""

        def fired() -> list[dict[str, Any]]:
            alerts = self.alerts()
            left_out = sorted(
                a["labels"]["volume"]
                for a in alerts
                if a["labels"]["alertname"] == "DizuoCapacityVolumesLeftOut" and a["state"] == "firing"
            )
            return alerts if left_out == volumes else []

        return wait_for(fired, f"DizuoCapacityVolumesLeftOut firing for {', '.join(volumes)}", self.logs)


@contextmanager
def serving_targets(work: Path, text: str, answering: Mapping[str, Mapping[str, bool | str]]) -> Iterator[Served]:
    """A Prometheus over the OpenMetrics ``text`` backfilled in ``work``, evaluating the capacity alerts, with the
    exporter reading it; ``answering`` is, per scrape job, each live target's instance and whether it answers (True),
    refuses (False) or answers with the metrics of a Prometheus text (a str, empty for none: a standby ceph-mgr)."""
    tsdb = backfill(work, text)
    quick_rules(work, ROOT / "monitoring" / "alerts.yaml")
    exporter_port, refusing = free_port(), free_port()
    listen = f"127.0.0.1:{exporter_port}"
    with ExitStack() as stack:
        # Live `up` of the targets: one that answers is any target that does (the exporter, whose own samples are
        # dropped: only `up` is kept), or one answering with the text given; one down a port nothing listens on;
        # each under its own instance.
        served_at = {
            text: stack.enter_context(answering_with(text))
            for instances in answering.values()
            for text in instances.values()
            if isinstance(text, str)
        }

        def address(answers: bool | str) -> str:
            if isinstance(answers, str):
                return served_at[answers]
            return listen if answers else f"127.0.0.1:{refusing}"

        targets = [
            {
                "job_name": job,
                "static_configs": [
                    {"targets": [address(answers)], "labels": {"instance": instance}}
                    for instance, answers in instances.items()
                ],
                "metric_relabel_configs": [
                    {"source_labels": ["__name__"], "regex": "(dizuo|python|process)_.+", "action": "drop"}
                ],
            }
            for job, instances in answering.items()
        ]
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["alerts.yaml"],
            "scrape_configs": [{"job_name": "dizuo-capacity", "static_configs": [{"targets": [listen]}]}, *targets],
        }
        logs = [work / "prometheus.log", work / "exporter.log"]
        with serving(work, tsdb, config, logs[0]) as (_prometheus, prometheus_url):
            exporter = start_exporter(ROOT, prometheus_url, listen, logs[1])
            try:
                yield Served(prometheus_url, f"http://{listen}", logs)
            finally:
                stop(exporter)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    now = int(time.time()) // STEP * STEP
    with serving_targets(
        tmp_path_factory.mktemp("e2e-deleted"),
        history(now),
        {"kubelet": {SCRAPED: True, DOWN: False, DR_SCRAPED: True}, "node": {NODE: True}},
    ) as served:
        yield served


def test_a_deleted_claim_is_gone_and_a_claim_whose_kubelet_stopped_is_left_out(served):
    """The claim whose kubelet is still scraped without it, and kube-state-metrics no longer lists, is neither forecast
    nor left out, nor is the unmounted filesystem; the claim kube-state-metrics still lists, the NFS mount
    node_exporter still names, the claims whose kubelet is down or no longer a target, and the claim of the cluster
    whose kube-state-metrics lists nothing, are left out, valued at their last sample."""
    left_out = wait_for(served.left_out, "a forecast run with its left-out volumes", served.logs)
    expected = {"gaj-01/db", "gaj-01/cache", "sjj-tyrz/archive", SHARE, "yl-dr/gaj-02/db"}
    assert set(left_out) == expected, f"left out: {left_out}"
    assert all(time.time() - at > ENDED_HOURS * 3600 - STEP for at in left_out.values()), left_out


def test_only_the_volumes_whose_exporter_stopped_warn(served):
    """DizuoCapacityVolumesLeftOut fires for the claims on the down and the retired node, for the claim its kubelet
    stopped reporting while kube-state-metrics lists it, for the claim of the cluster whose kube-state-metrics is down
    and for the hung NFS mount, never for the deleted claim or the unmounted filesystem."""
    fired = served.when_left_out_fires_for([SHARE, "gaj-01/cache", "gaj-01/db", "sjj-tyrz/archive", "yl-dr/gaj-02/db"])
    deleted = [a for a in fired if a["labels"].get("volume") in ("sjj-tyrz/tmp-import", f"{NODE}/{UNMOUNTED}")]
    assert deleted == [], f"alerts on the deleted volumes: {deleted}"
