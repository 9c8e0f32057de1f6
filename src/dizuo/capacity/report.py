"""Allocation vs usage vs forecast, per department and per storage pool, with charts of what is at risk, and the
data pool's datasets by time since their last write.

``build_report`` joins usage histories, their forecasts and the declaration (department quotas,
declared pool capacities) into rows; ``tables`` renders them for the terminal, ``write_report``
writes one PNG per volume at risk (history, p10-p90 forecast band, capacity line, exhaustion
date), an allocation chart and an HTML page embedding them. The report is written into a folder
beside its directory and swapped in whole, so a crash never leaves half a report and a new report
never sits beside an old one's charts; ``out_dir_problem`` says when a directory is not the
report's to replace.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from rich.table import Table
from rich.text import Text

from dizuo.capacity.collector import allocations, own_ceph_series, refresh_periods
from dizuo.capacity.prometheus_source import DEFAULT_SELECTOR_OF, Ownership, id_labels, joined_ids
from dizuo.capacity.types import Forecast, IntArray, UsageHistory
from dizuo.declaration.model import Declaration
from dizuo.files import (
    ChangedWhileWritingError,
    atomic_path,
    make_staging,
    output_place_problem,
    resolved_out,
    swap_in,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.ticker import Formatter, Locator

GIB = 2**30
DAY = 86400
# Dates are shown in the city's local time: Asia/Shanghai, UTC+8 all year (no DST).
LOCAL_OFFSET = 8 * 3600
# Named by its offset, as a reader comparing with Prometheus' UI (UTC) needs it ("CST" is also US Central).
LOCAL = timezone(timedelta(seconds=LOCAL_OFFSET), f"UTC+{LOCAL_OFFSET // 3600}")
HORIZON = 30 * DAY
# A volume's usage at or above this share of its capacity is drawn bold, as at capacity: the last 1 % is about a line's
# width on a chart. Only usage at the capacity itself is full (marked and dated, and 'full since' in the tables).
AT_CAPACITY = 0.99
# Lines are drawn by zorder, then in order: usage goes above the capacity line (matplotlib's lines sit at 2).
USED_ZORDER = 3
# Written into every report, listing its files: a directory holding it and nothing else is a previous report,
# which a new one may replace whole. A plain name: a web server serving the report hides no dotfile surprises.
MARKER = "dizuo-report.json"
WRITTEN_BY = "dizuo capacity report"
# Reports from before the marker: index.html with this title, and PNG charts beside it.
TITLE = "<title>dizuo capacity report</title>"


@dataclass(frozen=True, slots=True)
class Volume:
    """One volume: its history and forecast."""

    history: UsageHistory
    forecast: Forecast

    @property
    def labels(self) -> dict[str, str]:
        """Forecast labels (kind, volume, pool, department, system), possibly empty."""
        return {**self.history.labels, **self.forecast.labels}

    def soonest(self) -> int | None:
        """The earliest plausible exhaustion date: p10 when known, else the median."""
        return self.forecast.p10 if self.forecast.p10 is not None else self.forecast.exhaustion_at

    def seconds_left(self) -> float:
        """Seconds from the forecast's as-of time to its earliest plausible exhaustion (inf: not soon)."""
        soonest = self.soonest()
        return float("inf") if soonest is None else float(soonest - self.forecast.asof)

    def full_since(self) -> int | None:
        """When a volume the forecast finds full now got there (the first sample of its last stretch at capacity, as
        its chart marks it); None when it is not full."""
        f = self.forecast
        if f.exhaustion_at is None or f.exhaustion_at > f.asof:
            return None
        # The forecast reads a 15-minute grid: where the history's own last sample is not at capacity, an older stretch
        # at capacity is not this one, and the forecast's own time is all that is known.
        full = _at_capacity(self.history)
        if not full[-1]:
            return f.asof
        return int(self.history.timestamps[_reached_capacity(full)[-1]])

    def first_full(self) -> int | None:
        """The date its row shows: since when it is full, or when the forecast has it fill (median)."""
        since = self.full_since()
        return self.forecast.exhaustion_at if since is None else since


@dataclass(frozen=True, slots=True)
class Group:
    """A department or a pool: what the declaration grants vs what is provisioned, used and forecast."""

    scope: str  # "department" or "pool"
    name: str
    title: str
    allocated_bytes: float | None  # quota (department) or declared capacity (pool); None if undeclared
    capacity_bytes: float  # provisioned: sum of the volumes' sizes (or the Ceph pool's own size)
    used_bytes: float
    volumes: int  # the volumes in it, not a Ceph pool's own series (the pool is no volume of itself)
    at_risk: int  # of its volumes and, for a pool, its own Ceph series (the pool itself filling)
    measured: bool  # any series of it seen: its volumes or its pool's own (else provisioned and used are unknown)
    earliest: Volume | None  # the volume forecast to fill first (median), if any fills
    risk_left: float = float("inf")  # seconds to the soonest early (p10) date of its volumes at risk; inf: none
    note: str = ""  # what the report could not tell of it (a declared pool whose Ceph cluster's series is not known)


@dataclass(frozen=True, slots=True)
class Report:
    """Everything the report shows."""

    departments: tuple[Group, ...]
    pools: tuple[Group, ...]
    at_risk: tuple[Volume, ...]  # soonest first
    volumes: int
    risk_seconds: int
    datasets: tuple[Freshness, ...] = ()  # the declared datasets, overdue first (see _staleness)
    horizon_seconds: int = HORIZON  # how far ahead the forecasts look: None beyond it
    asof: int | None = None  # the newest sample forecast from (each volume's time left counts from its own last one)


@dataclass(frozen=True, slots=True)
class Freshness:
    """A declared dataset: when its volume last grew, against how often its owner is to refresh it."""

    dataset: str
    owner: str
    pool: str
    refresh_seconds: float
    last_write: int | None  # None: no volume of it in the histories
    seen: bool  # False: no growth in the history read, last_write is its first sample
    asof: int  # the newest sample of the report

    @property
    def overdue(self) -> float:
        """Time since the last write in refresh periods (inf when not seen at all)."""
        return float("inf") if self.last_write is None else (self.asof - self.last_write) / self.refresh_seconds


def label_from_declaration(histories: Sequence[UsageHistory], ownership: Ownership) -> list[UsageHistory]:
    """Label unlabelled histories (CSV input) from their series id, through the declaration.

    The id names a pool, or a volume as the exporter names them, its kind first or not. An id of a kind (given, or
    read by ``Ownership.id_kind``) is labelled as the source labels the series it names, by ``Ownership.labels``:
    ``pvc:sjj-tyrz/data`` by its namespace ``sjj-tyrz`` (a system, department or dataset namespace) and claim, and
    ``pvc:gov-a/sjj-tyrz/data`` by the same within the cluster ``gov-a``, declared or not, as a series labelled so;
    without its kind, ``gov-a/sjj-tyrz/data`` is a claim only where ``gov-a`` is a declared cluster: of a cluster
    the declaration does not name, a claim's id needs its ``pvc:`` (``prod-east/sjj-tyrz/data`` is of no kind and no
    owner, as a share's ``10.0.0.5:/export/data`` is). An id of no kind is looked up by its first path part
    (``sjj-tyrz/data``: ``sjj-tyrz``), or is a pool's name. A Ceph pool's
    (``ceph_pool:xc-ceph``, ``ceph_pool:<cluster>/xc-ceph``, ``ceph_pool:job:<job>/xc-ceph``) is that pool's own
    series, as the exporter's: the pool's usage, not one more volume inside it; so is a declared Ceph pool's id
    without its kind (``xc-ceph``, ``<cluster>/xc-ceph``: see ``Ownership.names_ceph_pool``). One volume under a
    renamed cluster's two names (``ceph_pool:yl-gov/xc-ceph`` and ``ceph_pool:yl-egov/xc-ceph``) is one history, as
    the exporter's (see ``joined_ids``).
    """
    out = []
    for history in joined_ids(histories, ownership):
        if history.labels:
            out.append(history)
            continue
        kind, name = ownership.id_kind(history.series)
        if kind:
            # Labelled as the source labels the series the id names (one owner rule for both); its volume is the id
            # as written, whichever labels it names.
            selector = DEFAULT_SELECTOR_OF[kind]
            labels = ownership.labels(selector, id_labels(selector, name)) | {"volume": name}
        else:
            owner = ownership.volume_owner(name)
            pool = name if name in ownership.pools else owner.pool
            labels = Ownership.volume_labels(kind, name, pool, owner)
        out.append(UsageHistory(history.series, history.timestamps, history.used_bytes, history.capacity_bytes, labels))
    return out


def build_report(
    histories: Sequence[UsageHistory],
    forecasts: Sequence[Forecast],
    declaration: Declaration | None,
    risk_seconds: int = HORIZON,
    write_histories: Sequence[UsageHistory] = (),
    *,
    left_out: Sequence[UsageHistory] = (),
) -> Report:
    """Group volumes by department and pool; at risk = the p10 date is within ``risk_seconds`` (``forecasts`` look
    that far ahead, or HORIZON where it is shorter: see ``report_horizon``). ``write_histories``: a longer past of
    the data pool's volumes, where a dataset's last write lies before ``histories``. ``left_out``: volumes with no
    recent sample, not forecast, whose past still says when their datasets were last written (a claim only a nightly
    loader mounts is not in kubelet's stats by day)."""
    by_series = {f.series: f for f in forecasts}
    volumes = [Volume(h, by_series[h.series]) for h in histories if h.series in by_series]

    def at_risk(v: Volume) -> bool:
        return v.seconds_left() <= risk_seconds

    # Each series has its own as-of time (CSV input): rank by time left, not by date.
    risky = sorted((v for v in volumes if at_risk(v)), key=Volume.seconds_left)

    def group(scope: str, name: str, title: str, allocated: float | None, members: list[Volume]) -> Group:
        # A Ceph pool's own series already holds every volume inside it: use it, do not add its PVCs again.
        own = [v for v in members if v.labels.get("kind") == "ceph_pool"] if scope == "pool" else []
        counted = own or members
        filling = [v for v in members if v.forecast.exhaustion_at is not None]
        return Group(
            scope=scope,
            name=name,
            title=title,
            allocated_bytes=allocated,
            capacity_bytes=sum(v.forecast.capacity_bytes for v in counted),
            used_bytes=sum(v.forecast.used_bytes for v in counted),
            volumes=len(members) - len(own),
            at_risk=sum(1 for v in members if at_risk(v)),
            # Of volumes full already (median 0), the one full the longest.
            earliest=min(filling, key=lambda v: (_median_left(v), v.first_full() or 0)) if filling else None,
            risk_left=min((v.seconds_left() for v in members if at_risk(v)), default=float("inf")),
            measured=bool(members),
        )

    row_of, notes = _pool_rows(volumes, declaration)

    def members(label: str, value: str) -> list[Volume]:
        return [v for v in volumes if (row_of(v) if label == "pool" else v.labels.get(label)) == value]

    departments: list[Group] = []
    pools: list[Group] = []
    known_departments: set[str] = set()
    known_pools: set[str] = set()
    if declaration is not None:
        for d in declaration.departments:
            departments.append(
                group("department", d.code, d.name, d.quota.storage_gib * GIB, members("department", d.code))
            )
            known_departments.add(d.code)
        for p in declaration.storage_pools():
            pool = group("pool", p.name, p.backend, p.capacity_gib * GIB, members("pool", p.name))
            pools.append(replace(pool, note=notes[p.name]) if p.name in notes else pool)
            known_pools.add(p.name)
    for code in sorted({v.labels.get("department", "") for v in volumes} - known_departments - {""}):
        departments.append(group("department", code, "(not in the declaration)", None, members("department", code)))
    for name in sorted({row_of(v) for v in volumes} - known_pools - {""}):
        pools.append(group("pool", name, "(not in the declaration)", None, members("pool", name)))
    return Report(
        departments=tuple(sorted(departments, key=_urgency)),
        pools=tuple(sorted(pools, key=_urgency)),
        at_risk=tuple(risky),
        volumes=len(volumes),
        risk_seconds=risk_seconds,
        datasets=_freshness([*histories, *left_out], declaration, write_histories),
        horizon_seconds=report_horizon(risk_seconds),
        asof=max((v.forecast.asof for v in volumes), default=None),
    )


def _pool_rows(
    volumes: Sequence[Volume], declaration: Declaration | None
) -> tuple[Callable[[Volume], str], dict[str, str]]:
    """The pool row each volume counts in, and what the report must say of a declared pool whose Ceph series it could
    not tell (pool name: note).

    A volume counts in its pool's row, but a Ceph pool's own series is told by its Ceph cluster too: every cluster has
    its ``.mgr``, and ``rbd`` is Ceph's usual name, so two clusters' pools can share a name. The series' volume is
    ``<cluster>/<name>`` (``job:<job>/<name>`` where its scrape carries no ``cluster`` label). A declared pool's row
    takes the series whose cluster is the pool's own: its ``ceph_cluster_id`` (cephadm's Prometheus labels ``cluster``
    with the fsid), or where none carries it, the Kubernetes cluster declaring it (a Ceph cluster scraped as part of
    it, as Rook's). A series
    whose cluster is another declared one (another fsid or Kubernetes cluster) is never the declared pool's. Where
    none is identified, the one series left of that name takes the row, as the only candidate; of two or more, none
    does (each is its own row, ``<cluster>/<name>``) and the declared row says so rather than guess. An undeclared
    pool name two clusters share is a row per cluster."""
    candidates: dict[str, list[str]] = {}
    for v in volumes:
        if v.labels.get("kind") == "ceph_pool":
            candidates.setdefault(v.labels.get("pool", ""), []).append(v.labels.get("volume", ""))
    # A declared pool's name: the values a `cluster` label of its Ceph cluster may carry, its fsid first.
    own: dict[str, tuple[str, ...]] = {a.name: a.clusters for a in allocations(declaration) if a.scope == "pool"}
    declared_clusters = {name for names in own.values() for name in names}
    in_row: set[str] = set()  # the Ceph series counted in their pool's own row
    notes: dict[str, str] = {}
    for pool, series in candidates.items():
        if pool not in own:
            in_row.update(series if len(series) == 1 else ())
            continue
        theirs, unknown = own_ceph_series(series, own[pool], declared_clusters)
        if theirs or len(unknown) == 1:
            in_row.update(theirs or unknown)
        elif unknown:
            labels = " or ".join(f'cluster="{name}"' for name in own[pool])
            notes[pool] = f"not told which of {', '.join(sorted(unknown))} is its own: label its Ceph series {labels}"
        else:
            notes[pool] = f"not seen in its own Ceph cluster, only in other declared ones: {', '.join(sorted(series))}"

    def row_of(v: Volume) -> str:
        pool = v.labels.get("pool", "")
        if v.labels.get("kind") != "ceph_pool":
            return pool
        volume = v.labels.get("volume", "")
        return pool if volume in in_row else volume

    return row_of, notes


def report_horizon(risk_seconds: int) -> int:
    """How far ahead a report forecasts: HORIZON, or further where it is asked who is at risk further ahead (a p10
    beyond the horizon is not known, and would count as never)."""
    return max(HORIZON, risk_seconds)


def _freshness(
    histories: Sequence[UsageHistory], declaration: Declaration | None, write_histories: Sequence[UsageHistory]
) -> tuple[Freshness, ...]:
    """Every declared dataset's last write (as the exporter reads it), overdue first (see :func:`_staleness`)."""
    from dizuo.capacity.exporter import dataset_writes, with_older_writes  # noqa: PLC0415

    if not histories:
        return ()
    asof = max(int(h.timestamps[-1]) for h in histories)
    writes = {w.dataset: w for w in with_older_writes(dataset_writes(histories), histories, write_histories)}
    rows = [
        Freshness(
            dataset=r.dataset,
            owner=r.department,
            pool=r.pool,
            refresh_seconds=r.seconds,
            last_write=writes[r.dataset].at if r.dataset in writes else None,
            seen=r.dataset in writes and writes[r.dataset].seen,
            asof=asof,
        )
        for r in refresh_periods(declaration)
    ]
    return tuple(sorted(rows, key=_staleness))


def _staleness(f: Freshness) -> tuple[int, float, str]:
    """Datasets overdue first (not written within their refresh period: owned data nobody refreshes, for its owner to
    act on), the longest overdue first; then those never seen (their freshness unknown: a dozen of them must not push an
    overdue one below what --rows shows); then the others, the longest since their write first."""
    if f.last_write is None:
        return (1, 0.0, f.dataset)
    # Of a dataset not seen growing, overdue is a lower bound: above 1, overdue for sure.
    return (0 if f.overdue > 1 else 2, -f.overdue, f.dataset)


def _median_left(v: Volume) -> float:
    at = v.forecast.exhaustion_at
    return float("inf") if at is None else float(at - v.forecast.asof)


def _urgency(g: Group) -> tuple[float, float, float, str]:
    """Groups with volumes at risk first, soonest early (p10) date first (a volume whose median lies beyond the
    horizon is at risk too: --rows must not cut its group off); then soonest median exhaustion, then the fullest
    against its allocation."""
    soon = _median_left(g.earliest) if g.earliest else float("inf")
    share = g.used_bytes / g.allocated_bytes if g.allocated_bytes else 0.0
    if g.allocated_bytes == 0 and g.used_bytes > 0:
        share = float("inf")  # bytes in use under a quota of 0: over it, fuller than any other
    return (g.risk_left, soon, -share, g.name)


# --------------------------------------------------------------------------------------- text


def size(value: float | None) -> str:
    """Bytes in binary units: 1.5 TiB, 300 GiB."""
    if value is None:
        return "-"
    for unit, factor in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if abs(value) >= factor:
            return f"{value / factor:.1f} {unit}"
    return f"{value:.0f} B"


def when(at: int | None, asof: int, horizon: int = HORIZON) -> str:
    """A local date with the time left: ``2024-06-02 08:00 (+1.3 d)``; ``-`` beyond the horizon."""
    if at is None:
        return "-"
    shown = _wall(at).strftime("%Y-%m-%d %H:%M")
    return f"{shown} ({left(at, asof, horizon)})"


def left(at: int | None, asof: int, horizon: int = HORIZON) -> str:
    """Time left, short: ``+1.3 d``; ``>30 d`` beyond the horizon (30 days)."""
    return f">{horizon / DAY:g} d" if at is None else f"+{max(at - asof, 0) / DAY:.1f} d"


def share(used: float, of: float | None) -> str:
    """``73%``; ``<1%`` and ``>99%`` where rounding would say ``0%`` of bytes in use or ``100%`` of a volume not full;
    ``over 0`` for bytes in use against nothing allowed (a quota of 0: over it, whatever the bytes), or ``-`` when
    there is nothing to compare with."""
    if of is None or (of == 0 and used <= 0):
        return "-"
    if not of:
        return "over 0"
    shown = f"{used / of:.0%}"
    if shown == "0%" and used > 0:
        return "<1%"
    return ">99%" if shown == "100%" and used < of else shown


# What an empty department or pool table means: without a declaration no volume has a department or a declared pool.
NO_DEPARTMENTS = "No departments: --declaration gives volumes their departments and quotas."
NO_POOLS = "No pools: no volume read names its pool, and no --declaration declares any."
# One set of column names for the terminal and the HTML page. "quota" and "declared" come from the declaration;
# "provisioned" is what the volumes seen add up to (or a Ceph pool's own size), "used" what they hold.
DEPARTMENT_COLUMNS = ("department", "quota", "provisioned", "used", "used/quota", "volumes", "at risk", "first full")
POOL_COLUMNS = ("pool", "declared", "provisioned", "used", "used/declared", "volumes", "at risk", "first full")
VOLUME_COLUMNS = ("volume", "department", "pool", "used", "size", "full", "early", "median", "late", "median date")
DATASET_COLUMNS = ("dataset", "owner", "pool", "last write", "since", "refresh every", "periods")


def _table(
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str | Text]],
    limit: int,
    *,
    left_aligned: set[str],
    notes: Sequence[str] = (),
) -> Table:
    shown = rows[:limit]
    # Say what --rows left out: a table that stops at 20 of 33 departments must not look complete.
    cut = [f"{len(shown)} of {len(rows)}; --rows to show more"] if len(rows) > len(shown) else []
    caption = "\n".join([*cut, *notes]) or None
    table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
    for column in columns:
        # Names must stay whole to be copied into kubectl; rich narrows the other columns instead.
        table.add_column(column, justify="left" if column in left_aligned else "right", no_wrap=column == columns[0])
    for row in shown:
        # Names come from Prometheus and CSV files: as Text, a `[...]` in one is printed, not read as rich markup.
        table.add_row(*(cell if isinstance(cell, Text) else Text(cell) for cell in row))
    return table


def _volume_rows(volumes: Sequence[Volume], horizon: int) -> list[list[str]]:
    date = _dates(v.first_full() for v in volumes)
    return [_volume_cells(v, horizon, date) for v in volumes]


def _volume_cells(v: Volume, horizon: int, date: Callable[[int | None], str]) -> list[str]:
    f = v.forecast
    since = v.full_since()
    # A volume full already: '+0.0 d' and the report's own time would read as filling now, not days ago.
    forecast = (
        [left(f.p10, f.asof, horizon), left(f.exhaustion_at, f.asof, horizon), left(f.p90, f.asof, horizon)]
        if since is None
        else ["full"] * 3
    )
    return [
        f.series,
        v.labels.get("department") or "-",
        v.labels.get("pool") or "-",
        size(f.used_bytes),
        size(f.capacity_bytes),
        share(f.used_bytes, f.capacity_bytes),
        *forecast,
        date(f.exhaustion_at) if since is None else f"since {date(since)}",
    ]


def tables(report: Report, limit: int = 20) -> list[Table]:
    """Departments, pools and volumes at risk, most urgent first, then the datasets overdue first, then those never
    seen (``limit`` rows each)."""
    groups = (
        ("Departments: quota vs provisioned vs used", DEPARTMENT_COLUMNS, report.departments, NO_DEPARTMENTS),
        ("Storage pools: declared vs provisioned vs used", POOL_COLUMNS, report.pools, NO_POOLS),
    )
    return [
        *(
            _table(
                title,
                columns,
                [_group_row(g, cells) for g, cells in _group_rows(members, report.horizon_seconds)],
                limit,
                left_aligned={columns[0], "first full"},
                notes=_notes(members) if members else [empty],
            )
            for title, columns, members, empty in groups
        ),
        _table(
            f"Volumes at risk (p10 within {report.risk_seconds / DAY:g} d): {len(report.at_risk)}{_as_of(report)}",
            VOLUME_COLUMNS,
            _volume_rows(report.at_risk, report.horizon_seconds),
            limit,
            left_aligned={"volume", "department", "pool"},
        ),
        *(
            [
                _table(
                    "Data-pool datasets by time since their last write (in refresh periods)",
                    DATASET_COLUMNS,
                    _dataset_rows(report.datasets),
                    limit,
                    left_aligned={"dataset", "owner", "pool", "last write"},
                )
            ]
            if report.datasets
            else []
        ),
    ]


def _as_of(report: Report) -> str:
    """``, as of 2026-11-30 09:00 UTC+8``: the time the report's figures describe (its newest sample), with its year
    and its zone (the city's, which Prometheus' UI, in UTC, is not), so that a report read later, or printed into a
    CI log, says when '+2.3 d' counts from; '' with no volume."""
    return "" if report.asof is None else f", as of {_wall(report.asof):%Y-%m-%d %H:%M %Z}"


def _notes(groups: Sequence[Group]) -> list[str]:
    """What the report could not tell of its groups, a line each, named (shown whether --rows shows its row or not)."""
    return [f"{g.name}: {g.note}" for g in groups if g.note]


def _dataset_rows(datasets: Sequence[Freshness]) -> list[list[str]]:
    date = _dates(f.last_write for f in datasets)
    return [_dataset_cells(f, date) for f in datasets]


def _dataset_cells(f: Freshness, date: Callable[[int | None], str]) -> list[str]:
    if f.last_write is None:
        return [f.dataset, f.owner, f.pool, "not seen", "-", f"{f.refresh_seconds / DAY:g} d", "-"]
    since = f"{(f.asof - f.last_write) / DAY:.1f} d"
    return [
        f.dataset,
        f.owner,
        f.pool,
        date(f.last_write) if f.seen else f"before {date(f.last_write)}",
        since if f.seen else f">= {since}",
        f"{f.refresh_seconds / DAY:g} d",
        f"{f.overdue:.1f}" if f.seen else f">= {f.overdue:.1f}",
    ]


def _dates(column: Iterable[int | None]) -> Callable[[int | None], str]:
    """Local dates for one column: ``MM-DD HH:MM`` while all of them fall in this year, else ``YYYY-MM-DD HH:MM``
    (a column crossing into the next year, or a write a year back, must not read as this year's)."""
    year = datetime.now(LOCAL).year
    short = all(_wall(at).year == year for at in column if at is not None)
    shape = "%m-%d %H:%M" if short else "%Y-%m-%d %H:%M"
    return lambda at: "-" if at is None else _wall(at).strftime(shape)


def _wall(at: int) -> datetime:
    return datetime.fromtimestamp(at, UTC).astimezone(LOCAL)


def _first_full(g: Group) -> int | None:
    return None if g.earliest is None else g.earliest.first_full()


def _group_rows(groups: Sequence[Group], horizon: int) -> list[tuple[Group, list[str]]]:
    """Each group with its cells, the first-full dates of all in one shape."""
    date = _dates(_first_full(g) for g in groups)
    return [(g, _group_cells(g, horizon, date)) for g in groups]


def _group_cells(g: Group, horizon: int, date: Callable[[int | None], str]) -> list[str]:
    first = "-"
    if g.earliest is not None and (since := g.earliest.full_since()) is not None:
        first = f"full since {date(since)}"
    elif g.earliest is not None:
        f = g.earliest.forecast
        first = f"{date(f.exhaustion_at)} ({left(f.exhaustion_at, f.asof, horizon)})"
    return [
        g.name,
        size(g.allocated_bytes),
        size(g.capacity_bytes) if g.measured else "-",
        size(g.used_bytes) if g.measured else "-",
        share(g.used_bytes, g.allocated_bytes) if g.measured else "-",
        str(g.volumes),
        str(g.at_risk),
        first,
    ]


def _group_row(g: Group, plain: list[str]) -> list[str | Text]:
    """A group's terminal row: its count at risk in red when there is one."""
    cells: list[str | Text] = list(plain)
    if g.at_risk:
        cells[6] = Text(str(g.at_risk), style="red")
    return cells


# ------------------------------------------------------------------------------------- charts


def _save(figure: object, path: Path, *, boxes_named: bool = False) -> None:
    """savefig to a temporary file next to ``path``, then rename. ``boxes_named``: the characters no installed font
    holds were named once already (see ``_families_for``)."""
    with atomic_path(path, suffix=".png") as partial, warnings.catch_warnings():
        if boxes_named:  # matplotlib would say it again, once per character
            warnings.filterwarnings("ignore", message=r"Glyph \d+ .* missing from font", category=UserWarning)
        figure.savefig(partial, format="png", dpi=110)  # type: ignore[attr-defined]


def _local(stamps: IntArray | Sequence[int]) -> npt.NDArray[np.datetime64]:
    """Unix seconds -> naive datetime64 in local (UTC+8) wall time, which is what the axis shows."""
    return (np.asarray(stamps, dtype=np.int64) + LOCAL_OFFSET).astype("datetime64[s]")


def volume_chart(volume: Volume, path: Path, horizon: int = HORIZON) -> None:
    """History, capacity line, p10-p90 forecast band and median exhaustion date of one volume."""
    from matplotlib.dates import AutoDateLocator  # noqa: PLC0415 - slow import
    from matplotlib.figure import Figure  # noqa: PLC0415

    history, f = volume.history, volume.forecast
    largest = float(max(history.capacity_bytes.max(), history.used_bytes.max()))
    unit, factor = _unit(largest)
    horizon_end = f.asof + horizon
    # Show the future up to two days past the late forecast: enough to read the band, not so much
    # that four weeks of history are squeezed into a corner.
    known = [t for t in (f.p90, f.exhaustion_at, f.p10) if t is not None]
    right = min(horizon_end, max(known) + 2 * DAY) if f.p90 is not None else horizon_end
    figure = Figure(figsize=(9, 4.2), layout="constrained")
    ax = figure.add_subplot()
    # Usage above the capacity line: a full volume's usage runs along it and, drawn beneath, would not be seen.
    ax.plot(
        _local(history.timestamps),
        history.used_bytes / factor,
        color="#1f77b4",
        linewidth=1.0,
        label="used",
        zorder=USED_ZORDER,
    )
    capacity = f.capacity_bytes / factor
    ax.step(
        _local([*history.timestamps.tolist(), right]),
        [*(history.capacity_bytes / factor).tolist(), capacity],
        where="post",
        color="#d62728",
        linewidth=1.4,
        label="capacity",
    )
    _mark_at_capacity(ax, history, factor)
    # A volume full already has no date left to forecast: its band and median would sit on the report's time and read
    # 'full <now> (+0.0 d)', beside the date it really got there.
    filling = volume.full_since() is None
    if filling and f.p10 is not None:
        # The 80 % band: the volume fills between p10 and p90 (p90 beyond the horizon: open to the right).
        late = f.p90 if f.p90 is not None else right
        span = "p10-p90" if f.p90 is not None else f"p10 to beyond {horizon / DAY:g} d"
        ax.axvspan(*_local([f.p10, late]), color="#ff7f0e", alpha=0.18, linewidth=0, label=f"full: {span}")
    if filling and f.exhaustion_at is not None:
        full = _local([f.asof, f.exhaustion_at])
        ax.plot(full, [f.used_bytes / factor, capacity], color="#ff7f0e", linestyle="--", linewidth=1.2)
        ax.axvline(full[1], color="#ff7f0e", linewidth=1.2, label="full: median")
        ax.annotate(
            f"full {when(f.exhaustion_at, f.asof, horizon)}",
            xy=(full[1], capacity),
            xytext=(-4, 6),
            textcoords="offset points",
            fontsize=9,
            color="#b35900",
            ha="right",
        )
    labels = volume.labels
    owner = ", ".join(f"{k} {labels[k]}" for k in ("department", "system", "pool") if labels.get(k))
    # As written: matplotlib reads text between two `$` as TeX, so a mount point such as `//nas/share$/a\b$` would
    # stop the whole report with a parse error (and `/mnt/$x^2$` would show as x squared).
    title = f.series + (f"  ({owner})" if owner else "")
    families, boxes_named = _families_for(title)
    ax.set_title(title, fontsize=11, loc="left", parse_math=False, fontfamily=families)
    ax.set_ylabel(unit)
    # The highest point drawn, not the last capacity: usage above capacity (a thin-provisioned pool) or a capacity
    # before a shrink would be cut off.
    ax.set_ylim(bottom=0, top=max(capacity, largest / factor) * 1.15)
    ax.set_xlim(*_local([int(history.timestamps[0]), right]))
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(_date_labels(locator))
    ax.set_xlabel("Asia/Shanghai time")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, ncols=4)
    _save(figure, path, boxes_named=boxes_named)


def _mark_at_capacity(ax: Axes, history: UsageHistory, factor: float) -> None:
    """Where usage is at its capacity (within ``AT_CAPACITY`` of it), draw it bold over the capacity line: the two
    lines, a hair apart, would read as capacity alone. Mark the samples where it reached the capacity itself (what
    the forecast calls full), and date the last."""
    near = _at_capacity(history, AT_CAPACITY)
    if not near.any():
        return
    used = history.used_bytes / factor
    # Samples off capacity are left blank (NaN), so each stretch at capacity is its own piece of line.
    ax.plot(
        _local(history.timestamps),
        np.where(near, used, np.nan),
        color="#08306b",
        linewidth=2.6,
        label="used: at capacity",
        zorder=USED_ZORDER + 1,
    )
    full = _at_capacity(history)
    reached = _reached_capacity(full)
    if not reached.size:
        return
    ax.plot(
        _local(history.timestamps[reached]),
        used[reached],
        linestyle="none",
        marker="v",
        markersize=7,
        color="#08306b",
        label="reached capacity",
        zorder=USED_ZORDER + 2,
    )
    last = int(reached[-1])
    since = "full since" if full[-1] else "reached capacity"
    ax.annotate(
        f"{since} {_wall(int(history.timestamps[last])):%Y-%m-%d %H:%M}",
        xy=(_local(history.timestamps[last : last + 1])[0], used[last]),
        # Below the line: the median forecast's date is written above it, at the same height.
        xytext=(4, -6),
        textcoords="offset points",
        va="top",
        fontsize=9,
        color="#08306b",
        zorder=USED_ZORDER + 2,
    )


def _at_capacity(history: UsageHistory, share: float = 1.0) -> npt.NDArray[np.bool_]:
    """Per sample: usage at or above ``share`` of the capacity (1: full, as the forecast judges it)."""
    return np.asarray(history.used_bytes >= share * history.capacity_bytes)


def _reached_capacity(full: npt.NDArray[np.bool_]) -> IntArray:
    """The samples where usage reached its capacity (``full``: per sample, at it): the first of each stretch at it."""
    return np.flatnonzero(full & ~np.concatenate(([False], full[:-1])))


def _families_for(text: str) -> tuple[list[str], bool]:
    """The fonts to draw ``text`` in: matplotlib's own (DejaVu Sans), then, for characters it lacks (Chinese in a
    mount point: ``/数据/人口库``), the installed font holding most of them, to which matplotlib falls back glyph by
    glyph. matplotlib's own alone would draw each Chinese character as an empty box, whatever fonts are installed.
    True beside them when some characters are still without a glyph (said here, once)."""
    from matplotlib import font_manager, rcParams  # noqa: PLC0415 - slow import

    default = list(rcParams["font.family"])
    missing = _lacking(font_manager.findfont(font_manager.FontProperties()), text)
    if not missing:
        return default, False
    best, still_missing = None, missing
    # Not matplotlib's Last Resort font: it "holds" every character, as a box naming its Unicode block.
    for entry in (e for e in font_manager.fontManager.ttflist if not e.name.startswith("Last Resort")):
        lacking = _lacking(entry.fname, "".join(missing))
        if len(lacking) < len(still_missing):
            best, still_missing = entry.name, lacking
    if still_missing:
        boxed = "".join(dict.fromkeys(c for c in text if c in still_missing))
        warnings.warn(
            f"no installed font holds {boxed}: the chart of {text} shows them as boxes; install a font with Chinese "
            "characters, such as Noto Sans CJK (Debian: fonts-noto-cjk)",
            stacklevel=2,
        )
    return (default if best is None else [*default, best]), bool(still_missing)


def _lacking(font_file: str, text: str) -> set[str]:
    """The printable characters of ``text`` that the font in ``font_file`` has no glyph for (all of them when it cannot
    be read)."""
    from matplotlib import font_manager  # noqa: PLC0415 - slow import

    shown = {c for c in text if c.isprintable() and not c.isspace()}
    try:
        held = font_manager.get_font(font_file).get_charmap()
    except (OSError, RuntimeError):  # a broken or unreadable font file: it holds nothing we can draw
        return shown
    return {c for c in shown if ord(c) not in held}


def _date_labels(locator: Locator) -> Formatter:
    """matplotlib's ConciseDateFormatter, but a tick on 1 January shows its year: at day or hour ticks it shows
    ``Jan`` or ``Jan-01``, and a chart reaching into the next year would read as one year's (the offset names only
    the last tick's year)."""
    from matplotlib.dates import ConciseDateFormatter, num2date  # noqa: PLC0415 - slow import

    class YearOnNewYear(ConciseDateFormatter):
        def format_ticks(self, values: Sequence[float]) -> list[str]:
            labels: list[str] = super().format_ticks(values)  # type: ignore[no-untyped-call]
            ticks = [num2date(v) for v in values]  # type: ignore[no-untyped-call]
            return [
                str(t.year) if (t.month, t.day, t.hour, t.minute) == (1, 1, 0, 0) else label
                for t, label in zip(ticks, labels, strict=True)
            ]

    return YearOnNewYear(locator)  # type: ignore[no-untyped-call]


def _unit(largest: float) -> tuple[str, float]:
    for unit, factor in (("PiB", 2**50), ("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if largest >= factor:
            return unit, float(factor)
    return "bytes", 1.0


def allocation_chart(report: Report, path: Path, limit: int = 15) -> None:
    """Per department: quota vs provisioned vs used (the departments closest to their quota)."""
    from matplotlib.figure import Figure  # noqa: PLC0415 - slow import

    rows = sorted(
        (g for g in report.departments if g.allocated_bytes and g.volumes),
        key=lambda g: -(max(g.used_bytes, g.capacity_bytes) / (g.allocated_bytes or 1)),
    )[:limit][::-1]
    figure = Figure(figsize=(9, 0.38 * max(len(rows), 3) + 1.2), layout="constrained")
    ax = figure.add_subplot()
    names = [g.name for g in rows]
    # Shares of each quota, not bytes: quotas span GiB to PiB, and "how close to the quota" is the question.
    provisioned = [100 * g.capacity_bytes / (g.allocated_bytes or 1) for g in rows]
    used = [100 * g.used_bytes / (g.allocated_bytes or 1) for g in rows]
    ax.barh(names, provisioned, height=0.7, color="#9ecae1", label="provisioned")
    ax.barh(names, used, height=0.35, color="#1f77b4", label="used")
    ax.axvline(100, color="#d62728", linewidth=1.4, label="quota")
    for y, g in enumerate(rows):
        ax.annotate(
            f"{size(g.used_bytes)} used of {size(g.allocated_bytes)}",
            xy=(max(provisioned[y], used[y]), y),
            xytext=(4, -3),
            textcoords="offset points",
            fontsize=8,
        )
    ax.set_xlim(0, max([120.0, *(p * 1.35 for p in provisioned)]))
    ax.set_xlabel("% of the department's storage quota")
    ax.set_title("Departments: provisioned and used storage against quota", fontsize=11, loc="left")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    _save(figure, path)


def chart_name(volume: Volume) -> str:
    """A file name for a volume's chart: its series id with unsafe characters replaced, and a short digest of the
    id itself, since two ids can differ only in the characters replaced (mount points `/a b` and `/a_b`)."""
    series = volume.forecast.series
    readable = "".join(c if c.isalnum() or c in "-_." else "_" for c in series)
    # At most 100 bytes, not characters: a file system holds 255 bytes of a name, and a Chinese character takes three
    # in UTF-8 (a long Chinese mount point would fail the whole report). A character cut in two is left out.
    readable = readable.encode()[:100].decode(errors="ignore")
    return f"{readable}-{hashlib.sha256(series.encode()).hexdigest()[:8]}.png"


class ReportDirError(Exception):
    """The report's directory cannot be replaced without losing what it holds; nothing was written."""


def out_dir_problem(out: Path) -> str | None:
    """Why ``out`` cannot take a report, or None.

    The report replaces ``out`` whole, so it must be new, empty, or a previous report holding nothing else; not the
    working directory (or one holding it), not a mount point (neither can be renamed), and writable.
    """
    absolute = resolved_out(out)  # checked where the report is written; named as the user named it
    return output_place_problem(absolute, "the report") or _held_content(absolute)


def _held_content(out: Path) -> str | None:
    foreign = _not_from_a_report(out) if out.is_dir() else []
    if not foreign:
        return None
    shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
    return (
        f"holds {shown}, which no dizuo capacity report wrote; the report replaces its directory whole: "
        "choose a new or empty directory, or a previous report's"
    )


def _not_from_a_report(out: Path) -> list[str]:
    """The entries of ``out`` that no report wrote: all of them unless it holds a report."""
    entries = {p.name: p for p in out.iterdir()}
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
        ours = {MARKER, *marker["files"]} if marker["written_by"] == WRITTEN_BY else set()
    except (OSError, ValueError, KeyError, TypeError):
        ours = _report_before_the_marker(entries)
    return sorted(name for name, path in entries.items() if name not in ours or path.is_symlink() or not path.is_file())


def _report_before_the_marker(entries: dict[str, Path]) -> set[str]:
    """A report written before the marker: its page and the charts the page shows (not any picture beside it)."""
    page = entries.get("index.html")
    try:
        text = page.read_text(encoding="utf-8") if page is not None and page.is_file() else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    if TITLE not in text:
        return set()
    shown = {html.unescape(src) for src in re.findall(r'<img src="([^"/]+\.png)"', text)}
    return {"index.html", *(name for name in entries if name in shown)}


def write_report(
    report: Report,
    out: Path,
    charts: int = 12,
    progress: Callable[[str], None] = lambda _name: None,
) -> Path:
    """Write ``charts`` volume charts (soonest first), the allocation chart and ``index.html`` as the whole of
    ``out``; return the page.

    Raises :class:`ReportDirError` when ``out`` is not the report's to replace (``out_dir_problem``), OSError when
    the files cannot be written; ``out`` is then as it was.
    """
    target = resolved_out(out)  # the folder checked is the folder written: `link/../x` is x beside link's target
    if problem := out_dir_problem(target):
        raise ReportDirError(problem)
    staging = make_staging(target)
    try:
        pictures: list[tuple[str, str]] = []
        if any(g.allocated_bytes and g.volumes for g in report.departments):
            allocation_chart(report, staging / "allocation.png")
            pictures.append(("allocation.png", "Departments: quota vs provisioned vs used"))
            progress("allocation.png")
        for volume in report.at_risk[:charts]:
            name = chart_name(volume)
            volume_chart(volume, staging / name, report.horizon_seconds)
            pictures.append((name, volume.forecast.series))
            progress(name)
        charted = min(charts, len(report.at_risk))
        (staging / "index.html").write_text(_html(report, pictures, charted), encoding="utf-8")
        files = sorted(["index.html", *(name for name, _ in pictures)])
        marker = {"written_by": WRITTEN_BY, "files": files}
        (staging / MARKER).write_text(json.dumps(marker, indent=1) + "\n", encoding="utf-8")
        try:
            swap_in(staging, target, _held_content)
        except ChangedWhileWritingError as exc:
            raise ReportDirError(f"{exc} (put there while the report was made)") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target / "index.html"


def _html(report: Report, pictures: Sequence[tuple[str, str]], charted: int) -> str:
    def table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
        body = "\n".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table><tr>{head}</tr>\n{body}</table>"

    def with_title(columns: Sequence[str]) -> list[str]:
        return [columns[0], "name", *columns[1:]]

    images = "\n".join(
        f'<figure><img src="{html.escape(src)}" alt="{html.escape(alt)}"><figcaption>{html.escape(alt)}'
        "</figcaption></figure>"
        for src, alt in pictures
    )
    department_notes = "" if report.departments else f"<p>{html.escape(NO_DEPARTMENTS)}</p>"
    pool_notes = "".join(
        f"<p>{html.escape(note)}</p>" for note in (_notes(report.pools) if report.pools else [NO_POOLS])
    )
    # A volume at risk in the table above with no chart must not look like an oversight.
    uncharted = len(report.at_risk) - charted
    cut = (
        f"<p>Charted: the {charted} soonest full of the {len(report.at_risk)} volumes at risk; {uncharted} more "
        "with --charts.</p>"
        if uncharted
        else ""
    )
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>dizuo capacity report</title>
<style>
body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; margin-bottom: 2em; }}
td, th {{ border: 1px solid #ccc; padding: 2px 8px; text-align: right; }}
td:first-child, td:nth-child(2) {{ text-align: left; }}
figure {{ margin: 1em 0; }} img {{ max-width: 100%; }}
</style></head><body>
<h1>Storage capacity: allocation vs usage vs forecast</h1>
<p>{report.volumes} volumes{_as_of(report)}; {len(report.at_risk)} at risk
(early forecast within {report.risk_seconds / DAY:g} days). Dates are Asia/Shanghai time.</p>
<h2>Volumes at risk</h2>
{table(VOLUME_COLUMNS, _volume_rows(report.at_risk, report.horizon_seconds))}
<h2>Departments</h2>
{table(with_title(DEPARTMENT_COLUMNS), _titled(report.departments, report.horizon_seconds))}
{department_notes}
<h2>Storage pools</h2>
{table(with_title(POOL_COLUMNS), _titled(report.pools, report.horizon_seconds))}
{pool_notes}
<h2>Data-pool datasets by time since their last write</h2>
{table(DATASET_COLUMNS, _dataset_rows(report.datasets))}
<h2>Charts</h2>
{cut}
{images}
</body></html>
"""


def _titled(groups: Sequence[Group], horizon: int) -> list[list[str]]:
    """The page's group rows: each group's title after its name."""
    return [[cells[0], g.title, *cells[1:]] for g, cells in _group_rows(groups, horizon)]
