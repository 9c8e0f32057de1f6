"""`dizuo migrate city --csv/--prometheus-url`: the relief the usage forecast flags, on Yulin with a known future.

The usage CSV is made here with a known truth: every candidate uses a share of its allocation and grows on working
days; the pool's series is their sum plus a fixed overhead. The plan must keep the pool's true usage 90 days on
under the fill target once the moved systems' true usage has left it.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import pytest
import yaml
from typer.testing import CliRunner

from dizuo.capacity.calendar_cn import SHIPPED, local_day
from dizuo.capacity.commands_forecast import load_calendar_option
from dizuo.capacity.prometheus_source import DEFAULT_SELECTORS
from dizuo.capacity.types import UsageHistory
from dizuo.cli import app
from dizuo.declaration.loader import load
from dizuo.declaration.model import Declaration
from dizuo.migration.city import build_instance, change_of
from dizuo.migration.outlook import OutlookError, Projected, UsageOutlook, usage_outlook
from dizuo.migration.report import copy_names, data_copies
from prometheus_server import MISSING, MISSING_REASON, backfill, openmetrics, serving

YULIN = Path(__file__).resolve().parents[2] / "inventories" / "yulin"
CALENDAR = Path(__file__).resolve().parents[2] / "monitoring" / "working-calendar.yaml"
GIB = 2**30
TIB = 2**40
STEP = 900
DAY = 86400
# Monday 2025-03-10 18:00 local: the day's growth done, a quarter ahead without a year the calendar lacks.
ASOF = 1741600800
HORIZON = 90
SHARE_USED = 0.9  # of each candidate's allocation at asof
GROWTH = 0.0006  # of its allocation per working day
OVERHEAD_GIB = 5000  # in the pool's series besides the candidates' volumes (RBD metadata, snapshots)
PHASE1_GIB = 1_622_016  # phase1-ceph's declared capacity
XC_CEPH_GIB = 417_792  # xc-ceph's


@dataclass(frozen=True)
class Scenario:
    """Usage histories with a known future: the measured candidates' volumes, the pool, and the truth at the horizon."""

    ts: npt.NDArray[np.int64]
    volumes: dict[str, npt.NDArray[np.float64]]  # measured candidate code -> used bytes
    pool: npt.NDArray[np.float64]  # phase1-ceph's used bytes: every candidate's plus the overhead
    truth_gib: dict[str, float]  # every candidate's usage at the horizon
    pool_truth_gib: float


@dataclass(frozen=True)
class Usage:
    """The CSV written and the truth behind it."""

    csv: Path
    truth_gib: dict[str, float]
    pool_truth_gib: float


def _candidates(d: Declaration) -> list[tuple[str, int]]:
    m = d.city.migration
    assert m is not None
    return [
        (s.code, s.resources.storage_gib)
        for s in d.systems
        if s.cluster == m.cluster and s.storage_pool == m.legacy_storage_pool
    ]


def _working_days_between(start: int, end: int) -> int:
    days = np.arange(int(local_day(start)) + 1, int(local_day(end)) + 1)
    return int(SHIPPED.is_working_day(days).sum())


def scenario(
    d: Declaration,
    asof: int,
    *,
    measured: set[str] | None = None,
    seed: int = 3,
    blip: tuple[str, float] | None = None,
) -> Scenario:
    """28 days up to ``asof``: every candidate uses 90 % of its allocation and grows 0.06 % of it per working day,
    in office hours; the pool holds them all plus a fixed overhead. Only ``measured`` ones get a volume series.
    ``blip`` = (code, GiB): that candidate writes that much more over the last 6 hours, once (it stays, no new rate)."""
    rng = np.random.default_rng(seed)
    ts = np.arange(asof - 28 * DAY + STEP, asof + 1, STEP, dtype=np.int64)
    day = local_day(ts)
    work = SHIPPED.is_working_day(np.arange(day.min(), day.max() + 1)).astype(np.float64)
    hour = ((ts + 8 * 3600) % DAY) / 3600
    # Working days done by each sample: the days before it, and today's office hours (09:00-18:00) gone by.
    done = np.concatenate([[0.0], np.cumsum(work)])[day - day.min()] + work[day - day.min()] * np.clip(
        (hour - 9) / 9, 0, 1
    )
    done -= done[-1]  # 0 at asof
    ahead = _working_days_between(asof, asof + HORIZON * DAY)
    pool = np.full(ts.size, OVERHEAD_GIB * float(GIB))
    volumes: dict[str, npt.NDArray[np.float64]] = {}
    truth: dict[str, float] = {}
    for code, allocated in _candidates(d):
        used = (SHARE_USED * allocated + GROWTH * allocated * done) * GIB
        used += rng.normal(0, 0.0005 * allocated * GIB, ts.size)
        extra = 0.0
        if blip is not None and blip[0] == code:
            extra = blip[1]
            used += np.clip((ts - (asof - 6 * 3600)) / (6 * 3600), 0, 1) * extra * GIB
        pool += used
        truth[code] = SHARE_USED * allocated + GROWTH * allocated * ahead + extra
        if measured is None or code in measured:
            volumes[code] = used
    return Scenario(ts, volumes, pool, truth, OVERHEAD_GIB + sum(truth.values()))


def write_usage(
    d: Declaration,
    path: Path,
    *,
    measured: set[str] | None = None,
    pool_series: tuple[str, ...] = ("phase1-ceph",),
    blip: tuple[str, float] | None = None,
    asof: int = ASOF,
    pool_lag: int = 0,
    target_gib: float | None = None,
    more_claims: tuple[str, ...] = (),
) -> Usage:
    """The scenario as of ``asof`` in the bench CSV format: volumes as `pvc:<code>/data`, the pool under its name
    (its series ending ``pool_lag`` seconds earlier); with ``target_gib``, xc-ceph holding that much; with
    ``more_claims``, each measured candidate has those volumes too (`pvc:<code>/<claim>`), each 1 % of its data's."""
    sc = scenario(d, asof, measured=measured, blip=blip)
    rows = [(f"pvc:{code}/data", sc.ts, used, float(np.max(used)) * 1.5) for code, used in sc.volumes.items()]
    rows += [
        (f"pvc:{code}/{claim}", sc.ts, used / 100, float(np.max(used)) * 1.5 / 100)
        for code, used in sc.volumes.items()
        for claim in more_claims
    ]
    kept = sc.ts <= asof - pool_lag
    rows += [(name, sc.ts[kept], sc.pool[kept], float(PHASE1_GIB * GIB)) for name in pool_series]
    if target_gib is not None:  # the target pool, flat
        rows.append(("xc-ceph", sc.ts, np.full(sc.ts.size, target_gib * GIB), float(XC_CEPH_GIB * GIB)))
    out = io.StringIO()
    out.write("series,timestamp,used_bytes,capacity_bytes\n")
    for name, ts, used, size in sorted(rows, key=lambda row: row[0]):
        for t, u in zip(ts.tolist(), used.tolist(), strict=True):
            out.write(f"{name},{t},{round(u)},{round(size)}\n")
    path.write_bytes(gzip.compress(out.getvalue().encode()))
    return Usage(path, sc.truth_gib, sc.pool_truth_gib)


@pytest.fixture(scope="module")
def yulin() -> Declaration:
    return load(YULIN)


def _plan(usage_csv: Path, out: Path, *extra: str) -> tuple[int, str]:
    args = ["migrate", "city", str(YULIN), "--out", str(out), "--csv", str(usage_csv), "--calendar", str(CALENDAR)]
    result = CliRunner().invoke(app, [*args, *extra])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def forecast_plan(tmp_path_factory: pytest.TempPathFactory, yulin: Declaration) -> tuple[Path, Usage]:
    work = tmp_path_factory.mktemp("outlook")
    usage = write_usage(yulin, work / "usage.csv.gz")
    code, output = _plan(usage.csv, work / "plan")
    assert code == 0, output
    return work / "plan", usage


def test_the_plan_keeps_the_pools_true_usage_under_the_fill_target_at_the_horizon(
    forecast_plan: tuple[Path, Usage], yulin: Declaration
) -> None:
    """The truth 90 days on, less what the moved systems truly hold then, is within 90 % of phase1-ceph."""
    out, usage = forecast_plan
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["sizes"] == "usage forecast"
    moved = {code for code, pool in plan["assignments"].items() if pool}
    assert moved, "the pool grows past 90 % within the quarter: something must move"
    limit = 0.90 * 1_622_016
    assert usage.pool_truth_gib > limit, "the scenario must need a relief"
    left = usage.pool_truth_gib - sum(usage.truth_gib[code] for code in moved)
    assert left <= limit, f"phase1-ceph would hold {left:,.0f} GiB at the horizon, over {limit:,.0f}"
    # The relief is the forecast's, not the allocations' 127 TiB: the pool is at 88 % in usage now.
    assert 0 < plan["relief_needed_bytes"] < 100 * TIB, plan["relief_needed_bytes"] / TIB


def test_sizes_are_the_projections_and_the_planner_s_arithmetic_holds(forecast_plan: tuple[Path, Usage]) -> None:
    """With the pool measured each candidate frees its median; the pool's p90 less the moved medians fits."""
    out, _ = forecast_plan
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    instance = json.loads((out / "instance.json").read_text(encoding="utf-8"))
    forecast = plan["forecast"]
    assert forecast["horizon_days"] == HORIZON
    assert forecast["asof"] == ASOF
    assert forecast["systems_unmeasured"] == []
    systems = forecast["systems"]
    for s in instance["systems"]:
        assert abs(s["projected_bytes"] - systems[s["id"]]["median_bytes"]) <= 1, s["id"]
        assert s["room_bytes"] % GIB == 0, "on the target a system takes its quota"
    pool = forecast["pools"]["phase1-ceph"]
    moved = {code for code, target in plan["assignments"].items() if target}
    held = pool["p90_bytes"] - sum(systems[c]["median_bytes"] for c in moved)
    assert held <= 0.90 * pool["capacity_bytes"] + len(systems), held / TIB
    markdown = (out / "PLAN.md").read_text(encoding="utf-8")
    assert "in the usage forecast 90 days ahead (p90)" in markdown
    assert "| `phase1-ceph` |" in markdown
    assert "Measured: 92 of 92 candidates" in markdown


def test_the_same_plan_in_allocations_without_a_history(forecast_plan: tuple[Path, Usage], tmp_path: Path) -> None:
    """Without --csv the sizes stay the declared allocations: the instance has no room_bytes at all."""
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    instance = json.loads((tmp_path / "p" / "instance.json").read_text(encoding="utf-8"))
    assert all("room_bytes" not in s for s in instance["systems"])
    plan = json.loads((tmp_path / "p" / "plan.json").read_text(encoding="utf-8"))
    assert plan["sizes"] == "allocations"
    assert plan["forecast"] is None
    assert (
        plan["relief_needed_bytes"]
        > json.loads((forecast_plan[0] / "plan.json").read_text(encoding="utf-8"))["relief_needed_bytes"]
    )


def test_unmeasured_candidates_free_nothing_the_plan_counts_on(yulin: Declaration, tmp_path: Path) -> None:
    """With the pool measured, a candidate without a volume series is sized 0 (its usage hides in the pool's) and
    named in PLAN.md; the plan moves only measured systems, and still holds the truth."""
    big = sorted(_candidates(yulin), key=lambda c: -c[1])
    measured = {code for code, _ in big[1:12]}
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", measured=measured)
    code, output = _plan(usage.csv, tmp_path / "plan")
    assert code == 0, output
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    moved = {c for c, pool in plan["assignments"].items() if pool}
    assert moved, "the pool grows past 90 %: something must move"
    assert moved <= measured, moved
    instance = json.loads((tmp_path / "plan" / "instance.json").read_text(encoding="utf-8"))
    sizes = {s["id"]: s["projected_bytes"] for s in instance["systems"]}
    assert all(sizes[c] == 0 for c in sizes if c not in measured)
    assert usage.pool_truth_gib - sum(usage.truth_gib[c] for c in moved) <= 0.90 * 1_622_016
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    assert f"Measured: {len(measured)} of 92 candidates; at their allocation" not in markdown
    assert f"Measured: {len(measured)} of 92 candidates; not counted" in markdown


def test_without_the_pool_s_series_what_else_stays_is_its_allocations(yulin: Declaration, tmp_path: Path) -> None:
    """Only the candidates measured: the rest of the pool is read from the declaration, as without a forecast."""
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", pool_series=())
    code, output = _plan(usage.csv, tmp_path / "plan")
    assert code == 0, output
    instance = json.loads((tmp_path / "plan" / "instance.json").read_text(encoding="utf-8"))
    # No dataset or other cluster's system on phase1-ceph: the candidates may keep the whole fill target.
    assert instance["legacy"]["target_bytes"] == int(0.90 * 1_622_016) * GIB
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    for s in instance["systems"]:  # no pool series to carry the uncertainty: each candidate holds its p90
        assert abs(s["projected_bytes"] - plan["forecast"]["systems"][s["id"]]["p90_bytes"]) <= 1, s["id"]
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    assert "No series measures `phase1-ceph`" in markdown


def test_a_pool_measured_twice_is_refused_naming_both_series(yulin: Declaration, tmp_path: Path) -> None:
    """Two series of one pool (two scrape jobs) would be counted twice: exit 2, both named, nothing written."""
    usage = write_usage(
        yulin, tmp_path / "usage.csv.gz", measured=set(), pool_series=("phase1-ceph", "ceph_pool:phase1-ceph")
    )
    code, output = _plan(usage.csv, tmp_path / "plan")
    assert code == 2, output
    assert "2 series measure storage pool 'phase1-ceph'" in output
    assert "ceph_pool:phase1-ceph, phase1-ceph" in output
    assert not (tmp_path / "plan").exists()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--prometheus-url", "http://127.0.0.1:9"], "give exactly one of --prometheus-url URL or --csv FILE"),
        (["--config", str(YULIN.parents[1] / "monitoring" / "capacity-sources.yaml")], "goes with --prometheus-url"),
    ],
)
def test_history_options_that_do_not_go_together_are_refused(
    yulin: Declaration, tmp_path: Path, extra: list[str], message: str
) -> None:
    """--csv with --prometheus-url, or --config with --csv: exit 2 saying which options go together."""
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", measured=set())
    code, output = _plan(usage.csv, tmp_path / "plan", *extra)
    assert code == 2, output
    assert message in " ".join(output.split())


def _outgrowing_pool(path: Path) -> Path:
    """20 days of 15-minute samples to ASOF: slj-01's volume at 40,000 GiB rising 200 GiB a day, and phase1-ceph at
    1,300 TiB rising 2 TiB a day, which alone passes 90 % of the pool within the quarter whatever leaves it."""
    ts = np.arange(ASOF - 20 * DAY + STEP, ASOF + 1, STEP, dtype=np.int64)
    days = (ts - ASOF) / DAY
    rows = [
        ("pvc:slj-01/data", (40_000 + 200 * days) * GIB, 56_700 * GIB),
        ("phase1-ceph", (1_300 + 2 * days) * TIB, 1_584 * TIB),
    ]
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    lines += [f"{name},{t},{round(u)},{size}" for name, used, size in rows for t, u in zip(ts, used, strict=True)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("history", ["no-candidate-measured", "pool-outgrows-its-measured-candidate"])
def test_a_pool_that_usage_alone_keeps_over_its_target_is_an_answer(
    yulin: Declaration, tmp_path: Path, history: str
) -> None:
    """What stays on phase1-ceph anyway passes 90 % in the usage forecast: the declaration is valid, so it is an
    answer (exit 0): PLAN.md and plan.json say why no plan exists, naming the candidates no series measures, with
    the forecast, and there is no wave and no instance.json (whose legacy target cannot go below zero)."""
    if history == "no-candidate-measured":
        csv = write_usage(yulin, tmp_path / "usage.csv.gz", measured=set()).csv
    else:
        csv = _outgrowing_pool(tmp_path / "usage.csv")
    out = tmp_path / "plan"
    code, output = _plan(csv, out)
    assert code == 0, output
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["infeasible"] is True
    assert plan["sizes"] == "usage forecast"
    assert re.fullmatch(
        r"what stays on 'phase1-ceph' anyway \([\d,]+ GiB in the usage forecast 90 days ahead\) exceeds its fill "
        r"target \(1,459,814 GiB\): moving every measured candidate .*",
        plan["reason"],
    ), plan["reason"]
    # Unmeasured candidates' usage hides in the pool's: the reason says so, never that no move could relieve it.
    unmeasured = len(plan["forecast"]["systems_unmeasured"])
    assert f"but {unmeasured} of 92 candidates have no volume series (" in plan["reason"], plan["reason"]
    assert "measure their volumes" in plan["reason"], plan["reason"]
    # The relief needed is what the pool's p90 holds past its target, not what the candidates could free.
    pool = plan["forecast"]["pools"]["phase1-ceph"]
    assert abs(plan["relief_needed_bytes"] - (pool["p90_bytes"] - 1_459_814 * GIB)) <= 2
    assert sorted(p.name for p in out.iterdir()) == ["PLAN.md", "plan.json"]
    markdown = (out / "PLAN.md").read_text(encoding="utf-8")
    assert "## Usage forecast, 90 days ahead" in markdown
    assert f"## No plan\n\n{plan['reason']}\n" in markdown


def _with_idle_loaders(sc: Scenario, now: int) -> dict[str, list[tuple[dict[str, str], npt.NDArray[np.float64]]]]:
    """``_kubelet_and_ceph``, and each measured candidate's claim `loader`, last mounted (sampled by kubelet) 3 days
    before ``now``, and both its claims listed by kube-state-metrics to now."""
    series = _kubelet_and_ceph(sc)
    mounted_until = np.where(sc.ts <= now - 3 * DAY, 1.0, np.nan)
    state = {"job": "kube-state-metrics"}
    series["kube_persistentvolumeclaim_info"] = []
    for code, used in sc.volumes.items():
        loader = {"namespace": code, "persistentvolumeclaim": "loader", "job": "kubelet"}
        series["kubelet_volume_stats_used_bytes"].append((loader, used[0] / 100 * mounted_until))
        series["kubelet_volume_stats_capacity_bytes"].append((loader, used[0] / 50 * mounted_until))
        for claim in ("data", "loader"):
            info = {**state, "namespace": code, "persistentvolumeclaim": claim}
            series["kube_persistentvolumeclaim_info"].append((info, np.ones(sc.ts.size)))
    return series


def _kubelet_and_ceph(sc: Scenario) -> dict[str, list[tuple[dict[str, str], npt.NDArray[np.float64]]]]:
    """The scenario as kubelet's volume stats (each measured candidate's claim `data`) and ceph-mgr's pool stats."""
    ceph = {"cluster": "yl-gov-ceph", "instance": "10.61.16.11:9283", "job": "ceph", "pool_id": "2"}
    series: dict[str, list[tuple[dict[str, str], npt.NDArray[np.float64]]]] = {
        "kubelet_volume_stats_used_bytes": [],
        "kubelet_volume_stats_capacity_bytes": [],
        "ceph_pool_stored": [(ceph, sc.pool)],
        # stored + max_avail is what the pool holds: the declared capacity.
        "ceph_pool_max_avail": [(ceph, PHASE1_GIB * float(GIB) - sc.pool)],
        "ceph_pool_metadata": [({**ceph, "name": "phase1-ceph"}, np.ones(sc.ts.size))],
    }
    for code, used in sc.volumes.items():
        pvc = {"namespace": code, "persistentvolumeclaim": "data", "job": "kubelet"}
        series["kubelet_volume_stats_used_bytes"].append((pvc, used))
        series["kubelet_volume_stats_capacity_bytes"].append((pvc, np.full(sc.ts.size, float(np.max(used)) * 1.5)))
    return series


def _plan_from_prometheus(tmp_path: Path, sc: Scenario, series: dict[str, Any], *extra: str) -> dict[str, Any]:
    """`dizuo migrate city --prometheus-url` against Debian's Prometheus holding ``series`` backfilled; plan.json,
    with what the command said under ``"output"``."""
    tsdb = backfill(tmp_path, openmetrics(sc.ts, series))
    config = {"global": {"scrape_interval": "1m"}, "scrape_configs": []}
    with serving(tmp_path, tsdb, config, tmp_path / "prometheus.log") as (_, url):
        args = ["migrate", "city", str(YULIN), "--out", str(tmp_path / "plan"), "--prometheus-url", url]
        result = CliRunner().invoke(app, [*args, "--calendar", str(CALENDAR), *extra])
    assert result.exit_code == 0, result.output
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    return cast("dict[str, Any]", {**plan, "output": result.output})


@pytest.mark.prometheus
@pytest.mark.slow
@pytest.mark.skipif(MISSING, reason=MISSING_REASON)
def test_the_plan_from_a_real_prometheus_relieves_the_pool(yulin: Declaration, tmp_path: Path) -> None:
    """kubelet volume stats of a dozen candidates and ceph-mgr's pool stats, backfilled into Debian's Prometheus up
    to now: `migrate city --prometheus-url` reads them with the exporter's default selectors and plans the relief."""
    now = int(time.time()) // STEP * STEP
    big = sorted(_candidates(yulin), key=lambda c: -c[1])
    measured = {code for code, _ in big[1:13]}
    sc = scenario(yulin, now, measured=measured)
    plan = _plan_from_prometheus(tmp_path, sc, _kubelet_and_ceph(sc))
    forecast = plan["forecast"]
    assert forecast["pools"]["phase1-ceph"]["series"] == ["ceph_pool:yl-gov-ceph/phase1-ceph"]
    assert set(forecast["systems"]) == measured
    assert forecast["systems"][min(measured)]["series"] == [f"pvc:{min(measured)}/data"]
    moved = {code for code, pool in plan["assignments"].items() if pool}
    assert moved, "the pool grows past 90 % within the quarter: something must move"
    assert moved <= measured, moved
    assert sc.pool_truth_gib - sum(sc.truth_gib[c] for c in moved) <= 0.90 * PHASE1_GIB


@pytest.mark.prometheus
@pytest.mark.slow
@pytest.mark.skipif(MISSING, reason=MISSING_REASON)
def test_a_claim_no_pod_mounts_now_is_copied_by_its_system_s_wave(yulin: Declaration, tmp_path: Path) -> None:
    """Each measured candidate also has a claim `loader` that its nightly loader last mounted 3 days ago: kubelet's
    samples of it stop then, kube-state-metrics lists it to now. Planned from that Prometheus, every moved system's
    wave copies its loader claim too (at its last size, said idle in the header, PLAN.md and plan.json)."""
    now = int(time.time()) // STEP * STEP
    big = sorted(_candidates(yulin), key=lambda c: -c[1])
    measured = {code for code, _ in big[1:13]}
    sc = scenario(yulin, now, measured=measured)
    plan = _plan_from_prometheus(tmp_path, sc, _with_idle_loaders(sc, now))
    for k, wave in enumerate(plan["waves"], start=1):
        text = (tmp_path / "plan" / f"wave-{k:02d}" / "data-copies.yml").read_text(encoding="utf-8")
        names = [c["name"] for c in yaml.safe_load(text)["data_migration_copies"]]
        moved = [entry["system"] for entry in wave]
        assert names == [f"{code}-{claim}" for code in moved for claim in ("data", "loader")], f"wave {k}: {names}"
        said = " ".join(line.removeprefix("# ") for line in text.splitlines() if line.startswith("#"))
        assert f"copied all the same: {', '.join(f'{code}-loader' for code in moved)}." in said, said
    systems = plan["forecast"]["systems"]
    assert systems[min(measured)]["idle_series"] == [f"pvc:{min(measured)}/loader"], systems[min(measured)]
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    assert "- Idle at planning time (no recent usage sample: no pod mounted them)" in markdown
    assert f"`pvc:{min(measured)}/loader`" in markdown


@pytest.mark.prometheus
@pytest.mark.slow
@pytest.mark.skipif(MISSING, reason=MISSING_REASON)
def test_a_failed_exists_query_is_said_where_the_operator_looks(yulin: Declaration, tmp_path: Path) -> None:
    """The same idle loader claims, read with a claims selector whose `exists` query Prometheus accepts (at start-up,
    with no data) but fails on the data (a join matching many claims to many): the plan is still made (exit 0), but
    the console, PLAN.md, plan.json and every wave's data-copies.yml say that idle claims could not be read and must
    be checked by hand, since no wave copies them."""
    now = int(time.time()) // STEP * STEP
    big = sorted(_candidates(yulin), key=lambda c: -c[1])
    measured = {code for code, _ in big[1:13]}
    sc = scenario(yulin, now, measured=measured)
    selectors = {s.kind: s for s in DEFAULT_SELECTORS}
    # Two claims per namespace on each side: Prometheus answers 'many-to-many matching not allowed'.
    failing = "kube_persistentvolumeclaim_info * on (namespace) group_left () kube_persistentvolumeclaim_info"
    config = {
        "selectors": [
            selectors["pvc"].model_copy(update={"exists": failing}).model_dump(mode="json", exclude_none=True),
            selectors["ceph_pool"].model_dump(mode="json", exclude_none=True),
        ]
    }
    (tmp_path / "sources.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    plan = _plan_from_prometheus(tmp_path, sc, _with_idle_loaders(sc, now), "--config", str(tmp_path / "sources.yaml"))
    output = " ".join(plan["output"].split())
    assert "warning: idle claims could not be read: check by hand." in output, output
    assert "many-to-many matching not allowed" in output, output
    assert plan["forecast"]["systems"][min(measured)]["idle_series"] == [], "the loader claims were not known"
    assert list(plan["forecast"]["exists_unread"]) == ["pvc"], plan["forecast"]
    # First and once; what follows is each wave longer than a maintenance window.
    unread = [
        k for k, w in enumerate(plan["warnings"]) if w.split(".")[0] == "idle claims could not be read: check by hand"
    ]
    assert unread == [0], plan["warnings"]
    assert all(w.startswith("Wave ") for w in plan["warnings"][1:]), plan["warnings"]
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    assert "- **Warning: idle claims could not be read: check by hand.** Prometheus failed the `exists` query" in (
        markdown
    ), markdown[:3000]
    assert plan["waves"], "something moves"
    for k in range(1, len(plan["waves"]) + 1):
        text = (tmp_path / "plan" / f"wave-{k:02d}" / "data-copies.yml").read_text(encoding="utf-8")
        said = " ".join(line.removeprefix("# ") for line in text.splitlines() if line.startswith("#"))
        assert "WARNING: idle claims could not be read: check by hand." in said, f"wave {k}: {said}"
        assert f"wave-{k:02d}/data-copies-added.yml" in said, f"wave {k}: {said}"


def test_a_blip_of_the_last_hours_is_not_carried_on_for_a_quarter(yulin: Declaration, tmp_path: Path) -> None:
    """gjj-03 writes 1 TiB more over the last 6 hours, once: its projection stays within its volume's size (it frees
    no more than that by moving), and the plan still holds the truth."""
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", blip=("gjj-03", 1024.0))
    code, output = _plan(usage.csv, tmp_path / "plan")
    assert code == 0, output
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    gjj = plan["forecast"]["systems"]["gjj-03"]
    assert gjj["median_bytes"] <= usage.truth_gib["gjj-03"] * GIB * 1.2, gjj["median_bytes"] / GIB
    moved = {c for c, pool in plan["assignments"].items() if pool}
    assert usage.pool_truth_gib - sum(usage.truth_gib[c] for c in moved) <= 0.90 * PHASE1_GIB


def test_series_are_projected_to_one_day_and_a_stale_one_is_refused(yulin: Declaration, tmp_path: Path) -> None:
    """A pool series ending 20 hours before the volumes is projected one day further; one ending two days before
    is refused, named (exit 2, nothing written)."""
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", pool_lag=20 * 3600)
    code, output = _plan(usage.csv, tmp_path / "plan")
    assert code == 0, output
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["forecast"]["asof"] == ASOF
    moved = {c for c, pool in plan["assignments"].items() if pool}
    assert usage.pool_truth_gib - sum(usage.truth_gib[c] for c in moved) <= 0.90 * PHASE1_GIB
    stale = write_usage(yulin, tmp_path / "stale.csv.gz", pool_lag=2 * DAY)
    code, output = _plan(stale.csv, tmp_path / "plan-stale")
    assert code == 2, output
    assert "1 usage series end more than a day before the newest sample" in " ".join(output.split())
    assert "phase1-ceph" in output
    assert not (tmp_path / "plan-stale").exists()


def test_a_history_that_measures_nothing_of_the_migration_is_refused(tmp_path: Path) -> None:
    """A history with neither the pool nor a candidate is no forecast: exit 2 saying what was expected."""
    csv = tmp_path / "other.csv"
    csv.write_text("series,timestamp,used_bytes,capacity_bytes\nfoo/bar,1741600800,1,10\nfoo/bar,1741601700,2,10\n")
    code, output = _plan(csv, tmp_path / "plan")
    assert code == 2, output
    assert "none of the 1 usage series measures 'phase1-ceph' or a candidate's volume" in " ".join(output.split())
    assert not (tmp_path / "plan").exists()


@pytest.mark.filterwarnings("ignore::dizuo.capacity.calendar_cn.CalendarNotCoveredWarning")
def test_a_projection_the_planner_cannot_hold_names_its_series(yulin: Declaration) -> None:
    """Ten years ahead of a volume that doubles every few days: an error naming the series, not a traceback."""
    m = yulin.city.migration
    assert m is not None
    decade = yulin.model_copy(
        update={"city": yulin.city.model_copy(update={"migration": m.model_copy(update={"horizon_days": 3650})})}
    )
    ts = np.arange(ASOF - 28 * DAY + STEP, ASOF + 1, STEP, dtype=np.int64)
    used = GIB * np.exp((ts - ts[0]) / (4 * DAY))
    code = _candidates(yulin)[0][0]
    labels = {"kind": "pvc", "volume": f"{code}/data", "pool": "phase1-ceph", "department": "", "system": code}
    history = UsageHistory(f"pvc:{code}/data", ts, used, np.full(ts.size, 10.0**18), labels)
    with pytest.raises(OutlookError, match=rf"series 'pvc:{code}/data': projected .* bytes \d+ days ahead"):
        usage_outlook(decade, [history], load_calendar_option(CALENDAR))


def test_a_calendar_year_the_forecaster_lacks_is_said_once(yulin: Declaration, tmp_path: Path) -> None:
    """As of 2099-12-01 a quarter ahead reaches 2100, which neither chinesecalendar nor the calendar file knows:
    the projection and the pool's fill date both read it, the warning is given once."""
    asof = int(datetime(2099, 12, 1, 10, tzinfo=UTC).timestamp())
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", asof=asof)
    code, output = _plan(usage.csv, tmp_path / "plan")
    assert code == 0, output
    shown = " ".join(output.split())
    assert shown.count("the working calendar does not know") == 1, output
    assert "does not know 2099, 2100 yet" in shown


def test_the_exporter_s_calendar_in_the_environment_asks_for_no_forecast(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DIZUO_CALENDAR (the exporter's) leaves `migrate city` planning in allocations; --calendar alone is refused."""
    monkeypatch.setenv("DIZUO_CALENDAR", str(CALENDAR))
    result = CliRunner().invoke(app, ["migrate", "city", str(YULIN), "--out", str(tmp_path / "plan")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))["sizes"] == "allocations"
    monkeypatch.delenv("DIZUO_CALENDAR")
    args = ["migrate", "city", str(YULIN), "--out", str(tmp_path / "other"), "--calendar", str(CALENDAR)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "give exactly one of --prometheus-url URL or --csv FILE" in " ".join(result.output.split())


@pytest.mark.parametrize(("target_gib", "verdict"), [(150_000, "within"), (370_000, "**past**")])
def test_plan_md_says_whether_the_target_pool_holds_the_moves_in_usage(
    yulin: Declaration, tmp_path: Path, target_gib: float, verdict: str
) -> None:
    """xc-ceph is planned in quotas; measured, PLAN.md adds its p90 and what the moves bring, against its fill target:
    within at 150,000 GiB used, past at 370,000 (its fill target is 376,012 GiB)."""
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", target_gib=target_gib)
    code, output = _plan(usage.csv, tmp_path / "plan")
    assert code == 0, output
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    arriving = sum(plan["forecast"]["systems"][c]["median_bytes"] for c, pool in plan["assignments"].items() if pool)
    assert arriving > 6_012 * GIB, "the moves bring more than the room left at 370,000 GiB (the premise)"
    (line,) = [
        x for x in (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8").splitlines() if "in usage at" in x
    ]
    assert line.startswith(f"- `xc-ceph` in usage at the horizon: its p90 {target_gib / 1024:,.1f} TiB"), line
    assert f", {verdict} its 90% fill target (367.2 TiB)" in line, line


def test_plan_md_s_target_usage_line_adds_up(yulin: Declaration, tmp_path: Path) -> None:
    """xc-ceph's p90 (1,464.49 tenths of a TiB) and what the moves bring (765.01 tenths) round down apart but not
    together: PLAN.md's usage line shows the p90 as its forecast table does, what the moves bring as its moves line
    does, and their sum, within a tenth of a TiB of the exact bytes."""
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", target_gib=149_963.8)
    code, output = _plan(usage.csv, tmp_path / "plan")
    assert code == 0, output
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    p90, arriving = plan["forecast"]["pools"]["xc-ceph"]["p90_bytes"], plan["copy_bytes"]
    apart = round(p90 * 10 / TIB) + round(arriving * 10 / TIB)
    assert apart != round((p90 + arriving) * 10 / TIB), "the premise: the parts rounded apart miss the sum by 0.1"
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    (line,) = [x for x in markdown.splitlines() if "in usage at" in x]
    shown = re.search(r"its p90 ([\d,.]+) TiB and the ([\d,.]+) TiB the moves bring, ([\d,.]+) TiB", line)
    assert shown is not None, line
    p90_tenths, arriving_tenths, after_tenths = (round(float(x.replace(",", "")) * 10) for x in shown.groups())
    assert p90_tenths + arriving_tenths == after_tenths, f"the parts do not add up to the sum shown: {line}"
    assert abs(after_tenths - (p90 + arriving) * 10 / TIB) <= 1, line
    assert f"| `xc-ceph` | {shown[1]} | {shown[1]} | {shown[1]} |" in markdown, "the forecast table's p90 (flat)"
    assert f"- Moves: {len([c for c in plan['assignments'].values() if c])} systems, {shown[2]} TiB copied" in markdown


def test_an_unmeasured_system_moved_with_its_group_is_copied_at_its_allocation(
    yulin: Declaration, tmp_path: Path
) -> None:
    """zrzy-04 has no volume series: it frees nothing the relief counts on, but its wave copies its volumes (33,750 GiB
    allocated). Moved with its group partner zrzy-01 (~31,500 GiB measured), the two do not fit one 40 TiB window: they
    take two waves, and the wave, the moves and xc-ceph's usage line count zrzy-04 at its allocation, not at 0."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    text = (city / "city.yaml").read_text(encoding="utf-8")
    (city / "city.yaml").write_text(text.replace("wave_gib: 20480", "wave_gib: 40960"), encoding="utf-8")
    text = (city / "systems.yaml").read_text(encoding="utf-8")
    for code, budget in (("zrzy-01", 590000), ("zrzy-04", 1010000)):  # cheap: the group is the cheapest relief
        head = f"- code: {code}\n"
        entry = text[text.index(head) : text.index("\n- code: ", text.index(head) + 1)]
        moved = entry.replace(head, f"{head}  move_group: gis\n").replace(f"budget_cny: {budget}", "budget_cny: 5900")
        text = text.replace(entry, moved)
    (city / "systems.yaml").write_text(text, encoding="utf-8")
    measured = {code for code, _ in _candidates(yulin)} - {"zrzy-04"}
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", measured=measured, target_gib=150_000)
    args = ["--csv", str(usage.csv), "--calendar", str(CALENDAR)]
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(tmp_path / "plan"), *args])
    assert result.exit_code == 0, result.output
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    assert plan["assignments"]["zrzy-01"] == plan["assignments"]["zrzy-04"] is not None, "the group moves (premise)"
    copies = {entry["system"]: (k, entry) for k, wave in enumerate(plan["waves"], start=1) for entry in wave}
    assert copies["zrzy-01"][0] != copies["zrzy-04"][0], "31,500 + 33,750 GiB do not fit one 40 TiB window"
    assert copies["zrzy-04"][1]["bytes"] == 0, "it frees nothing the relief counts on"
    assert copies["zrzy-04"][1]["copy_bytes"] == 33_750 * GIB, "its wave copies its allocation"
    assert plan["copy_bytes"] - plan["freed_bytes"] == 33_750 * GIB, "plan.json's totals: copied, not counted freed"
    assert plan["wave_freed_bytes"][copies["zrzy-04"][0] - 1] == 0, "its wave frees nothing the relief counts on"
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    assert f"## Wave {copies['zrzy-04'][0]}: 1 system(s), 33.0 TiB" in markdown
    copied = sum(entry["copy_bytes"] for _, entry in copies.values())
    assert f"the {copied / TIB:,.1f} TiB the moves bring" in markdown
    assert f"- Moves: {len(copies)} systems, {copied / TIB:,.1f} TiB copied, " in markdown
    assessment = markdown[markdown.index("## Assessment") :]
    assert "| 0.0 (33.0) |" in next(line for line in assessment.splitlines() if line.startswith("| zrzy-04 ")), (
        "the assessment shows what it frees and, apart, what it copies"
    )
    summary = " ".join(result.output.split())
    assert f"bytes copied │ {copied / TIB:,.1f} TiB" in summary, "the command's summary counts it copied too"


def test_the_plan_states_its_deadline_and_no_cadence_plainly(forecast_plan: tuple[Path, Usage]) -> None:
    """A forecast plan is due before the early (p10) date phase1-ceph passes its fill target: PLAN.md and plan.json
    say so; Yulin declares no wave cadence, and PLAN.md says that rather than guess one."""
    out, _ = forecast_plan
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    fill = plan["forecast"]["pools"]["phase1-ceph"]["past_fill_target_p10"]
    assert fill is not None, "the pool passes its fill target within the horizon (the premise)"
    deadline = plan["deadline"]
    assert deadline == {
        "pool": "phase1-ceph",
        "at": fill,
        "waves": len(plan["waves"]),
        "wave_interval_days": None,
        "last_wave_at": None,
        "late": None,
    }
    markdown = (out / "PLAN.md").read_text(encoding="utf-8")
    day = datetime.fromtimestamp(fill, UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert f"- Deadline: {day}, the early (p10) date `phase1-ceph` passes its fill target: the " in markdown
    assert "- No wave cadence is declared (city.yaml `migration.wave_interval_days`)" in markdown


@pytest.mark.parametrize(("every", "late"), [(1, False), (60, True)])
def test_waves_that_cannot_end_before_the_pool_fills_are_a_warning(
    yulin: Declaration, tmp_path: Path, every: int, late: bool
) -> None:
    """With a window every 60 days the waves end long after phase1-ceph passes its fill target (about three weeks
    after the forecast's date): PLAN.md, the command and plan.json's warnings (which tools read) say so, the last
    two in the same words, once; a window a day ends in time, and says so."""
    city = tmp_path / "yulin"
    shutil.copytree(YULIN, city)
    text = (city / "city.yaml").read_text(encoding="utf-8")
    text = text.replace("  wave_gib: 20480\n", f"  wave_gib: 20480\n  wave_interval_days: {every}\n")
    (city / "city.yaml").write_text(text, encoding="utf-8")
    usage = write_usage(yulin, tmp_path / "usage.csv.gz")
    args = ["--csv", str(usage.csv), "--calendar", str(CALENDAR)]
    result = CliRunner().invoke(app, ["migrate", "city", str(city), "--out", str(tmp_path / "plan"), *args])
    assert result.exit_code == 0, result.output
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    deadline = plan["deadline"]
    assert len(plan["waves"]) >= 2, "several waves (the premise)"
    assert deadline["last_wave_at"] == ASOF + (len(plan["waves"]) - 1) * every * DAY
    assert deadline["late"] is late
    markdown = (tmp_path / "plan" / "PLAN.md").read_text(encoding="utf-8")
    output = " ".join(result.output.split())
    lateness = [warning for warning in plan["warnings"] if warning.startswith("Late: ")]
    if late:
        assert "- **Late**: at one wave every 60 days from " in markdown
        day = datetime.fromtimestamp(deadline["at"], UTC).strftime("%Y-%m-%d %H:%M UTC")
        assert len(lateness) == 1, plan["warnings"]
        assert lateness[0].startswith("Late: at one wave every 60 days from "), lateness
        assert f" days after the deadline ({day}): the " in lateness[0], lateness
        assert "cannot finish before phase1-ceph passes its fill target" in lateness[0], lateness
        assert output.count(f"warning: {lateness[0]}") == 1, output
        assert output.count("Late:") == 1, output
    else:
        assert lateness == [], plan["warnings"]
        assert "- In time: at one wave every 1 day from " in markdown
        # The only warnings are of waves longer than a maintenance window (each of Yulin's is): none is of lateness.
        assert set(re.findall(r"warning: (\w+)", output)) <= {"Wave"}, output


def test_a_pool_series_whose_capacity_is_not_the_declared_one_is_refused(tmp_path: Path) -> None:
    """A CSV of phase1-ceph in GiB rather than bytes (capacity 1,622,016 'bytes', the declared 1,622,016 GiB): its
    usage would read as a nearly empty pool and the plan as "nothing to move"; refused naming series and key."""
    csv = tmp_path / "gib.csv"
    csv.write_text(
        "series,timestamp,used_bytes,capacity_bytes\n"
        + "".join(f"phase1-ceph,{1741600800 + 86400 * d},{1_557_135 + d},{PHASE1_GIB}\n" for d in range(30))
    )
    code, output = _plan(csv, tmp_path / "plan")
    assert code == 2, output
    said = " ".join(output.split())
    assert "series 'phase1-ceph': capacity 1.5 MiB at its newest sample" in said, said
    assert "clusters.yaml declares phase1-ceph's capacity_gib: 1622016" in said, said
    assert not (tmp_path / "plan").exists()


def test_every_volume_the_forecast_measured_gets_its_own_data_copy(yulin: Declaration, tmp_path: Path) -> None:
    """Planned from the forecast, a moved system with three volumes gets three entries in its wave's data-copies.yml
    (<system>-<volume>, named as the role takes them, unique), so no volume is left for the operator to add; the
    header names the systems whose volumes the forecast measured, and check-wave still takes the wave."""
    usage = write_usage(yulin, tmp_path / "usage.csv.gz", more_claims=("logs", "归档 2026"))
    code, output = _plan(usage.csv, tmp_path / "plan")
    assert code == 0, output
    plan = json.loads((tmp_path / "plan" / "plan.json").read_text(encoding="utf-8"))
    series = plan["forecast"]["systems"]
    names: list[str] = []
    for k, wave in enumerate(plan["waves"], start=1):
        text = (tmp_path / "plan" / f"wave-{k:02d}" / "data-copies.yml").read_text(encoding="utf-8")
        copies = yaml.safe_load(text)["data_migration_copies"]
        moved = [entry["system"] for entry in wave]
        assert len(copies) == 3 * len(moved), f"wave {k}: one copy per measured volume, not per system"
        for system in moved:
            assert len(series[system]["series"]) == 3, system
            mine = [c for c in copies if c["name"].startswith(f"{system}-")]
            assert [c["name"] for c in mine[:2]] == [f"{system}-data", f"{system}-logs"], mine
            assert re.fullmatch(rf"{system}-2026-[0-9a-f]{{10}}", mine[2]["name"]), "sanitised, with its digest"
            for copy in mine:
                assert copy["source"] == f"/mnt/dizuo-migration/phase1-ceph/{copy['name']}"
                assert copy["destination"] == f"/mnt/dizuo-migration/xc-ceph/{copy['name']}"
        assert f"measured on phase1-ceph: {', '.join(moved)}." in " ".join(
            line.removeprefix("# ") for line in text.splitlines()
        )
        assert "assumed one" not in text
        assert "# A claim of theirs in no usage series read (nor listed as existing by kube-state-metrics)" in text, (
            "the header says what the forecast cannot know"
        )
        names += [c["name"] for c in copies]
    assert all(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name) for name in names), "the role's name pattern"
    assert len(names) == len(set(names)), "a copy's evidence is kept by its name: no two alike in the plan"
    checked = CliRunner().invoke(app, ["migrate", "check-wave", str(tmp_path / "plan"), "1", str(YULIN)])
    assert checked.exit_code == 0, checked.output


def test_copy_names_stay_unique_where_claims_collide_or_are_empty(yulin: Declaration) -> None:
    """One claim name in two clusters, or a claim empty of what the role takes, still gives each volume its own
    copy name (a digest of its series), stable from plan to plan; a system not measured stays one copy, its code."""
    measured = {
        "slj-01": ("pvc:gov-a/slj-01/data", "pvc:gov-b/slj-01/data"),
        "jb-01": ("pvc:jb-01/归档",),
    }
    projected = {
        code: Projected(GIB, GIB, GIB, series, tuple(s.partition(":")[2] for s in series))
        for code, series in measured.items()
    }
    city = build_instance(yulin, UsageOutlook(ASOF, HORIZON, projected, {}))
    names = copy_names(city)
    assert names == copy_names(build_instance(yulin, UsageOutlook(ASOF, HORIZON, projected, {}))), "stable"
    gov_a, gov_b = (names["slj-01"][s] for s in measured["slj-01"])
    assert gov_a != gov_b
    assert re.fullmatch(r"slj-01-data-[0-9a-f]{10}", gov_a), gov_a
    assert re.fullmatch(r"jb-01-[0-9a-f]{10}", names["jb-01"]["pvc:jb-01/归档"])
    unmeasured = next(s.code for s in city.candidates if s.code not in measured)
    assert names[unmeasured] == {"": unmeasured}


def test_a_measured_volume_of_a_system_allocated_no_storage_is_still_copied(yulin: Declaration) -> None:
    """A system declared storage_gib 0 whose volume the forecast measured on the legacy pool holds data: its wave
    copies that volume rather than naming the system as having none to copy."""
    systems = [
        s.model_copy(update={"resources": s.resources.model_copy(update={"storage_gib": 0})})
        if s.code == "jb-01"
        else s
        for s in yulin.systems
    ]
    declaration = yulin.model_copy(update={"systems": tuple(systems)})
    series = ("pvc:jb-01/data",)
    outlook = UsageOutlook(ASOF, HORIZON, {"jb-01": Projected(GIB, GIB, GIB, series, ("jb-01/data",))}, {})
    city = build_instance(declaration, outlook)
    target = next(p for p, c in next(s for s in city.instance.systems if s.id == "jb-01").cost.items() if c is not None)
    text = data_copies(city, [change_of(city, "jb-01", target)], "wave-01")
    copies = yaml.safe_load(text)["data_migration_copies"]
    assert [c["name"] for c in copies] == ["jb-01-data"], text
    assert "not listed" not in text
