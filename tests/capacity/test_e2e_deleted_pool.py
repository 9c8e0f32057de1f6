"""A deleted Ceph pool is gone, not left out: a real Prometheus over backfilled blocks, `dizuo capacity serve` with its
default selectors reading it.

Pools as ceph-mgr's prometheus module exports them (ceph_pool_stored and ceph_pool_max_avail by `pool_id`, the name
in ceph_pool_metadata). Three pools stopped reporting 2 hours before the last backfilled sample. The manager of the
first (cluster `ceph`, labelled as ceph-mixin does) is still scraped: the pool was deleted, and is gone; so is the
second's, a cluster without the `cluster` label told apart by its scrape job. The third's manager (cluster `dr`) is
down (its target refuses the connection): its pool is left out, and DizuoCapacityVolumesLeftOut warns of it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import pytest
from test_e2e_deleted import GIB, Served, serving_targets

from prometheus_server import REAL_PROMETHEUS, openmetrics, wait_for

STEP = 900
DAYS = 14
ENDED_HOURS = 2

pytestmark = REAL_PROMETHEUS

SCRAPED = "10.61.16.41:9283"  # the active manager of cluster `ceph`, still scraped
UNLABELLED = "10.61.16.51:9283"  # the active manager of a cluster scraped without a `cluster` label, still scraped
DOWN = "10.61.17.41:9283"  # the active manager of cluster `dr`, refusing the scrape
# (labels of the manager's series, pool id, pool name, whether it reports up to the end)
POOLS = (
    ({"cluster": "ceph", "job": "ceph", "instance": SCRAPED}, "1", ".mgr", True),
    ({"cluster": "ceph", "job": "ceph", "instance": SCRAPED}, "2", "rbd", True),
    ({"cluster": "ceph", "job": "ceph", "instance": SCRAPED}, "3", "rbd-import", False),
    ({"job": "ceph-old", "instance": UNLABELLED}, "1", ".mgr", True),
    ({"job": "ceph-old", "instance": UNLABELLED}, "2", "scratch", False),
    ({"cluster": "dr", "job": "ceph", "instance": DOWN}, "1", ".mgr", False),
    ({"cluster": "dr", "job": "ceph", "instance": DOWN}, "2", "backup", False),
)


def history(now: int) -> str:
    """OpenMetrics text: 14 days at 15 min of the pools' ceph-mgr series and of their managers' `up`."""
    ts = np.arange(now - DAYS * 86400, now + 1, STEP, dtype=np.int64)
    until_ended = ts <= now - ENDED_HOURS * 3600
    series: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {
        "ceph_pool_stored": [],
        "ceph_pool_max_avail": [],
        "ceph_pool_metadata": [],
        "up": [],
    }
    for manager, pool_id, name, to_the_end in POOLS:
        when = np.ones(ts.size, dtype=bool) if to_the_end else until_ended
        pool = {**manager, "pool_id": pool_id}
        series["ceph_pool_stored"].append((pool, np.where(when, 40.0 * GIB, np.nan)))
        series["ceph_pool_max_avail"].append((pool, np.where(when, 60.0 * GIB, np.nan)))
        series["ceph_pool_metadata"].append(({**pool, "name": name}, np.where(when, 1.0, np.nan)))
    # The scrapes' own record: the managers still scraped are up all along, the one of `dr` down since its pools ended.
    series["up"] += [
        ({"job": "ceph", "instance": SCRAPED}, np.ones(ts.size)),
        ({"job": "ceph-old", "instance": UNLABELLED}, np.ones(ts.size)),
        ({"job": "ceph", "instance": DOWN}, np.where(until_ended, 1.0, 0.0)),
    ]
    return openmetrics(ts, series)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    now = int(time.time()) // STEP * STEP
    answering = {"ceph": {SCRAPED: True, DOWN: False}, "ceph-old": {UNLABELLED: True}}
    with serving_targets(tmp_path_factory.mktemp("e2e-deleted-pool"), history(now), answering) as served:
        yield served


def test_a_deleted_pool_is_gone_and_a_pool_whose_manager_stopped_is_left_out(served):
    """The pools whose ceph-mgr is still scraped without them (with and without the `cluster` label) are neither
    forecast nor left out; the pools whose ceph-mgr is down are left out, valued at their last sample."""
    left_out = wait_for(served.left_out, "a forecast run with its left-out volumes", served.logs)
    assert set(left_out) == {"dr/.mgr", "dr/backup"}, f"left out: {left_out}"


def test_only_the_pools_whose_manager_stopped_warn(served):
    """DizuoCapacityVolumesLeftOut fires for the pools of the down ceph-mgr, never for a deleted pool."""
    fired = served.when_left_out_fires_for(["dr/.mgr", "dr/backup"])
    deleted = [a for a in fired if a["labels"].get("volume") in ("ceph/rbd-import", "job:ceph-old/scratch")]
    assert deleted == [], f"alerts on the deleted pools: {deleted}"
