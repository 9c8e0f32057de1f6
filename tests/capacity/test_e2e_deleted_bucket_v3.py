"""MinIO's v3 bucket metrics read by the default bucket selector: a real Prometheus over backfilled blocks, scraping
loopback targets that answer as MinIO's `/minio/metrics/v3/cluster/usage` does, and `dizuo capacity serve` with its
default selectors reading it.

Buckets as MinIO's v3 metrics export them (minio/minio cmd/metrics-v3-cluster-usage.go:
minio_cluster_usage_buckets_total_bytes and minio_cluster_usage_buckets_quota_total_bytes by `bucket`), beside
minio_cluster_usage_buckets_since_last_update_seconds, which MinIO exports exactly when it exports bucket usage, and
the server's count of the usage's buckets (minio_cluster_usage_objects_buckets_count, every bucket, also one left out
of the bucket series). Buckets stopped reporting 2 hours before the last backfilled sample. A bucket of a server still
exporting bucket usage is forecast; one such a server no longer names nor counts was deleted, and is gone, also on a
server naming more than 100 buckets (v3 names them all, unlike v2). A server restarted since and `up`, but exporting
no bucket usage yet, names none of its buckets; a server that still counts a bucket it no longer names (its quota
configuration unread), or is scraped without its count (only `.../usage/buckets`), proves no deletion: their buckets
are left out, and DizuoCapacityVolumesLeftOut warns of them.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_e2e_deleted import GIB, Served, serving_targets

from dizuo.capacity.prometheus_source import DEFAULT_SELECTORS, query_text
from prometheus_server import REAL_PROMETHEUS, get, openmetrics, wait_for

STEP = 900
DAYS = 14
ENDED_HOURS = 2

pytestmark = REAL_PROMETHEUS

REPORTING = "10.61.40.11:9000"  # exports bucket usage and its bucket count on /minio/metrics/v3/cluster/usage
RESTARTED = "10.61.41.11:9000"  # restarted, `up`, exporting no bucket usage yet
MANY = "10.61.42.11:9000"  # names 120 buckets: more than v2's first 100, all of them in v3
QUOTA_UNREAD = "10.61.43.11:9000"  # counts a bucket it leaves out: it fails to read the bucket's quota configuration
UNCOUNTED = "10.61.44.11:9000"  # scraped on /minio/metrics/v3/cluster/usage/buckets only: no bucket count
SINCE_UPDATE = "minio_cluster_usage_buckets_since_last_update_seconds"
BUCKETS_COUNT = "minio_cluster_usage_objects_buckets_count"
# (the server reporting it, bucket, whether it reports it to the end)
BUCKETS = (
    (REPORTING, "yl-dp-v3-live", True),
    (REPORTING, "yl-dp-v3-deleted", False),
    (RESTARTED, "yl-dp-v3-restarted", False),
    (MANY, "zz-v3-deleted", False),
    (QUOTA_UNREAD, "yl-dp-v3-quota-read", True),
    (QUOTA_UNREAD, "yl-dp-v3-quota-unread", False),
    (UNCOUNTED, "yl-dp-v3-uncounted", False),
)
# The buckets whose servers prove no deletion, though they report: one counts the bucket it leaves out, the other is
# scraped without its count.
NOT_PROVEN_DELETED = {"yl-dp-v3-quota-unread", "yl-dp-v3-uncounted"}
# The 120 buckets the server naming many names all along, all sorting before the one deleted from it.
MANY_BUCKETS = [f"b{i:03d}" for i in range(120)]
RELOAD = 5.0 * GIB


def usage(buckets: list[str], quota: bool = True, counted: int | None = None) -> str:
    """A MinIO server's answer to a v3 scrape of its usage: the time since the usage's last update, each bucket's size
    and (``quota``) its quota, and its count of the usage's buckets (``counted``, by default those named; None for a
    scrape of the buckets path alone); no `server` label, as on every `/cluster` path."""
    lines = [f"{SINCE_UPDATE} 4.2e+11"]
    if counted is not None:
        lines.append(f"{BUCKETS_COUNT} {counted}")
    for b in buckets:
        lines.append(f'minio_cluster_usage_buckets_total_bytes{{bucket="{b}"}} {40 * GIB}')
        if quota:
            lines.append(f'minio_cluster_usage_buckets_quota_total_bytes{{bucket="{b}"}} {100 * GIB}')
    return "\n".join(lines) + "\n"


# What each server answers a scrape with now, as the backfilled series end: the restarted one answers with no
# metrics, as MinIO's v3 path does while its usage cannot be read or was never saved.
ANSWERS = {
    REPORTING: usage(["yl-dp-v3-live"], counted=1),
    RESTARTED: "",
    MANY: usage(MANY_BUCKETS, quota=False, counted=len(MANY_BUCKETS)),
    # Two buckets in the usage, one of them left out of the bucket series (MinIO `continue`s past it).
    QUOTA_UNREAD: usage(["yl-dp-v3-quota-read"], counted=2),
    UNCOUNTED: usage([]),
}


def history(now: int) -> str:
    """OpenMetrics text: 14 days at 15 min of the buckets' usage and quota, of each server's time since its usage's
    last update and `up`."""
    ts = np.arange(now - DAYS * 86400, now + 1, STEP, dtype=np.int64)
    until_ended = ts <= now - ENDED_HOURS * 3600
    series: defaultdict[str, list[tuple[dict[str, str], np.ndarray]]] = defaultdict(list)
    for server, bucket, to_the_end in BUCKETS:
        when = np.ones(ts.size, dtype=bool) if to_the_end else until_ended
        labels = {"bucket": bucket, "job": "minio", "instance": server}
        series["minio_cluster_usage_buckets_total_bytes"].append((labels, np.where(when, 40.0 * GIB, np.nan)))
        series["minio_cluster_usage_buckets_quota_total_bytes"].append((labels, np.where(when, 100.0 * GIB, np.nan)))
    # The many buckets, all along: no quota, so not forecast, only counted.
    for bucket in MANY_BUCKETS:
        labels = {"bucket": bucket, "job": "minio", "instance": MANY}
        series["minio_cluster_usage_buckets_total_bytes"].append((labels, np.full(ts.size, 40.0 * GIB)))
    # The bytes clients sent into the live bucket, as v3 counts them (on /minio/metrics/v3/bucket/api/<bucket>): a
    # reload of 5 GiB between the two samples before the last.
    received = {
        "bucket": "yl-dp-v3-live",
        "type": "s3",
        "server": "minio-1:9000",
        "job": "minio",
        "instance": REPORTING,
    }
    series["minio_bucket_api_traffic_received_bytes"].append((received, np.where(ts < now - STEP, 0.0, RELOAD)))
    # Each server exported the time since its usage's last update while it exported bucket usage: the restarted one
    # until its restart, the others all along; all were up all along. Beside it, each but the one scraped on the
    # buckets path alone exported its count of the usage's buckets: every bucket until it was deleted, also the one
    # whose quota configuration went unread (still in the usage), and the 120.
    for server in (REPORTING, RESTARTED, MANY, QUOTA_UNREAD, UNCOUNTED):
        when = until_ended if server == RESTARTED else np.ones(ts.size, dtype=bool)
        target = {"job": "minio", "instance": server}
        series[SINCE_UPDATE].append((target, np.where(when, 4.2e11, np.nan)))
        series["up"].append((target, np.ones(ts.size)))
        if server != UNCOUNTED:
            in_usage = [
                when if to_the_end or bucket == "yl-dp-v3-quota-unread" else until_ended
                for s, bucket, to_the_end in BUCKETS
                if s == server
            ]
            counted = np.sum(in_usage, axis=0) + (len(MANY_BUCKETS) if server == MANY else 0)
            series[BUCKETS_COUNT].append((target, np.where(when, counted, np.nan)))
    return openmetrics(ts, series)


def forecast_buckets(served: Served) -> set[str]:
    """The buckets the exporter serves a forecast's last sample of (dizuo_storage_used_bytes, kind bucket)."""
    text = get(f"{served.exporter_url}/metrics").decode()
    families = {f.name: f.samples for f in text_string_to_metric_families(text)}
    return {s.labels["volume"] for s in families.get("dizuo_storage_used_bytes", []) if s.labels["kind"] == "bucket"}


@pytest.fixture(scope="module")
def now() -> int:
    return int(time.time()) // STEP * STEP


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, now: int) -> Iterator[Served]:
    with serving_targets(tmp_path_factory.mktemp("e2e-bucket-v3"), history(now), {"minio": ANSWERS}) as served:
        yield served


def test_v3_buckets_are_forecast_and_a_deleted_one_is_gone(served):
    """With the default selectors, a bucket MinIO's v3 metrics export is forecast; the buckets a server exporting v3
    bucket usage neither names nor counts any more (one of them among 120) are neither forecast nor left out; the
    bucket of a server `up` but exporting no usage since its restart, one a server leaves out of its bucket series
    while its count of the usage's buckets still holds it (its quota configuration unread), and one of a server scraped
    without that count are left out, valued at their last sample: live buckets are not dropped as deleted."""
    left_out = wait_for(served.left_out, "a forecast run with its left-out volumes", served.logs)
    assert set(left_out) == {"yl-dp-v3-restarted"} | NOT_PROVEN_DELETED, f"left out: {left_out}"
    assert all(time.time() - at > ENDED_HOURS * 3600 - STEP for at in left_out.values()), left_out
    forecast = forecast_buckets(served)
    assert forecast == {"yl-dp-v3-live", "yl-dp-v3-quota-read"}, f"buckets forecast: {sorted(forecast)}"


def test_only_the_v3_buckets_not_proven_deleted_warn(served):
    """DizuoCapacityVolumesLeftOut fires for the buckets of v3 servers that prove no deletion (restarted, leaving a
    counted bucket out, or scraped without their count), never for a deleted one."""
    fired = served.when_left_out_fires_for(sorted({"yl-dp-v3-restarted"} | NOT_PROVEN_DELETED))
    deleted = [a for a in fired if a["labels"].get("volume") in ("yl-dp-v3-deleted", "zz-v3-deleted")]
    assert deleted == [], f"alerts on the deleted buckets: {deleted}"


def test_the_bytes_v3_counts_into_a_bucket_are_its_writes(served, now):
    """The default bucket selector's `written`, evaluated by Prometheus over the step holding the reload, gives the
    live bucket the 5 GiB v3 counted into it (minio_bucket_api_traffic_received_bytes): a reload of the same bytes is a
    write to its dataset."""
    (bucket,) = (s for s in DEFAULT_SELECTORS if s.kind == "bucket")
    # Half a step before the last sample: the window of twice the step holds the samples on both sides of the reload.
    query = urllib.parse.urlencode({"query": query_text(bucket.written or "", STEP), "time": now - STEP // 2})
    answer = json.loads(get(f"{served.prometheus_url}/api/v1/query?{query}"))["data"]["result"]
    written = {r["metric"]["bucket"]: float(r["value"][1]) for r in answer}
    assert set(written) == {"yl-dp-v3-live"}, written
    assert written["yl-dp-v3-live"] >= RELOAD, written
