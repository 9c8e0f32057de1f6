"""What the capacity forecast says about the migration's storage pools: usage ``horizon_days`` ahead.

``dizuo migrate city --prometheus-url`` (or ``--csv``) plans the relief the forecast flags rather than the one the
allocations imply: the usage histories the exporter reads (kubelet volume stats per system namespace, Ceph pools)
are projected with the capacity forecaster's own model (:func:`~dizuo.capacity.forecast.project_usage`) to the day
the plan must hold until, ``migration.horizon_days`` after the newest sample.

- Every series is projected to one day: ``horizon_days`` after the newest sample's (series that end more than a
  day earlier are refused: a deleted volume, or one no longer scraped, would be counted as still growing).
- Where a series measures the legacy pool, its p90 projection is what the pool holds at the horizon; moving a
  candidate frees the median projection of its volumes there, each at most its size (and a wave copies it). The
  uncertainty is the pool's: the p90 of the sum, not a sum of p90s, which would plan for every system growing
  fast at once. A candidate without a volume series frees nothing the plan can count on (its usage is inside the
  pool's).
- Without a series of the pool, what else stays there is the declaration's allocations (as without a forecast),
  and each candidate holds the p90 projection of its volumes, or its allocation if none is measured.
- A candidate's volume that had no recent sample when the plan was made (a claim no pod mounts now, which
  kube-state-metrics still lists: one only a nightly loader mounts) is idle: it holds its last sample, neither grows
  nor is projected, and its wave copies it like any other (else its data would never be copied).
- The targets stay planned in allocations (a moved system takes its quota there): validate holds every pool's
  quotas within its capacity, and the new pool's usage grows into them.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from dizuo.capacity.calendar_cn import SHIPPED, CalendarNotCoveredWarning, WorkingCalendar, local_day
from dizuo.capacity.forecast import forecast_histories, project_usage
from dizuo.capacity.types import Projection, UsageHistory
from dizuo.declaration.model import Declaration
from dizuo.migration.solve import show_bytes

GIB = 2**30
# Series must end within a day of the newest: an older one is a deleted volume or one no longer scraped.
MAX_LAG_SECONDS = 86400
# Far below the planner's 2^63: sums of many projections must stay exact integers.
MAX_PROJECTED_BYTES = 2.0**56


# How far a pool series' capacity may be from the declared one (either way) before it is taken for another pool.
MAX_CAPACITY_RATIO = 2.0


class OutlookError(ValueError):
    """The usage histories cannot size the plan (a pool measured twice over); the message says which."""


@dataclass(frozen=True, slots=True)
class Projected:
    """Bytes projected for one system or pool at the horizon, with what they were read from."""

    used_bytes: float  # at the newest sample
    median_bytes: float
    high_bytes: float  # the p90 growth scenario
    series: tuple[str, ...]
    # Each series' `volume` label, in the order of ``series``: for a system, the volumes its wave copies.
    volumes: tuple[str, ...] = ()
    # The series of ``series`` that were idle at planning time (no recent sample: a claim no pod mounts now), each
    # counted at its last sample.
    idle: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PoolOutlook:
    """A storage pool's projection, and when the forecast sees it pass the fill target."""

    name: str
    capacity_bytes: int  # declared
    projected: Projected
    # Median and early (p10) forecast of the first moment past fill_target x the declared capacity; None: not
    # within the horizon. A pool past it already reads as its newest sample's time.
    fill_at: int | None
    fill_p10: int | None


@dataclass(frozen=True, slots=True)
class UsageOutlook:
    """The forecast's sizes for one declaration's migration."""

    asof: int  # the newest sample read (unix s)
    days_ahead: int
    systems: Mapping[str, Projected]  # candidate code -> its volumes on the legacy pool
    pools: Mapping[str, PoolOutlook]  # the legacy and target pool, where a series measures them
    # The kinds of volume (selectors) whose `exists` query failed, and why: their idle volumes (a claim no pod mounts
    # now) are not known, so no wave copies them; the plan says so wherever the operator reads it.
    exists_unread: Mapping[str, str] = field(default_factory=dict)


def usage_outlook(
    declaration: Declaration,
    histories: Sequence[UsageHistory],
    calendar: WorkingCalendar = SHIPPED,
    idle: Sequence[UsageHistory] = (),
    exists_unread: Mapping[str, str] | None = None,
) -> UsageOutlook:
    """Project the volumes of the migration's candidates and its two storage pools (see the module docstring).

    ``idle`` are volumes without a recent sample that exist (the Prometheus source's ``Reading.unmounted``): a
    candidate's on the legacy pool are its volumes too, at their last sample. ``exists_unread``: the kinds whose
    query for such volumes failed (``Reading.exists_unread``), and why: kept for the plan to say.

    ``histories`` carry the exporter's labels (``system``, ``pool``, ``volume``, ``kind``): a system's volumes are
    those labelled with its code and its declared storage pool; a pool's series is one labelled with the pool and
    no system, read from Ceph (kind ``ceph_pool``) or named after the pool (a CSV series ``phase1-ceph``).
    """
    m = declaration.city.migration
    if m is None:
        raise OutlookError("city.yaml declares no `migration` section")
    candidates = {s.code for s in declaration.migration_candidates()}
    declared = {p.name: p for p in declaration.storage_pools()}
    pools = (m.legacy_storage_pool, m.target_storage_pool)
    volumes: dict[str, list[UsageHistory]] = {}
    pool_series: dict[str, list[UsageHistory]] = {}
    for h in histories:
        system, pool = h.labels.get("system", ""), h.labels.get("pool", "")
        if system in candidates and pool == m.legacy_storage_pool:
            volumes.setdefault(system, []).append(h)
        elif not system and pool in pools and (h.labels.get("kind") == "ceph_pool" or h.labels.get("volume") == pool):
            pool_series.setdefault(pool, []).append(h)
    for pool, found in pool_series.items():
        if len(found) > 1:
            raise OutlookError(
                f"{len(found)} series measure storage pool {pool!r} ({', '.join(sorted(h.series for h in found))}): "
                "one Ceph cluster scraped by two jobs, or two clusters with a pool of that name; select one "
                "(--config) so the pool is counted once"
            )
    pool_history = {pool: found[0] for pool, found in sorted(pool_series.items())}
    for pool, h in pool_history.items():
        # Ceph's stored + max_avail is the declared capacity, give or take how evenly the OSDs fill; a factor off is
        # another pool or another unit (a CSV in GiB), whose usage would read as a pool nearly empty or overfull.
        measured, declared_bytes = float(h.capacity_bytes[-1]), declared[pool].capacity_gib * GIB
        if not (declared_bytes / MAX_CAPACITY_RATIO <= measured <= declared_bytes * MAX_CAPACITY_RATIO):
            raise OutlookError(
                f"series {h.series!r}: capacity {show_bytes(measured)} at its newest sample, but clusters.yaml "
                f"declares {pool}'s capacity_gib: {declared[pool].capacity_gib} ({show_bytes(declared_bytes)}): "
                "another pool, or a history not in bytes; fix the history (or the declaration) and plan again"
            )
    chosen = [h for found in volumes.values() for h in found] + list(pool_history.values())
    fresh = {h.series for h in chosen}
    idle_of: dict[str, list[UsageHistory]] = {}
    for h in idle:
        system = h.labels.get("system", "")
        if system in candidates and h.labels.get("pool", "") == m.legacy_storage_pool and h.series not in fresh:
            idle_of.setdefault(system, []).append(h)
    idle_volumes = [h for found in idle_of.values() for h in found]
    if not chosen:
        raise OutlookError(
            f"none of the {len(histories)} usage series measures {m.legacy_storage_pool!r} or a candidate's volume "
            f"on it: expected the pool's series (ceph-mgr's pool stats, or a CSV series named {m.legacy_storage_pool}) "
            "or volumes in a namespace named after a candidate's code (a CSV series such as "
            f"pvc:{min(candidates, default='<code>')}/data)"
        )
    newest = max(int(h.timestamps[-1]) for h in chosen)
    if stale := sorted(h.series for h in chosen if int(h.timestamps[-1]) < newest - MAX_LAG_SECONDS):
        raise OutlookError(
            f"{len(stale)} usage series end more than a day before the newest sample (a deleted volume, or one no "
            f"longer scraped): {', '.join(stale[:10])}{', ...' if len(stale) > 10 else ''}; leave them out, a "
            "plan cannot count what they held"
        )
    # Every series to the same local day: horizon_days after the newest sample's.
    target_day = int(local_day(newest)) + m.horizon_days
    ahead = [target_day - int(local_day(int(h.timestamps[-1]))) for h in chosen]
    projections = {p.series: p for p in project_usage(chosen, ahead, calendar)}
    for p in projections.values():
        if not (math.isfinite(p.high_bytes) and p.high_bytes < MAX_PROJECTED_BYTES):
            raise OutlookError(
                f"series {p.series!r}: projected {p.high_bytes:.3g} bytes {p.days_ahead} days ahead (accelerating "
                "growth), beyond what a plan can hold: shorten migration.horizon_days"
            )

    # An idle volume is not projected: nothing writes it now, and its last sample may be days before the others'.
    resting = {
        h.series: Projection(
            series=h.series,
            asof=int(h.timestamps[-1]),
            days_ahead=0,
            median_bytes=float(h.used_bytes[-1]),
            high_bytes=float(h.used_bytes[-1]),
            used_bytes=float(h.used_bytes[-1]),
            capacity_bytes=float(h.capacity_bytes[-1]),
        )
        for h in idle_volumes
    }

    def projected(found: Sequence[UsageHistory], *, clip: bool) -> Projected:
        found = sorted(found, key=lambda h: h.series)
        mine = [projections.get(h.series) or resting[h.series] for h in found]
        # A volume holds at most its size: moving it frees no more, whatever its growth would demand.
        cap = [p.capacity_bytes if clip else math.inf for p in mine]
        return Projected(
            used_bytes=math.fsum(p.used_bytes for p in mine),
            median_bytes=math.fsum(min(p.median_bytes, c) for p, c in zip(mine, cap, strict=True)),
            high_bytes=math.fsum(min(p.high_bytes, c) for p, c in zip(mine, cap, strict=True)),
            series=tuple(h.series for h in found),
            volumes=tuple(h.labels.get("volume", "") for h in found),
            idle=tuple(h.series for h in found if h.series in resting),
        )

    # When the pools pass the fill target: the exhaustion forecast of the same history against that line.
    lines = [
        replace(h, capacity_bytes=np.full(h.timestamps.size, float(m.fill_gib(declared[pool]) * GIB)))
        for pool, h in pool_history.items()
    ]
    with warnings.catch_warnings():  # project_usage has said which calendar years it lacks
        warnings.simplefilter("ignore", CalendarNotCoveredWarning)
        fills = {f.labels.get("pool", ""): f for f in forecast_histories(lines, m.horizon_days * 86400, calendar)}
    return UsageOutlook(
        asof=newest,
        days_ahead=m.horizon_days,
        systems={
            code: projected([*volumes.get(code, ()), *idle_of.get(code, ())], clip=True)
            for code in sorted(volumes.keys() | idle_of.keys())
        },
        pools={
            pool: PoolOutlook(
                name=pool,
                capacity_bytes=declared[pool].capacity_gib * GIB,
                projected=projected([h], clip=False),
                fill_at=fills[pool].exhaustion_at,
                fill_p10=fills[pool].p10,
            )
            for pool, h in pool_history.items()
        },
        exists_unread=dict(exists_unread or {}),
    )
