"""A deleted Ceph pool is gone, not left out: a real Prometheus over backfilled blocks, `dizuo capacity serve` with its
default selectors reading it.

Pools as ceph-mgr's prometheus module exports them (ceph_pool_stored and ceph_pool_max_avail by `pool_id`, the name
in ceph_pool_metadata), with ceph_health_status, which only the active manager exports. Pools stopped reporting 2
hours before the last backfilled sample. The manager of the first (cluster `ceph`, labelled as ceph-mixin does) is
still scraped and reporting: the pool was deleted, and is gone; so is the second's, a cluster without the `cluster`
label told apart by its scrape job. The manager of cluster `dr` is down (its target refuses the connection): its
pools are left out, and DizuoCapacityVolumesLeftOut warns of them. Cluster `dc2` failed over: its old manager, a
standby now, is still scraped (`up`) but answers with no metrics, and the new active one refuses the scrape: its pools
are left out too, not gone. Cluster `dc3` failed over to a manager that is scraped: a pool deleted an hour before
the failover is gone, the others read on.
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
STANDBY = "10.61.18.41:9283"  # cluster `dc2`'s active manager until its failover, a standby since: no metrics
NEW_ACTIVE = "10.61.18.42:9283"  # cluster `dc2`'s active manager since, refusing the scrape
DC3_STANDBY = "10.61.19.41:9283"  # cluster `dc3`'s active manager until its failover, a standby since
DC3_ACTIVE = "10.61.19.42:9283"  # cluster `dc3`'s active manager since, scraped
# (labels of the manager's series, pool id, pool name, when it reports: "all", "until ended", "since ended", or
# "until earlier", an hour before)
POOLS = (
    ({"cluster": "ceph", "job": "ceph", "instance": SCRAPED}, "1", ".mgr", "all"),
    ({"cluster": "ceph", "job": "ceph", "instance": SCRAPED}, "2", "rbd", "all"),
    ({"cluster": "ceph", "job": "ceph", "instance": SCRAPED}, "3", "rbd-import", "until ended"),
    ({"job": "ceph-old", "instance": UNLABELLED}, "1", ".mgr", "all"),
    ({"job": "ceph-old", "instance": UNLABELLED}, "2", "scratch", "until ended"),
    ({"cluster": "dr", "job": "ceph", "instance": DOWN}, "1", ".mgr", "until ended"),
    ({"cluster": "dr", "job": "ceph", "instance": DOWN}, "2", "backup", "until ended"),
    ({"cluster": "dc2", "job": "ceph", "instance": STANDBY}, "1", ".mgr", "until ended"),
    ({"cluster": "dc2", "job": "ceph", "instance": STANDBY}, "2", "rbd", "until ended"),
    ({"cluster": "dc3", "job": "ceph", "instance": DC3_STANDBY}, "1", ".mgr", "until ended"),
    ({"cluster": "dc3", "job": "ceph", "instance": DC3_STANDBY}, "2", "old", "until earlier"),
    ({"cluster": "dc3", "job": "ceph", "instance": DC3_ACTIVE}, "1", ".mgr", "since ended"),
)
# What each manager answers a scrape with now: an active one its metrics (here ceph_health_status alone, the pools'
# series being backfilled), a standby none.
HEALTH = {
    SCRAPED: 'ceph_health_status{cluster="ceph"} 0\n',
    UNLABELLED: "ceph_health_status 0\n",
    STANDBY: "",
    DC3_STANDBY: "",
    DC3_ACTIVE: 'ceph_health_status{cluster="dc3"} 0\n',
}


def history(now: int) -> str:
    """OpenMetrics text: 14 days at 15 min of the pools' ceph-mgr series, of their managers' health (while active)
    and `up`."""
    ts = np.arange(now - DAYS * 86400, now + 1, STEP, dtype=np.int64)
    until_ended = ts <= now - ENDED_HOURS * 3600
    spans = {
        "all": np.ones(ts.size, dtype=bool),
        "until ended": until_ended,
        "since ended": ~until_ended,
        "until earlier": ts <= now - (ENDED_HOURS + 1) * 3600,
    }
    series: dict[str, list[tuple[dict[str, str], np.ndarray]]] = {
        "ceph_pool_stored": [],
        "ceph_pool_max_avail": [],
        "ceph_pool_metadata": [],
        "ceph_health_status": [],
        "up": [],
    }
    active: dict[tuple[tuple[str, str], ...], np.ndarray] = {}
    for manager, pool_id, name, span in POOLS:
        when = spans[span]
        key = tuple(manager.items())
        active[key] = active.get(key, np.zeros(ts.size, dtype=bool)) | when
        pool = {**manager, "pool_id": pool_id}
        series["ceph_pool_stored"].append((pool, np.where(when, 40.0 * GIB, np.nan)))
        series["ceph_pool_max_avail"].append((pool, np.where(when, 60.0 * GIB, np.nan)))
        series["ceph_pool_metadata"].append(({**pool, "name": name}, np.where(when, 1.0, np.nan)))
    # A manager reports its cluster's health while it is active: while it reports pools.
    series["ceph_health_status"] += [(dict(key), np.where(when, 0.0, np.nan)) for key, when in active.items()]
    # The scrapes' own record: the managers still scraped are up all along (a standby too), the one of `dr` down since
    # its pools ended, so is `dc2`'s new active one (up as a standby before).
    series["up"] += [
        ({"job": "ceph", "instance": SCRAPED}, np.ones(ts.size)),
        ({"job": "ceph-old", "instance": UNLABELLED}, np.ones(ts.size)),
        ({"job": "ceph", "instance": DOWN}, np.where(until_ended, 1.0, 0.0)),
        ({"job": "ceph", "instance": STANDBY}, np.ones(ts.size)),
        ({"job": "ceph", "instance": NEW_ACTIVE}, np.where(until_ended, 1.0, 0.0)),
        ({"job": "ceph", "instance": DC3_STANDBY}, np.ones(ts.size)),
        ({"job": "ceph", "instance": DC3_ACTIVE}, np.ones(ts.size)),
    ]
    return openmetrics(ts, series)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    now = int(time.time()) // STEP * STEP
    answering = {
        "ceph": {SCRAPED: HEALTH[SCRAPED], DOWN: False, STANDBY: HEALTH[STANDBY], NEW_ACTIVE: False}
        | {DC3_STANDBY: HEALTH[DC3_STANDBY], DC3_ACTIVE: HEALTH[DC3_ACTIVE]},
        "ceph-old": {UNLABELLED: HEALTH[UNLABELLED]},
    }
    with serving_targets(tmp_path_factory.mktemp("e2e-deleted-pool"), history(now), answering) as served:
        yield served


def test_a_deleted_pool_is_gone_and_a_pool_whose_manager_stopped_is_left_out(served):
    """The pools whose cluster's active ceph-mgr still reports without them (with and without the `cluster` label,
    and after a failover to a scraped manager) are neither forecast nor left out; the pools whose ceph-mgr is down, or
    a standby `up` with no metrics after a failover to a manager not scraped, are left out, valued at their last
    sample."""
    left_out = wait_for(served.left_out, "a forecast run with its left-out volumes", served.logs)
    assert set(left_out) == {"dr/.mgr", "dr/backup", "dc2/.mgr", "dc2/rbd"}, f"left out: {left_out}"


def test_only_the_pools_whose_manager_stopped_warn(served):
    """DizuoCapacityVolumesLeftOut fires for the pools of the down ceph-mgr and of the cluster whose old manager is a
    standby answering with no metrics, never for a deleted pool."""
    fired = served.when_left_out_fires_for(["dc2/.mgr", "dc2/rbd", "dr/.mgr", "dr/backup"])
    gone = ("ceph/rbd-import", "job:ceph-old/scratch", "dc3/old")
    deleted = [a for a in fired if a["labels"].get("volume") in gone]
    assert deleted == [], f"alerts on the deleted pools: {deleted}"
