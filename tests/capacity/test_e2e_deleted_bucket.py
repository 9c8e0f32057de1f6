"""A deleted MinIO bucket is gone, not left out, and a bucket of a MinIO server exporting no bucket usage is left out:
a real Prometheus over backfilled blocks, `dizuo capacity serve` with its default selectors reading it.

Buckets as MinIO's v2 metrics export them (minio_bucket_usage_total_bytes and minio_bucket_quota_total_bytes by
`bucket`), beside the usage's last scan activity, which MinIO exports exactly when it exports bucket usage. Buckets
stopped reporting 2 hours before the last backfilled sample. A server still exporting bucket usage (on `/bucket`, and
an older one on `/cluster`, each naming another bucket still) no longer names one of them: it was deleted, and is gone.
A server restarted since and `up`, but exporting no bucket usage yet (its object layer not up, or no usage saved by
its scanner), names none of its buckets: they are left out, and DizuoCapacityVolumesLeftOut warns of them. So is the
bucket a server exporting 100 buckets no longer names, since MinIO's v2 metrics name the first 100 buckets only.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pytest
from test_e2e_deleted import GIB, Served, serving_targets

from prometheus_server import REAL_PROMETHEUS, openmetrics, wait_for

STEP = 900
DAYS = 14
ENDED_HOURS = 2

pytestmark = REAL_PROMETHEUS

REPORTING = "10.61.30.11:9000"  # exports bucket usage on /minio/v2/metrics/bucket
OLDER = "10.61.31.11:9000"  # an older MinIO, exporting bucket usage on /minio/v2/metrics/cluster
RESTARTED = "10.61.32.11:9000"  # restarted, `up`, exporting no bucket usage yet
CAPPED = "10.61.33.11:9000"  # exports its first 100 buckets by name, as MinIO's v2 metrics do at most
# Each server's series of the usage's last scan activity: the name its MinIO exports it under.
LAST_ACTIVITY = {
    REPORTING: "minio_bucket_usage_last_activity_nano_seconds",
    OLDER: "minio_usage_last_activity_nano_seconds",
    RESTARTED: "minio_bucket_usage_last_activity_nano_seconds",
    CAPPED: "minio_bucket_usage_last_activity_nano_seconds",
}
# (the server reporting it, bucket, whether it reports it to the end)
BUCKETS = (
    (REPORTING, "yl-dp-live", True),
    (REPORTING, "yl-dp-deleted", False),
    (OLDER, "yl-dp-older-live", True),
    (OLDER, "yl-dp-older-deleted", False),
    (RESTARTED, "yl-dp-restarted-a", False),
    (RESTARTED, "yl-dp-restarted-b", False),
    (CAPPED, "zz-pushed-out", False),
)
# The 100 buckets the capped server names now, all sorting before the one pushed out.
FIRST_HUNDRED = [f"b{i:03d}" for i in range(100)]


def usage(server: str, buckets: list[str]) -> str:
    """A MinIO server's answer to a scrape, exporting bucket usage: its last scan activity and each bucket's size."""
    labels = f'server="{server}"'
    lines = [f"{LAST_ACTIVITY[server]}{{{labels}}} 1.2e+11"]
    lines += [f'minio_bucket_usage_total_bytes{{bucket="{b}",{labels}}} {40 * GIB}' for b in buckets]
    return "\n".join(lines) + "\n"


# What each server answers a scrape with now, as the backfilled series end (the exporter reads at the last whole step,
# and the live answers keep its read right when a step passes during the test): the restarted one answers
# with no metrics, as MinIO's /bucket does until its usage can be read (and no bucket has had a request since).
ANSWERS = {
    REPORTING: usage(REPORTING, ["yl-dp-live"]),
    OLDER: usage(OLDER, ["yl-dp-older-live"]),
    RESTARTED: "",
    CAPPED: usage(CAPPED, FIRST_HUNDRED),
}


def history(now: int) -> str:
    """OpenMetrics text: 14 days at 15 min of the buckets' usage and quota, of each server's last scan activity and
    `up`."""
    ts = np.arange(now - DAYS * 86400, now + 1, STEP, dtype=np.int64)
    until_ended = ts <= now - ENDED_HOURS * 3600
    series: defaultdict[str, list[tuple[dict[str, str], np.ndarray]]] = defaultdict(list)
    for server, bucket, to_the_end in BUCKETS:
        when = np.ones(ts.size, dtype=bool) if to_the_end else until_ended
        labels = {"bucket": bucket, "server": server, "job": "minio", "instance": server}
        series["minio_bucket_usage_total_bytes"].append((labels, np.where(when, 40.0 * GIB, np.nan)))
        series["minio_bucket_quota_total_bytes"].append((labels, np.where(when, 100.0 * GIB, np.nan)))
    # The capped server's first 100 buckets, all along: no quota, so not forecast, only counted.
    for bucket in FIRST_HUNDRED:
        labels = {"bucket": bucket, "server": CAPPED, "job": "minio", "instance": CAPPED}
        series["minio_bucket_usage_total_bytes"].append((labels, np.full(ts.size, 40.0 * GIB)))
    # Each server exported its usage's last scan activity while it exported bucket usage: the restarted one until its
    # restart, the others all along; all were up all along.
    for server, name in LAST_ACTIVITY.items():
        when = until_ended if server == RESTARTED else np.ones(ts.size, dtype=bool)
        target = {"job": "minio", "instance": server}
        series[name].append(({**target, "server": server}, np.where(when, 1.2e11, np.nan)))
        series["up"].append((target, np.ones(ts.size)))
    return openmetrics(ts, series)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    now = int(time.time()) // STEP * STEP
    with serving_targets(tmp_path_factory.mktemp("e2e-deleted-bucket"), history(now), {"minio": ANSWERS}) as served:
        yield served


def test_a_deleted_bucket_is_gone_and_a_bucket_its_server_exports_no_usage_of_is_left_out(served):
    """The buckets a MinIO server exporting bucket usage no longer names (on /bucket, and on an older /cluster) are
    neither forecast nor left out; the buckets of a server `up` but exporting no bucket usage since its restart, and the
    bucket a server naming 100 buckets (MinIO's v2 cap) no longer names, are left out, valued at their last sample."""
    left_out = wait_for(served.left_out, "a forecast run with its left-out volumes", served.logs)
    assert set(left_out) == {"yl-dp-restarted-a", "yl-dp-restarted-b", "zz-pushed-out"}, f"left out: {left_out}"
    assert all(time.time() - at > ENDED_HOURS * 3600 - STEP for at in left_out.values()), left_out


def test_only_the_buckets_not_proven_deleted_warn(served):
    """DizuoCapacityVolumesLeftOut fires for the buckets of the restarted server and the one pushed out of the first
    100, never for a deleted bucket."""
    fired = served.when_left_out_fires_for(["yl-dp-restarted-a", "yl-dp-restarted-b", "zz-pushed-out"])
    deleted = [a for a in fired if a["labels"].get("volume") in ("yl-dp-deleted", "yl-dp-older-deleted")]
    assert deleted == [], f"alerts on the deleted buckets: {deleted}"
