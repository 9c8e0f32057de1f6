"""A renamed cluster's claim keeps its history: a real Prometheus over backfilled blocks, read by the source and by
`dizuo capacity serve` with the declaration saying yl-gov is now yl-egov (renamed_from).

For 14 days at 15 min, kubelet reported sjj-tyrz/data (a system of yl-gov) and kube-state-metrics listed it under the
`cluster` label yl-gov, until the city relabelled its scrapes 3 days before the last sample: since then both say
yl-egov. The kubelet is scraped all along (`up` 1). The claim is one volume under its new name with all 14 days of
history, not one of 3 days beside an ended one, read as deleted (its kubelet still scraped, no longer reporting it)
or left out and warned of.

A second claim, sjj-tyrz/archive, was relabelled likewise, and the relabelling rolled back 1 day before the last
sample (yl-gov again): one volume either way, under the name it is reported by now, yl-gov.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families

import prometheus_server as server
from declarations import city_copy, cluster_renamed
from dizuo.capacity.collector import GIB
from dizuo.capacity.prometheus_source import PrometheusSource
from dizuo.declaration import load

ROOT = Path(__file__).resolve().parents[2]
STEP = 900
DAYS = 14
RELABELLED_DAYS = 3
ROLLED_BACK_DAYS = 1
CLAIM = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "data"}
ROLLED_BACK = {"namespace": "sjj-tyrz", "persistentvolumeclaim": "archive"}
KUBELET = {"job": "kubelet", "instance": "10.61.16.31:10250"}
KSM = {"job": "kube-state-metrics", "instance": "10.61.0.9:8080"}

pytestmark = server.REAL_PROMETHEUS


def history(now: int) -> str:
    """OpenMetrics text: the claim's stats (filling from 40 to 68 GiB of 100) and listing, labelled yl-gov until 3
    days before ``now`` and yl-egov since; the rolled-back claim's the same, but yl-gov again for the last day; their
    kubelet's `up` all along."""
    ts = np.arange(now - DAYS * 86400, now + 1, STEP, dtype=np.int64)
    before = ts < now - RELABELLED_DAYS * 86400
    rolled_back = ts >= now - ROLLED_BACK_DAYS * 86400
    used = 40.0 * GIB + 2.0 * GIB * (ts - ts[0]) / 86400
    series: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {
        "kubelet_volume_stats_used_bytes": [],
        "kubelet_volume_stats_capacity_bytes": [],
        "kube_persistentvolumeclaim_info": [],
    }
    for claim, cluster, when in (
        (CLAIM, "yl-gov", before),
        (CLAIM, "yl-egov", ~before),
        (ROLLED_BACK, "yl-gov", before | rolled_back),
        (ROLLED_BACK, "yl-egov", ~before & ~rolled_back),
    ):
        labels = {"cluster": cluster, **claim}
        series["kubelet_volume_stats_used_bytes"].append(({**labels, **KUBELET}, np.where(when, used, np.nan)))
        series["kubelet_volume_stats_capacity_bytes"].append(
            ({**labels, **KUBELET}, np.where(when, 100.0 * GIB, np.nan))
        )
        series["kube_persistentvolumeclaim_info"].append(({**labels, **KSM}, np.where(when, 1.0, np.nan)))
    return server.openmetrics(ts, {**series, "up": [(KUBELET, np.ones(ts.size))]})


@dataclass
class Renamed:
    """The running Prometheus and exporter, and the renamed city's declaration they read."""

    now: int
    city: Path
    prometheus_url: str
    exporter_url: str
    logs: list[Path]


@pytest.fixture(scope="module")
def renamed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Renamed]:
    work = tmp_path_factory.mktemp("e2e-renamed")
    now = int(time.time()) // STEP * STEP
    city = city_copy(work / "city", cluster_renamed("yl-gov", "yl-egov"))
    tsdb = server.backfill(work, history(now))
    listen = f"127.0.0.1:{server.free_port()}"
    logs = [work / "prometheus.log", work / "exporter.log"]
    with server.serving(work, tsdb, {"global": {"scrape_interval": "1s"}}, logs[0]) as (_prometheus, prometheus_url):
        exporter = server.start_exporter(ROOT, prometheus_url, listen, logs[1], declaration=city)
        try:
            yield Renamed(now, city, prometheus_url, f"http://{listen}", logs)
        finally:
            server.stop(exporter)


def test_the_source_reads_the_claim_as_one_volume_with_its_history_from_before_the_relabel(renamed):
    """Read at the last sample: one claim, yl-egov/sjj-tyrz/data, sjj's, its samples from the first day on; the
    rolled-back claim one too, yl-gov/sjj-tyrz/archive, with every sample under either name; nothing gone (deleted)
    or left out."""
    reading = PrometheusSource(renamed.prometheus_url, declaration=load(renamed.city), clock=lambda: renamed.now).read()
    claims = {h.series: h for h in reading.histories if h.labels["kind"] == "pvc"}
    assert sorted(claims) == ["pvc:yl-egov/sjj-tyrz/data", "pvc:yl-gov/sjj-tyrz/archive"], sorted(claims)
    for claim in claims.values():
        assert (claim.labels["department"], claim.labels["system"]) == ("sjj", "sjj-tyrz"), claim.series
        assert claim.timestamps[0] <= renamed.now - (DAYS - 1) * 86400, f"{claim.series}: history before not joined"
    archive = claims["pvc:yl-gov/sjj-tyrz/archive"]
    relabelled = (archive.timestamps >= renamed.now - RELABELLED_DAYS * 86400) & (
        archive.timestamps < renamed.now - ROLLED_BACK_DAYS * 86400
    )
    assert relabelled.sum() >= (RELABELLED_DAYS - ROLLED_BACK_DAYS) * 86400 // STEP - 1, "the yl-egov days not joined"
    assert [h.series for h in (*reading.gone, *reading.left_out)] == [], "a claim under one of its names ended"


def test_the_exporter_forecasts_the_claim_once_under_its_new_name(renamed):
    """`dizuo capacity serve` exports the claim once, under yl-egov with its owner, the rolled-back one once under
    yl-gov, and leaves nothing out."""

    def families() -> dict[str, list] | None:
        text = server.get(f"{renamed.exporter_url}/metrics").decode()
        found = {f.name: f.samples for f in text_string_to_metric_families(text)}
        series = found.get("dizuo_capacity_forecast_series", [])
        return found if series and series[0].value >= 1 else None

    found = server.wait_for(families, "a forecast run", renamed.logs)
    used = {(s.labels["volume"], s.labels["department"]) for s in found["dizuo_storage_used_bytes"]}
    assert used == {("yl-egov/sjj-tyrz/data", "sjj"), ("yl-gov/sjj-tyrz/archive", "sjj")}, used
    left_out = [s.labels["volume"] for s in found.get("dizuo_capacity_left_out_last_sample_timestamp_seconds", [])]
    assert left_out == [], left_out
