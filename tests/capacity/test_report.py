"""`dizuo capacity report`: allocation vs usage vs forecast per department and pool, charts, HTML."""

from __future__ import annotations

import html
import io
import os
import re
import socket
import subprocess
import sys
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from prometheus_client.registry import CollectorRegistry
from rich.console import Console
from typer.testing import CliRunner

from dizuo.capacity.collector import GIB, CapacityCollector, Snapshot, allocations
from dizuo.capacity.csvio import read_usage_csv
from dizuo.capacity.exporter import default_forecaster
from dizuo.capacity.prometheus_source import Ownership
from dizuo.capacity.report import POOL_COLUMNS, Report, build_report, label_from_declaration, tables, write_report
from dizuo.capacity.types import Forecast, UsageHistory
from dizuo.cli import app
from dizuo.declaration import load
from dizuo.declaration.model import Declaration
from dizuo.exit_codes import BAD_INPUT, FAILED

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_717_200_000  # a multiple of 900
DAY = 86400
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def declaration():
    return load(ROOT / "inventories" / "yulin")


def usage_csv(path: Path) -> Path:
    """14 days at 15 min: a PVC full in ~36 h, a daily-rotation PVC, a flat Ceph pool (ids from the declaration)."""
    ts = np.arange(NOW - 14 * DAY, NOW + 1, 900, dtype=np.int64)
    full_at = NOW + 36 * 3600
    series = {
        "gaj-01/logs": ((10 + 20 * ((ts + 8 * 3600) % DAY) / DAY) * GIB, 50 * GIB),
        "phase1-ceph": (np.full(ts.size, 600.0 * 2**40), 1000 * 2**40),
        "sjj-tyrz/data": (100 * GIB - (full_at - ts) * (70 * GIB / (full_at - ts[0])), 100 * GIB),
    }
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    for name, (used, capacity) in series.items():
        lines += [f"{name},{t},{u:.0f},{capacity}" for t, u in zip(ts, used, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_report_from_csv_writes_charts_for_the_volumes_at_risk(tmp_path):
    """From a CSV, the report charts exactly the filling volume and links it from index.html."""
    out = tmp_path / "report"
    args = ["capacity", "report", "--csv", str(usage_csv(tmp_path / "usage.csv")), "--out", str(out)]
    args += ["--calendar", str(ROOT / "monitoring" / "working-calendar.yaml")]
    previous = os.umask(0o022)
    try:
        result = CliRunner().invoke(app, [*args, "--declaration", str(ROOT / "inventories" / "yulin")])
    finally:
        os.umask(previous)
    assert result.exit_code == 0, result.output
    # To be shared (a web server, a colleague): the plain mode of the umask, not a temporary file's 0600.
    assert {oct(p.stat().st_mode & 0o777) for p in out.iterdir()} == {"0o644"}
    charts = sorted(p.name for p in out.glob("*.png"))
    assert len(charts) == 2, f"charts written: {charts}"
    assert charts[0] == "allocation.png", f"charts written: {charts}"
    assert re.fullmatch(r"sjj-tyrz_data-[0-9a-f]{8}\.png", charts[1]), f"charts written: {charts}"
    for name in charts:
        assert (out / name).read_bytes().startswith(PNG_MAGIC), f"{name} is not a PNG"
        assert (out / name).stat().st_size > 10_000, f"{name} is suspiciously small"
    page = (out / "index.html").read_text()
    for name in charts:
        assert f'src="{name}"' in page, f"index.html does not embed {name}"
    assert "榆林市政务服务数据管理局" in page, "the department's name from the declaration is shown"
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "no temporary file is left behind"
    assert "sjj-tyrz/data" in result.output, "the volume at risk is listed in the terminal table"


def filling_csv(path: Path, count: int) -> Path:
    """``count`` volumes that fill in 36 h, all at risk."""
    ts = np.arange(NOW - 14 * DAY, NOW + 1, 900)
    used = 100 * GIB - (NOW + 36 * 3600 - ts) * (70 * GIB / (NOW + 36 * 3600 - ts[0]))
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    for i in range(count):
        lines += [f"pvc:sjj/v{i},{t},{u:.0f},{100 * GIB}" for t, u in zip(ts, used, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_report_names_a_folder_with_square_brackets_as_it_is(tmp_path):
    """A report written under a folder named `[x]` says the page it wrote by its whole path: rich markup would read
    `[x]` as a tag and drop it, naming a page that is not there."""
    out = tmp_path / "[x]" / "report"
    args = ["capacity", "report", "--csv", str(usage_csv(tmp_path / "usage.csv")), "--out", str(out), "--charts", "0"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    assert f"wrote {out / 'index.html'}\n" in result.output, result.output


def test_a_new_report_replaces_the_previous_one_whole(tmp_path):
    """Five charts, then one into the same folder: the folder holds the new page, its one chart and the marker,
    no chart of the old report that the new page does not show."""
    usage = filling_csv(tmp_path / "usage.csv", 6)
    out = tmp_path / "report"
    for charts in (5, 1):
        args = ["capacity", "report", "--csv", str(usage), "--out", str(out), "--charts", str(charts)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        page = (out / "index.html").read_text(encoding="utf-8")
        shown = set(re.findall(r'<img src="([^"]+)"', page))
        assert len(shown) == charts, f"--charts {charts}: the page shows {sorted(shown)}"
        assert {p.name for p in out.iterdir()} == {"index.html", "dizuo-report.json", *shown}, (
            f"--charts {charts}: the folder holds more than the report it has: {sorted(p.name for p in out.iterdir())}"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "usage.csv"], "no staging folder is left"


TERMINATED_MIDWAY = """
import os, signal, sys
import dizuo.capacity.report as report
drawn = report.volume_chart

def chart_then_sigterm(volume, path, *args):
    drawn(volume, path, *args)
    os.kill(os.getpid(), signal.SIGTERM)  # a CI job cancelled while the charts are drawn

report.volume_chart = chart_then_sigterm
sys.argv = ["dizuo", "capacity", "report", "--csv", sys.argv[1], "--out", sys.argv[2]]
from dizuo.entry import run
run()
"""


def test_a_report_terminated_midway_leaves_the_previous_one_and_no_staging(tmp_path):
    """SIGTERM (a cancelled CI job, `timeout`) while the charts are drawn ends the run as Ctrl-C would: exit 143, the
    previous report as it was and said to be, and no half-drawn staging folder beside it (Python's default would just
    die)."""
    csv = usage_csv(tmp_path / "usage.csv")
    out = tmp_path / "report"
    assert CliRunner().invoke(app, ["capacity", "report", "--csv", str(csv), "--out", str(out)]).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    done = subprocess.run(
        [sys.executable, "-c", TERMINATED_MIDWAY, str(csv), str(out)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 143, done.stderr[-2000:]
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "usage.csv"], "no staging folder left"
    said = " ".join(done.stderr.split())  # rich wraps a long line at 80 columns in a pipe
    assert f"interrupted: the previous report in {out} is left unchanged" in said, done.stderr[-2000:]
    assert "Traceback" not in done.stderr, done.stderr[-2000:]


def test_out_through_a_link_is_checked_and_written_where_the_system_resolves_it(tmp_path, monkeypatch):
    """`--out link/../victim` is victim beside the link's target (as the kernel resolves it): the report goes there,
    and the folder named victim beside the link, holding a user's files, is never touched."""
    (tmp_path / "elsewhere" / "sub").mkdir(parents=True)
    work = tmp_path / "work"
    (work / "victim").mkdir(parents=True)
    (work / "victim" / "thesis.txt").write_text("mine", encoding="utf-8")
    (work / "victim" / "index.html").write_text("precious", encoding="utf-8")
    (work / "link").symlink_to(tmp_path / "elsewhere" / "sub")
    monkeypatch.chdir(work)
    args = ["capacity", "report", "--csv", str(usage_csv(tmp_path / "usage.csv")), "--out", "link/../victim"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (work / "victim").iterdir()) == ["index.html", "thesis.txt"]
    assert (work / "victim" / "index.html").read_text(encoding="utf-8") == "precious"
    assert (tmp_path / "elsewhere" / "victim" / "index.html").is_file()
    assert str(tmp_path / "elsewhere" / "victim") in "".join(result.output.split()), "it says where it wrote"


@pytest.mark.parametrize(
    ("content", "replaced"),
    [
        ({"notes.txt": "mine"}, False),
        ({"index.html": "<html>someone else's page</html>", "logo.png": "x"}, False),
        # A report of a dizuo from before the marker: its page and the charts it shows, nothing else.
        (
            {
                "index.html": '<html><head><title>dizuo capacity report</title></head><img src="old.png"></html>',
                "old.png": "x",
            },
            True,
        ),
        # ... but a picture beside it the page does not show is someone else's.
        (
            {
                "index.html": '<html><head><title>dizuo capacity report</title></head><img src="old.png"></html>',
                "old.png": "x",
                "architecture-diagram.png": "y",
            },
            False,
        ),
        # A previous report someone added a file to: that file would be lost.
        ({"dizuo-report.json": '{"written_by": "dizuo capacity report", "files": ["index.html"]}', "x.txt": ""}, False),
    ],
)
def test_a_folder_holding_anything_but_a_report_is_refused(tmp_path, content, replaced):
    """The report replaces its folder whole: one holding files no report wrote is refused (exit 2, named, kept)."""
    out = tmp_path / "report"
    out.mkdir()
    for name, text in content.items():
        (out / name).write_text(text, encoding="utf-8")
    args = ["capacity", "report", "--csv", str(usage_csv(tmp_path / "usage.csv")), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    if replaced:
        assert result.exit_code == 0, result.output
        assert "old.png" not in {p.name for p in out.iterdir()}, "the old report's chart is gone with it"
        return
    assert result.exit_code == BAD_INPUT, result.output
    message = " ".join(result.output.split())
    assert f"--out {out}: holds" in message, message
    assert "which no dizuo capacity report wrote" in message, message
    assert {p.name: p.read_text(encoding="utf-8") for p in out.iterdir()} == content, "the folder is left as it was"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "usage.csv"], "no staging folder is left"


def test_names_are_shown_whole_and_each_volume_gets_its_own_chart(tmp_path):
    """Names come from mount points and pool names: brackets are printed as they are, not read as terminal markup,
    and two names that differ only where a file name cannot hold the character get two charts."""
    now = 1_717_200_000
    ts = np.arange(now - 14 * 86400, now + 1, 900)
    names = ["filesystem:node1:9100/mnt/[/backup]", "ceph_pool:rbd[ssd]", "pvc:sjj/a_b", "pvc:sjj/a b"]
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    for name in names:
        used = 100 * GIB - (now + 36 * 3600 - ts) * (70 * GIB / (now + 36 * 3600 - ts[0]))
        lines += [f"{name},{t},{u:.0f},{100 * GIB}" for t, u in zip(ts, used, strict=True)]
    usage = tmp_path / "usage.csv"
    usage.write_text("\n".join(lines) + "\n")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["capacity", "report", "--csv", str(usage), "--out", str(out)])
    assert result.exit_code == 0, result.output
    for name in names:
        assert name in result.output, f"{name} is not printed whole:\n{result.output}"
    charts = sorted(p.name for p in out.glob("*.png"))
    assert len(charts) == len(names), f"charts written: {charts}"


def test_a_volume_with_a_long_chinese_name_gets_its_chart(tmp_path):
    """A mount point of many Chinese characters (three bytes each) gets a chart file name the file system takes
    (at most 255 bytes), not an error that leaves no report at all."""
    now = 1_717_200_000
    ts = np.arange(now - 14 * 86400, now + 1, 900)
    name = "filesystem:node1:9100/数据/" + "人口基础信息库" * 12
    used = 100 * GIB - (now + 36 * 3600 - ts) * (70 * GIB / (now + 36 * 3600 - ts[0]))
    usage = tmp_path / "usage.csv"
    lines = [
        "series,timestamp,used_bytes,capacity_bytes",
        *(f"{name},{t},{u:.0f},{100 * GIB}" for t, u in zip(ts, used, strict=True)),
    ]
    usage.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "report"
    result = CliRunner().invoke(app, ["capacity", "report", "--csv", str(usage), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (chart,) = out.glob("*_数据_人口*.png")
    assert len(chart.name.encode()) <= 255, chart.name


def test_figures_beside_a_long_volume_name_are_printed_whole_into_a_file(tmp_path):
    """Piped into a file or a CI log, a volume's figures stay whole however long its name (a deep mount point): the
    table is as wide as it needs, not squeezed to 160 columns with the size cut to "100…"."""
    now = 1_717_200_000
    ts = np.arange(now - 14 * 86400, now + 1, 900)
    name = "filesystem:yl-db-dm-01.yl.gov.cn:9100/var/lib/dmdbms/data/DAMENG/archive/standby/redo-logs/2026"
    used = 100 * GIB - (now + 36 * 3600 - ts) * (70 * GIB / (now + 36 * 3600 - ts[0]))
    usage = tmp_path / "usage.csv"
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    lines += [f"{name},{t},{u:.0f},{100 * GIB}" for t, u in zip(ts, used, strict=True)]
    usage.write_text("\n".join(lines) + "\n")
    result = CliRunner().invoke(app, ["capacity", "report", "--csv", str(usage), "--out", str(tmp_path / "report")])
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if name in line)
    for figure in ("93.2 GiB", "100.0 GiB", "93%", "+1.5 d", "2024-06-02 20:00"):
        assert figure in row, f"{figure} is not printed whole: {row}"


def test_department_and_pool_rows_join_quota_usage_and_forecast(tmp_path, declaration):
    """The filling PVC counts for department sjj against its quota; the rotating one is not at risk."""
    histories = label_from_declaration(
        read_usage_csv(usage_csv(tmp_path / "usage.csv")), Ownership.from_declaration(declaration)
    )
    report = build_report(histories, default_forecaster(histories), declaration)
    assert [v.forecast.series for v in report.at_risk] == ["sjj-tyrz/data"], "only the filling volume is at risk"
    sjj = next(g for g in report.departments if g.name == "sjj")
    assert sjj.allocated_bytes == declaration.department("sjj").quota.storage_gib * GIB
    assert (sjj.volumes, sjj.at_risk) == (1, 1), f"department sjj: {sjj}"
    assert sjj.earliest is not None
    assert sjj.earliest.forecast.series == "sjj-tyrz/data"
    assert report.departments[0].name == "sjj", "the department whose volume fills first is listed first"
    gaj = next(g for g in report.departments if g.name == "gaj")
    assert (gaj.volumes, gaj.at_risk, gaj.earliest) == (1, 0, None), f"department gaj: {gaj}"
    phase1 = next(g for g in report.pools if g.name == "phase1-ceph")
    # The pool's id without `ceph_pool:` is its own usage still: its PVC (gaj-01/logs) is inside it, not added on top.
    assert (phase1.volumes, phase1.capacity_bytes) == (1, 1000 * 2**40), f"pool phase1-ceph: {phase1}"


def forecast(series: str, used: float, capacity: float, labels: dict[str, str], at: int | None = None) -> Forecast:
    return Forecast(series, NOW, at, at, at, used, capacity, labels)


def history(series: str, labels: dict[str, str]) -> UsageHistory:
    ts = np.array([NOW - 900, NOW], dtype=np.int64)
    return UsageHistory(series, ts, np.ones(2), np.ones(2), labels)


def test_pool_usage_comes_from_the_pool_itself_not_its_volumes_added_up(declaration):
    """When a Ceph pool is measured directly, its PVCs are not added on top of it (no double counting)."""
    pool = {"kind": "ceph_pool", "volume": "xc-ceph", "pool": "xc-ceph", "department": "", "system": ""}
    pvc = {
        "kind": "pvc",
        "volume": "sjj-tyrz/data",
        "pool": "xc-ceph",
        "department": "sjj",
        "system": "sjj-tyrz",
    }
    forecasts = [
        forecast("ceph_pool:xc-ceph", 300.0, 400.0, pool),
        forecast("pvc:sjj-tyrz/data", 50.0, 80.0, pvc),
    ]
    histories = [history(f.series, f.labels) for f in forecasts]
    group = next(g for g in build_report(histories, forecasts, declaration).pools if g.name == "xc-ceph")
    assert (group.used_bytes, group.capacity_bytes) == (300.0, 400.0), f"pool xc-ceph: {group}"


def test_a_pool_row_counts_the_volumes_in_it_not_the_pool_s_own_series(declaration):
    """A Ceph pool measured directly with two claims in it reads 2 volumes, in the report and its terminal row, not 3
    (its own series is the pool's usage, not a volume of it); a pool seen only by its own series reads 0 volumes beside
    the usage it measures."""
    own = {"kind": "ceph_pool", "pool": "xc-ceph", "department": "", "system": ""}
    forecasts = [
        forecast("ceph_pool:xc-ceph", 300 * GIB, 400 * GIB, {**own, "volume": "xc-ceph"}),
        forecast("ceph_pool:phase1-ceph", 7 * GIB, 400 * GIB, {**own, "volume": "phase1-ceph", "pool": "phase1-ceph"}),
        *(
            forecast(
                f"pvc:{c}", 50 * GIB, 80 * GIB, {"kind": "pvc", "volume": c, "pool": "xc-ceph", "department": "sjj"}
            )
            for c in ("sjj-tyrz/data", "sjj-tyrz/logs")
        ),
    ]
    report = build_report([history(f.series, f.labels) for f in forecasts], forecasts, declaration)
    rows = {g.name: g for g in report.pools}
    assert (rows["xc-ceph"].volumes, rows["phase1-ceph"].volumes) == (2, 0), rows
    (pools,) = (t for t in tables(report) if t.title.startswith("Storage pools"))
    cells = [[c.strip() for c in line.split("│")[1:-1]] for line in _render(pools).splitlines() if "│" in line]
    printed = {row[0]: dict(zip(POOL_COLUMNS, row, strict=True)) for row in cells}
    assert printed["xc-ceph"]["volumes"] == "2", f"xc-ceph: {printed['xc-ceph']}"
    assert (printed["phase1-ceph"]["used"], printed["phase1-ceph"]["volumes"]) == ("7.0 GiB", "0"), printed


def test_two_ceph_clusters_pools_of_one_name_are_two_pool_rows(declaration):
    """Pool rbd of Ceph cluster dc1 and pool rbd of dc2 are two pools, each its own row with its own usage, not one
    row summing both; a pool name no other cluster shares keeps its row, and so does the one of a shared name whose
    cluster is the one the declaration declares it in (phase1-ceph in yl-gov), the other beside it."""
    pools = (
        ("dc1/rbd", "rbd", 300.0),
        ("dc2/rbd", "rbd", 100.0),
        ("dc1/xc-ceph", "xc-ceph", 5.0),
        ("yl-gov/phase1-ceph", "phase1-ceph", 7.0),
        ("dc2/phase1-ceph", "phase1-ceph", 9.0),
    )
    forecasts = [
        forecast(f"ceph_pool:{volume}", used, 400.0, {"kind": "ceph_pool", "volume": volume, "pool": pool})
        for volume, pool, used in pools
    ]
    report = build_report([history(f.series, f.labels) for f in forecasts], forecasts, declaration)
    used = {g.name: g.used_bytes for g in report.pools if g.measured}
    expected = {"dc1/rbd": 300.0, "dc2/rbd": 100.0, "xc-ceph": 5.0, "phase1-ceph": 7.0, "dc2/phase1-ceph": 9.0}
    assert used == expected, f"pool rows: {used}"


def _ceph_pools_report(declaration, pools):
    """A report of Ceph pools' own series, each (volume, used bytes), against ``declaration``."""
    forecasts = [
        forecast(
            f"ceph_pool:{volume}",
            used,
            400.0,
            {"kind": "ceph_pool", "volume": volume, "pool": volume.rpartition("/")[2]},
        )
        for volume, used in pools
    ]
    return build_report([history(f.series, f.labels) for f in forecasts], forecasts, declaration)


def test_a_declared_pool_takes_the_series_of_its_own_ceph_cluster_never_another_s(declaration):
    """Ceph series labelled by fsid (as cephadm's Prometheus does): the declared phase1-ceph row holds the series of
    its own Ceph cluster (its ceph_cluster_id), the other clusters' pools of that name beside it (one labelled after
    the Kubernetes cluster declaring it too: the fsid names the cluster, a name only may); xc-ceph, seen only in
    the Ceph cluster of yl-dmz, does not take that pool's usage as its own; a pool seen once, in a cluster the
    declaration does not name, keeps its row."""
    phase1, dmz = "0c8b5dea-7c82-5ea0-a053-3cfcf5247670", "9836d4ef-5a2f-519f-b1ce-7d85327731ee"
    pools = (
        (f"{phase1}/phase1-ceph", 300.0),
        (f"{dmz}/phase1-ceph", 100.0),
        ("yl-gov/phase1-ceph", 50.0),  # a Ceph cluster labelled after yl-gov: not the one its fsid names
        ("yl-dmz/xc-ceph", 5.0),
        ("dc1/dmz-ceph", 7.0),
    )
    report = _ceph_pools_report(declaration, pools)
    used = {g.name: g.used_bytes for g in report.pools if g.measured}
    expected = {
        "phase1-ceph": 300.0,
        f"{dmz}/phase1-ceph": 100.0,
        "yl-gov/phase1-ceph": 50.0,
        "yl-dmz/xc-ceph": 5.0,
        "dmz-ceph": 7.0,
    }
    assert used == expected, f"pool rows with usage: {used}"
    xc = next(g for g in report.pools if g.name == "xc-ceph")
    assert "yl-dmz/xc-ceph" in xc.note, f"xc-ceph does not say where its name was seen: {xc}"


def test_a_declared_pool_two_unknown_ceph_clusters_share_is_said_to_be_ambiguous(tmp_path, declaration):
    """datapool-ceph seen in Ceph clusters dc1 and dc2, neither the pool's (by fsid or Kubernetes cluster): neither
    series is put on the declared row, and the terminal and the page say which series it could be and the label that
    would tell them apart."""
    report = _ceph_pools_report(declaration, (("dc1/datapool-ceph", 300.0), ("dc2/datapool-ceph", 100.0)))
    rows = {g.name: g for g in report.pools}
    assert not rows["datapool-ceph"].measured, f"a guess: {rows['datapool-ceph']}"
    assert {rows["dc1/datapool-ceph"].used_bytes, rows["dc2/datapool-ceph"].used_bytes} == {300.0, 100.0}
    text = "\n".join(_render(table) for table in tables(report, limit=3))
    page = write_report(report, tmp_path / "report").read_text()
    for shown in (" ".join(text.split()), page):
        assert "datapool-ceph: not told which of dc1/datapool-ceph, dc2/datapool-ceph is its own" in shown, shown
        assert 'cluster="f4c7f28e-b0c8-56c6-b1e4-3f4fd4c8064b" or cluster="yl-gov"' in html.unescape(shown), shown


def test_terminal_tables_show_quota_and_time_left(declaration):
    """The department table shows the quota and the time left until the first volume fills."""
    labels = {
        "kind": "pvc",
        "volume": "sjj-tyrz/data",
        "pool": "xc-ceph",
        "department": "sjj",
        "system": "sjj-tyrz",
    }
    forecasts = [forecast("pvc:sjj-tyrz/data", 95 * GIB, 100 * GIB, labels, at=NOW + 2 * DAY)]
    report = build_report([history(f.series, f.labels) for f in forecasts], forecasts, declaration)
    console = Console(width=200, record=True)
    for table in tables(report, limit=3):
        console.print(table)
    text = console.export_text()
    quota = declaration.department("sjj").quota.storage_gib * GIB / 2**40
    assert f"{quota:.1f} TiB" in text, text
    assert "(+2.0 d)" in text, text


def test_a_volume_full_for_days_says_since_when_not_that_it_fills_now(tmp_path, declaration):
    """A volume at its capacity since five days ago: its row reads full since that sample, in the terminal and on the
    page, and so does its department's first full (of its two full volumes, the one full the longest), not '+0.0 d' on
    the report's own date as if it filled now."""
    ts = np.arange(NOW - 8 * DAY, NOW + 1, 900, dtype=np.int64)
    reached = NOW - 5 * DAY
    histories, forecasts = [], []
    for system, since_then in (("sjj-dzzz", NOW - 2 * DAY), ("sjj-tyrz", reached)):
        labels = {"kind": "pvc", "volume": f"{system}/data", "pool": "xc-ceph", "department": "sjj", "system": system}
        used = np.where(ts < since_then, 99.5, 100.0) * GIB  # within 1 % before (drawn bold), then full
        histories.append(UsageHistory(f"pvc:{system}/data", ts, used, np.full(ts.size, 100.0 * GIB), labels))
        # The forecast's full now: at its as-of time.
        forecasts.append(forecast(f"pvc:{system}/data", 100.0 * GIB, 100.0 * GIB, labels, at=NOW))
    report = build_report(histories, forecasts, declaration)
    since = datetime.fromtimestamp(reached, timezone(timedelta(hours=8)))
    shown = (
        since.strftime("%m-%d %H:%M") if since.year == datetime.now(since.tzinfo).year else f"{since:%Y-%m-%d %H:%M}"
    )
    text = "\n".join(_render(table) for table in tables(report, limit=3))
    page = write_report(report, tmp_path / "report").read_text()
    volume_row = next(line for line in text.splitlines() if "pvc:sjj-tyrz/data" in line)
    assert [cell.strip() for cell in volume_row.split("│")[7:11]] == ["full", "full", "full", f"since {shown}"], (
        volume_row
    )
    department_row = next(line for line in text.splitlines() if line.startswith("│ sjj "))
    assert f"full since {shown}" in department_row, department_row
    assert "+0.0 d" not in text, text
    assert f"<td>since {shown}</td>" in page, page
    assert f"<td>full since {shown}</td>" in page, page


def test_a_volume_full_by_its_forecast_but_not_its_last_sample_is_not_dated_by_an_older_stretch(declaration):
    """A volume full a week ago, cleaned, and full again by its forecast (as of now) though its last sample reads just
    under capacity: it is full since the forecast's time, not since the week-old stretch it was cleaned after."""
    ts = np.arange(NOW - 8 * DAY, NOW + 1, 900, dtype=np.int64)
    used = np.where(ts < NOW - 7 * DAY, 100.0, np.where(ts < NOW, 80.0, 99.99)) * GIB
    full = UsageHistory("pvc:sjj-tyrz/data", ts, used, np.full(ts.size, 100.0 * GIB), {"kind": "pvc"})
    f = forecast(full.series, 100.0 * GIB, 100.0 * GIB, {"kind": "pvc"}, at=NOW)
    (volume,) = build_report([full], [f], declaration).at_risk
    assert volume.full_since() == NOW, f"full since {volume.full_since()}, the report's time is {NOW}"


def test_a_department_with_no_storage_quota_but_bytes_in_use_shows_it_is_over_it(declaration):
    """A department granted 0 GiB of storage whose claims hold bytes is over its quota: its used/quota cell says so
    (not '-', as for nothing to compare with), and it comes before a department at half its quota."""
    departments = tuple(
        d.model_copy(update={"quota": d.quota.model_copy(update={"storage_gib": 0})}) if d.code == "gaj" else d
        for d in declaration.departments
    )
    no_storage = declaration.model_copy(update={"departments": departments})
    half = no_storage.department("sjj").quota.storage_gib * GIB / 2
    forecasts = [
        forecast(f"pvc:{system}/data", used, 2 * used, {"kind": "pvc", "volume": f"{system}/data", "department": code})
        for system, code, used in (("gaj-01", "gaj", 10.0 * GIB), ("sjj-tyrz", "sjj", half))
    ]
    report = build_report([history(f.series, f.labels) for f in forecasts], forecasts, no_storage)
    console = Console(width=200, record=True)
    console.print(tables(report, limit=50)[0])
    gaj = next(line for line in console.export_text().splitlines() if line.lstrip("│ ").startswith("gaj "))
    assert "over 0" in gaj, f"the department row of gaj: {gaj}"
    assert [g.name for g in report.departments[:2]] == ["gaj", "sjj"], "over its quota comes first"


def test_a_share_that_rounds_to_0_or_100_percent_is_not_shown_as_empty_or_full(declaration):
    """gaj, holding 1.2 TiB of its 412 TiB quota, reads '<1%', not '0%' (nothing in use); a volume at 99.7 % reads
    '>99%', not '100%' (full, while it still takes writes); a full one 100%."""
    rows = (("gaj-01", "gaj", 1.2 * 2**40, 2 * 2**40, NOW + DAY), ("sjj-tyrz", "sjj", 99.7 * GIB, 100 * GIB, NOW + DAY))
    rows += (("sjj-dzzz", "sjj", 100 * GIB, 100 * GIB, NOW),)
    forecasts = [
        forecast(f"pvc:{system}/data", used, size, {"kind": "pvc", "volume": f"{system}/data", "department": code}, at)
        for system, code, used, size, at in rows
    ]
    text = "\n".join(
        _render(t)
        for t in tables(build_report([history(f.series, f.labels) for f in forecasts], forecasts, declaration))
    )

    def cells(start: str) -> list[str]:
        line = next(line for line in text.splitlines() if line.startswith(f"│ {start} "))
        return [cell.strip() for cell in line.split("│")]

    assert cells("gaj")[5] == "<1%", cells("gaj")
    shares = {volume: cells(volume)[6] for volume in ("pvc:sjj-tyrz/data", "pvc:sjj-dzzz/data", "pvc:gaj-01/data")}
    assert shares == {"pvc:sjj-tyrz/data": ">99%", "pvc:sjj-dzzz/data": "100%", "pvc:gaj-01/data": "60%"}, shares


def test_tables_say_what_rows_left_out_and_the_page_uses_the_same_columns(tmp_path, declaration):
    """A table cut by --rows says how many it shows of how many; index.html names its columns as the terminal."""
    labels = {"kind": "pvc", "volume": "sjj-tyrz/data", "pool": "xc-ceph", "department": "sjj", "system": "sjj-tyrz"}
    forecasts = [forecast("pvc:sjj-tyrz/data", 95 * GIB, 100 * GIB, labels, at=NOW + 2 * DAY)]
    report = build_report([history(f.series, f.labels) for f in forecasts], forecasts, declaration)
    departments, pools, *_volumes_and_datasets = tables(report, limit=2)
    assert departments.caption == f"2 of {len(declaration.departments)}; --rows to show more"
    assert tables(report, limit=1000)[0].caption is None, "nothing left out, nothing said"
    page = write_report(report, tmp_path, charts=0).read_text()
    for table in (departments, pools):
        names = [str(c.header) for c in table.columns]
        assert "<th>" + "</th><th>".join([names[0], "name", *names[1:]]) + "</th>" in page, names


@pytest.mark.parametrize(
    ("args", "message", "code"),
    [
        (["--csv", "missing.csv"], "missing.csv: cannot read", BAD_INPUT),
        ([], "give exactly one of --prometheus-url URL or --csv FILE", BAD_INPUT),
        (["--csv", "a.csv", "--prometheus-url", "http://127.0.0.1:9"], "give exactly one of", BAD_INPUT),
        (
            ["--csv", "a.csv", "--within", "soon"],
            "--within: not a Prometheus duration: units y w d h m s ms, largest first, each once (e.g. 15m, 1h30m): "
            "'soon'",
            BAD_INPUT,
        ),
        (["--csv", "a.csv", "--config", "sources.yaml"], "--config holds the Prometheus selectors", BAD_INPUT),
        # --out is checked before the history is read: the CSV is missing, and the message is about --out.
        (
            ["--csv", "missing.csv", "--out", "taken.txt"],
            "--out taken.txt: exists and is not a directory",
            BAD_INPUT,
        ),
        # The report replaces its directory whole: never the one the shell stands in.
        (["--csv", "missing.csv", "--out", "."], "--out .: is the working directory or holds it", BAD_INPUT),
        (["--csv", "a.csv", "--calendar", "calendar.yaml"], "calendar.yaml: file is missing", BAD_INPUT),
        (["--prometheus-url", "127.0.0.1:9090"], "must start with http:// or https://", BAD_INPUT),
        # The input is fine, the source is down: the work could not finish.
        (["--prometheus-url", "http://127.0.0.1:9"], "cannot connect", FAILED),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, monkeypatch, args, message, code):
    """Bad report input exits 2 with a message naming the problem, never a traceback."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken.txt").write_text("mine")
    result = CliRunner().invoke(app, ["capacity", "report", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == code, result.output
    assert message in " ".join(result.output.split()), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)


def test_report_takes_the_prometheus_url_from_the_environment_and_never_shows_its_password(tmp_path):
    """DIZUO_PROMETHEUS_URL stands for --prometheus-url (a command line is public to local users); a password in it
    appears in no message, also when Prometheus cannot be reached."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again when the test asks: nothing listens there
    env = {"DIZUO_PROMETHEUS_URL": f"http://ops:s3cret@127.0.0.1:{port}"}
    result = CliRunner().invoke(app, ["capacity", "report", "--out", str(tmp_path / "report")], env=env)
    assert result.exit_code == FAILED, result.output
    assert f"http://127.0.0.1:{port}/api/v1/query" in result.output, (
        "the Prometheus asked, by its URL without the password"
    )
    assert "cannot connect" in result.output
    assert "s3cret" not in result.output


def test_a_csv_on_the_command_line_outranks_the_prometheus_url_of_the_environment(tmp_path):
    """Where the exporter's DIZUO_PROMETHEUS_URL is set, `report --csv` still reads the CSV."""
    out = tmp_path / "report"
    args = ["capacity", "report", "--csv", str(usage_csv(tmp_path / "usage.csv")), "--out", str(out)]
    result = CliRunner().invoke(app, args, env={"DIZUO_PROMETHEUS_URL": "http://127.0.0.1:9"})
    assert result.exit_code == 0, result.output
    assert (out / "index.html").exists()


def test_datasets_are_listed_overdue_first_then_unseen_then_by_time_since_their_last_write(declaration, tmp_path):
    """Every declared dataset: bdc-da's bucket untouched for 14 days (at least 2 of its 7-day periods) first, so that
    `--rows 1` still shows it, then the unseen ones (no volume), then gh-yzt loaded last night; the page has the same
    table."""
    ts = np.arange(NOW - 14 * DAY, NOW + 1, 900, dtype=np.int64)
    nightly = (30 + (ts - ts[0]) // DAY) * GIB * 1.0
    histories = label_from_declaration(
        [
            UsageHistory("bucket:yl-dp-bdc-da", ts, np.full(ts.size, 300.0 * GIB), np.full(ts.size, 1000.0 * GIB)),
            UsageHistory("bucket:yl-dp-gh-yzt", ts, nightly, np.full(ts.size, 1000.0 * GIB)),
        ],
        Ownership.from_declaration(declaration),
    )
    report = build_report(histories, default_forecaster(histories), declaration)
    rows = {f.dataset: f for f in report.datasets}
    assert len(rows) == len(declaration.datasets)
    order = [f.dataset for f in report.datasets]
    assert order[0] == "bdc-da", f"the overdue dataset is not first: {order}"
    assert order[-1] == "gh-yzt", f"the dataset refreshed within its period is not last: {order}"
    assert all(rows[code].last_write is None for code in order[1:-1]), "not seen come between"
    (first,) = [t for t in tables(report, limit=1) if str(t.title).startswith("Data-pool datasets")]
    assert "bdc-da" in _render(first), "--rows 1 cut the overdue dataset off for an unseen one"
    assert (rows["bdc-da"].seen, rows["bdc-da"].last_write) == (False, int(ts[0]))
    assert rows["bdc-da"].overdue == pytest.approx(2.0)
    assert rows["gh-yzt"].seen
    assert NOW - rows["gh-yzt"].last_write <= DAY
    (table,) = [t for t in tables(report, limit=100) if str(t.title).startswith("Data-pool datasets")]
    text = _render(table)
    assert "bdc-da" in text
    assert ">= 14.0 d" in text
    assert "not seen" in text
    page = write_report(report, tmp_path / "report", charts=0).read_text(encoding="utf-8")
    assert "Data-pool datasets by time since their last write" in page
    assert "&gt;= 14.0 d" in page


def _render(table: object) -> str:
    console = Console(width=200, record=True)
    console.print(table)
    return console.export_text()


def test_within_past_the_30_day_horizon_is_honoured(tmp_path):
    """`--within 60d` lists a volume forecast full in about 45 days as at risk: the report forecasts as far ahead as
    it is asked, not only the exporter's 30 days (a p10 beyond them would count as never)."""
    ts = np.arange(NOW - 14 * DAY, NOW + 1, 900, dtype=np.int64)
    full_at = NOW + 45 * DAY
    used = 100 * GIB - (full_at - ts) * (70 * GIB / (full_at - ts[0]))
    path = tmp_path / "usage.csv"
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    lines += [f"sjj-tyrz/slow,{t},{u:.0f},{100 * GIB}" for t, u in zip(ts, used, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    args = ["capacity", "report", "--csv", str(path), "--out", str(tmp_path / "report"), "--within", "60d"]
    args += ["--calendar", str(ROOT / "monitoring" / "working-calendar.yaml")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "Volumes at risk (p10 within 60 d): 1" in result.output, result.output
    row = next(line for line in result.output.splitlines() if "sjj-tyrz/slow" in line)
    assert ">30 d" not in row, "early, median and late are forecast past 30 days: " + row


def flat_csv_report(
    path: Path, series: dict[str, tuple[int, int]], declaration: Declaration
) -> tuple[list[UsageHistory], Report]:
    """A 2-day CSV at ``path`` of each series' (used, capacity) bytes, flat, read as `report --csv` reads it: its
    histories labelled from ``declaration``, and their report."""
    ts = np.arange(NOW - 2 * DAY, NOW + 1, 900, dtype=np.int64)
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    lines += [f"{name},{t},{used},{capacity}" for name, (used, capacity) in series.items() for t in ts]
    path.write_text("\n".join(lines) + "\n")
    histories = label_from_declaration(read_usage_csv(path), Ownership.from_declaration(declaration))
    return histories, build_report(histories, default_forecaster(histories), declaration)


def test_csv_ceph_pool_ids_are_their_pool_s_own_usage(tmp_path, declaration):
    """`--csv` ids take the exporter's forms: `ceph_pool:xc-ceph` is pool xc-ceph's own usage (its claims are inside
    it, not added on top), and `ceph_pool:<cluster>/<pool>`, `ceph_pool:job:<job>/<pool>` are their pool's."""
    series = {
        "ceph_pool:xc-ceph": (300 * GIB, 400 * GIB),
        "pvc:sjj-tyrz/data": (50 * GIB, 80 * GIB),
        "ceph_pool:yl-gov-ceph/phase1-ceph": (600 * GIB, 1000 * GIB),
        "ceph_pool:job:ceph/datapool-ceph": (20 * GIB, 40 * GIB),
    }
    histories, report = flat_csv_report(tmp_path / "usage.csv", series, declaration)
    pools = {g.name: (g.used_bytes / GIB, g.capacity_bytes / GIB) for g in report.pools if g.measured}
    assert pools == {"xc-ceph": (300, 400), "phase1-ceph": (600, 1000), "datapool-ceph": (20, 40)}, pools
    kinds = {h.series: h.labels["kind"] for h in histories}
    assert kinds["ceph_pool:job:ceph/datapool-ceph"] == "ceph_pool", kinds
    assert kinds["pvc:sjj-tyrz/data"] == "pvc", kinds


def test_the_only_department_at_risk_comes_first_whatever_its_median(declaration):
    """A department whose one volume is at risk (p10 in 5 days) with its median beyond the horizon is listed before
    a fuller department with nothing at risk: --rows 1 must not cut it off."""
    risky = {"kind": "pvc", "volume": "sjj-tyrz/data", "pool": "xc-ceph", "department": "sjj", "system": "sjj-tyrz"}
    full = {"kind": "pvc", "volume": "gaj-01/data", "pool": "xc-ceph", "department": "gaj", "system": "gaj-01"}
    quota = declaration.department("gaj").quota.storage_gib * GIB
    pool = {"kind": "ceph_pool", "volume": "phase1-ceph", "pool": "phase1-ceph", "department": "", "system": ""}
    declared = next(p for p in declaration.storage_pools() if p.name == "phase1-ceph").capacity_gib * GIB
    forecasts = [
        Forecast("pvc:sjj-tyrz/data", NOW, None, NOW + 5 * DAY, None, 10 * GIB, 20 * GIB, risky),
        forecast("pvc:gaj-01/data", 0.9 * quota, quota, full),
        forecast("ceph_pool:phase1-ceph", 0.95 * declared, declared, pool),
    ]
    report = build_report([history(f.series, f.labels) for f in forecasts], forecasts, declaration)
    assert [g.name for g in report.departments[:2]] == ["sjj", "gaj"], [g.name for g in report.departments]
    assert report.departments[0].at_risk == 1
    assert [g.name for g in report.pools[:2]] == ["xc-ceph", "phase1-ceph"], [g.name for g in report.pools]


def test_a_volume_chart_shows_usage_above_capacity_and_a_capacity_before_a_shrink(tmp_path, monkeypatch):
    """The y axis reaches the highest usage and capacity drawn, not only the last capacity: usage above capacity
    (thin provisioning) and the capacity before a shrink stay on the chart."""
    from dizuo.capacity import report  # noqa: PLC0415 - the module whose chart is inspected

    ts = np.arange(NOW - 2 * DAY, NOW + 1, 900, dtype=np.int64)
    capacity = np.where(ts < NOW - DAY, 200.0, 100.0) * GIB  # shrunk from 200 to 100 GiB a day ago
    used = np.full(ts.size, 120.0 * GIB)  # above the capacity since
    history = UsageHistory("pvc:sjj-tyrz/over", ts, used, capacity, {})
    f = Forecast(history.series, NOW, NOW + DAY, NOW + DAY // 2, NOW + 2 * DAY, 120.0 * GIB, 100.0 * GIB, {})
    drawn = []
    monkeypatch.setattr(report, "_save", lambda figure, _path, **_: drawn.append(figure))
    report.volume_chart(report.Volume(history, f), tmp_path / "chart.png")
    (axes,) = drawn[0].axes
    assert axes.get_ylim()[1] >= 200, f"y axis up to {axes.get_ylim()[1]} GiB: the 200 GiB before the shrink is cut"


@pytest.mark.parametrize("series", ["filesystem:nas:9100//nas/share$/a\\b$", "filesystem:node1:9100/mnt/$x^2$"])
def test_a_volume_chart_shows_a_name_with_dollar_signs_as_written(tmp_path, monkeypatch, series):
    """A mount point holding two `$` (a Windows share mounted as `share$`) is a name, not TeX: its chart is written
    with the name as it is, where matplotlib would read it as math (and fail on `\\b`, stopping the report)."""
    from matplotlib.text import Text  # noqa: PLC0415 - slow import, as in the module

    from dizuo.capacity import report  # noqa: PLC0415 - the module whose chart is inspected

    ts = np.arange(NOW - 2 * DAY, NOW + 1, 900, dtype=np.int64)
    history = UsageHistory(series, ts, np.linspace(50, 90, ts.size) * GIB, np.full(ts.size, 100.0 * GIB), {})
    f = Forecast(series, NOW, NOW + DAY, NOW + DAY // 2, NOW + 2 * DAY, 90.0 * GIB, 100.0 * GIB, {})
    drawn = []
    save = report._save
    monkeypatch.setattr(report, "_save", lambda figure, path, **how: (drawn.append(figure), save(figure, path, **how)))
    report.volume_chart(report.Volume(history, f), tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG_MAGIC), "the chart is written"
    titles = [text for text in drawn[0].findobj(Text) if text.get_text() == series]
    assert titles, f"no title reads {series}"
    assert not any(title.get_parse_math() for title in titles), f"{series} is drawn as TeX"


def _han_font(path: Path, chars: str, family: str) -> Path:
    """A real TrueType font holding ``chars`` only (each a filled square), as an installed Chinese font would."""
    from fontTools.fontBuilder import FontBuilder  # noqa: PLC0415 - matplotlib's own dependency, for this test only
    from fontTools.pens.ttGlyphPen import TTGlyphPen  # noqa: PLC0415

    names = [".notdef", *(f"uni{ord(c):04X}" for c in chars)]
    glyphs = {}
    for name in names:
        pen = TTGlyphPen(None)
        pen.moveTo((100, 0))
        for corner in ((100, 800), (900, 800), (900, 0)):
            pen.lineTo(corner)
        pen.closePath()
        glyphs[name] = pen.glyph()
    builder = FontBuilder(1000, isTTF=True)
    builder.setupGlyphOrder(names)
    builder.setupCharacterMap({ord(c): f"uni{ord(c):04X}" for c in chars})
    builder.setupGlyf(glyphs)
    builder.setupHorizontalMetrics(dict.fromkeys(names, (1000, 100)))
    builder.setupHorizontalHeader(ascent=880, descent=-120)
    builder.setupNameTable({"familyName": family, "styleName": "Regular"})
    builder.setupOS2(sTypoAscender=880, usWinAscent=880, usWinDescent=120)
    builder.setupPost()
    builder.save(str(path))
    return path


def _chart_warnings(tmp_path: Path, series: str) -> list[str]:
    """The warnings drawing ``series``' volume chart gives."""
    from dizuo.capacity import report  # noqa: PLC0415 - the module whose chart is inspected

    ts = np.arange(NOW - 2 * DAY, NOW + 1, 900, dtype=np.int64)
    history = UsageHistory(series, ts, np.linspace(50, 90, ts.size) * GIB, np.full(ts.size, 100.0 * GIB), {})
    f = Forecast(series, NOW, NOW + DAY, NOW + DAY // 2, NOW + 2 * DAY, 90.0 * GIB, 100.0 * GIB, {})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report.volume_chart(report.Volume(history, f), tmp_path / "chart.png")
    assert (tmp_path / "chart.png").read_bytes().startswith(PNG_MAGIC), "the chart is written"
    return [str(w.message) for w in caught]


def test_a_chinese_volume_name_is_drawn_in_an_installed_chinese_font(tmp_path, monkeypatch):
    """A mount point named in Chinese (/数据/人口库) is drawn with an installed font that holds its characters, not as
    empty boxes in matplotlib's DejaVu Sans, which has none."""
    from matplotlib import font_manager  # noqa: PLC0415 - slow import

    font = _han_font(tmp_path / "han.ttf", "数据人口库", "Dizuo Test Han")
    # The machine's font list, with the test font added for this test only.
    monkeypatch.setattr(font_manager.fontManager, "ttflist", list(font_manager.fontManager.ttflist))
    font_manager.fontManager.addfont(str(font))
    missing = [w for w in _chart_warnings(tmp_path, "filesystem:node1:9100/数据/人口库") if "missing from font" in w]
    assert not missing, f"Chinese characters drawn as boxes: {missing}"


def test_a_chinese_volume_name_no_installed_font_holds_is_named_once(tmp_path, monkeypatch):
    """With no Chinese font installed, one warning says which characters show as boxes and what to install, and
    matplotlib does not say it again for every character."""
    from matplotlib import font_manager  # noqa: PLC0415 - slow import

    plain = [e for e in font_manager.fontManager.ttflist if "DejaVu" in e.name or e.name.startswith("Last Resort")]
    monkeypatch.setattr(font_manager.fontManager, "ttflist", plain)
    said = [w for w in _chart_warnings(tmp_path, "filesystem:node1:9100/数据/人口库") if "no installed font" in w]
    assert len(said) == 1, said
    assert "holds 数据人口库:" in said[0], said[0]
    assert "fonts-noto-cjk" in said[0], said[0]
    glyphs = [w for w in _chart_warnings(tmp_path, "filesystem:node1:9100/数据/人口库") if "missing from font" in w]
    assert not glyphs, f"said again by matplotlib, once per character: {glyphs}"


def _local_noon(year: int, month: int, day: int) -> int:
    """Unix seconds of noon, Asia/Shanghai time, on that day."""
    return int(datetime(year, month, day, 12, tzinfo=timezone(timedelta(hours=8))).timestamp())


def _report_full_at(asof: int, full_at: int, declaration):
    labels = {"kind": "pvc", "volume": "sjj-tyrz/data", "pool": "xc-ceph", "department": "sjj", "system": "sjj-tyrz"}
    f = Forecast("pvc:sjj-tyrz/data", asof, full_at, full_at, full_at, 95 * GIB, 100 * GIB, labels)
    ts = np.array([asof - 900, asof], dtype=np.int64)
    h = UsageHistory(f.series, ts, np.ones(2), np.ones(2), labels)
    return build_report([h], [f], declaration, risk_seconds=60 * DAY)


def test_dates_in_a_column_reaching_past_this_year_show_their_year(tmp_path, declaration):
    """A volume full next February (--within 60d from late December): its dates carry the year in the terminal
    and on the page, as only "+N d" would tell them from this February's; dates all this year stay MM-DD."""
    this_year = datetime.now(timezone(timedelta(hours=8))).year
    crossing = _report_full_at(_local_noon(this_year, 12, 20), _local_noon(this_year + 1, 2, 3), declaration)
    text = "\n".join(_render(table) for table in tables(crossing, limit=3))
    row = next(line for line in text.splitlines() if "sjj-tyrz/data" in line)
    assert f"{this_year + 1}-02-03 12:00" in row, f"the median date lost its year: {row}"
    first_full = next(line for line in text.splitlines() if line.startswith("│ sjj "))
    assert f"{this_year + 1}-02-03 12:00 (+45.0 d)" in first_full, first_full
    page = write_report(crossing, tmp_path / "report", charts=0).read_text(encoding="utf-8")
    assert f"<td>{this_year + 1}-02-03 12:00 (+45.0 d)</td>" in page
    within = _report_full_at(_local_noon(this_year, 1, 10), _local_noon(this_year, 1, 12), declaration)
    text = "\n".join(_render(table) for table in tables(within, limit=3))
    assert "01-12 12:00 (+2.0 d)" in text, text
    assert f"{this_year}-01-12" not in text, "dates all in this year need no year"


def test_a_chart_reaching_into_the_next_year_labels_1_january_with_the_year(tmp_path, monkeypatch):
    """A volume chart from mid-December into February: the tick on 1 January reads 2027, not "Jan" (the x axis
    would otherwise read as one year's)."""
    from dizuo.capacity import report  # noqa: PLC0415 - the module whose chart is inspected

    asof = _local_noon(2026, 12, 20)
    ts = np.arange(asof - 14 * DAY, asof + 1, 3600, dtype=np.int64)
    used = np.linspace(30, 47, ts.size) * GIB
    history = UsageHistory("pvc:sjj-tyrz/data", ts, used, np.full(ts.size, 100.0 * GIB), {})
    full = _local_noon(2027, 2, 3)
    f = Forecast(history.series, asof, full - 5 * DAY, full, full + 6 * DAY, 47.0 * GIB, 100.0 * GIB, {})
    drawn = []
    monkeypatch.setattr(report, "_save", lambda figure, _path, **_: drawn.append(figure))
    report.volume_chart(report.Volume(history, f), tmp_path / "chart.png", horizon=60 * DAY)
    figure = drawn[0]
    figure.savefig(io.BytesIO(), format="png")  # draws: tick labels are made then
    (axes,) = figure.axes
    labels = [t.get_text() for t in axes.get_xticklabels()]
    assert "2027" in labels, f"no tick names the new year: {labels}"
    assert "Jan" not in labels, labels


def test_a_full_volume_s_usage_is_drawn_over_its_capacity_and_dated(tmp_path, monkeypatch):
    """A volume that reached its capacity two days ago: its usage along the capacity line is drawn over that line (not
    hidden behind it), in a style of its own, and the sample where it reached capacity is marked and dated."""
    from matplotlib.lines import Line2D  # noqa: PLC0415 - slow import, as in the module
    from matplotlib.text import Annotation  # noqa: PLC0415

    from dizuo.capacity import report  # noqa: PLC0415 - the module whose chart is inspected

    ts = np.arange(NOW - 6 * DAY, NOW + 1, 3600, dtype=np.int64)
    reached = NOW - 2 * DAY
    used = np.where(ts < reached, 60 + 30 * (ts - ts[0]) / (reached - ts[0]), 100.0) * GIB  # 90 GiB, then full
    history = UsageHistory("pvc:sjj-tyrz/data", ts, used, np.full(ts.size, 100.0 * GIB), {})
    f = Forecast(history.series, NOW, NOW, NOW, NOW, 100.0 * GIB, 100.0 * GIB, {})
    drawn = []
    monkeypatch.setattr(report, "_save", lambda figure, _path, **_: drawn.append(figure))
    report.volume_chart(report.Volume(history, f), tmp_path / "chart.png")
    (axes,) = drawn[0].axes
    # matplotlib draws by zorder, artists of one zorder in the order they were added: later is on top.
    artists = sorted(axes.get_children(), key=lambda a: a.get_zorder())
    lines = [a for a in artists if isinstance(a, Line2D)]
    (capacity,) = [line for line in lines if line.get_label() == "capacity"]
    above = lines[lines.index(capacity) + 1 :]
    full_since = report._local(ts[ts >= reached])
    over_capacity = [
        line
        for line in above
        if line.get_linestyle() not in {"None", ""}
        and set(full_since) <= {x for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True) if y == 100.0}
    ]
    assert over_capacity, f"no line drawn over the capacity line covers the days at capacity: {[str(a) for a in above]}"
    assert all(line.get_color() != capacity.get_color() for line in over_capacity), "drawn in the capacity's colour"
    marks = [
        (x, y)
        for line in above
        if line.get_marker() not in {"None", "", None}
        for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)
    ]
    assert marks == [(report._local([reached])[0], 100.0)], f"marks over the capacity line: {marks}"
    texts = [a.get_text() for a in axes.get_children() if isinstance(a, Annotation)]
    stamp = datetime.fromtimestamp(reached, timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    assert f"full since {stamp}" in texts, f"annotations: {texts}"


def test_a_full_volume_s_chart_forecasts_no_fill_at_the_report_s_time(tmp_path, monkeypatch):
    """A volume full for two days: its chart dates when it got full and draws no forecast of it filling at the
    report's own time (a 'full: median' line and 'full <now> (+0.0 d)' beside 'full since')."""
    from matplotlib.text import Annotation  # noqa: PLC0415 - slow import, as in the module

    from dizuo.capacity import report  # noqa: PLC0415 - the module whose chart is inspected

    ts = np.arange(NOW - 6 * DAY, NOW + 1, 3600, dtype=np.int64)
    used = np.where(ts < NOW - 2 * DAY, 90.0, 100.0) * GIB
    history = UsageHistory("pvc:sjj-tyrz/data", ts, used, np.full(ts.size, 100.0 * GIB), {})
    f = Forecast(history.series, NOW, NOW, NOW, NOW, 100.0 * GIB, 100.0 * GIB, {})  # the forecast's full now
    drawn = []
    monkeypatch.setattr(report, "_save", lambda figure, _path, **_: drawn.append(figure))
    report.volume_chart(report.Volume(history, f), tmp_path / "chart.png")
    (axes,) = drawn[0].axes
    texts = [a.get_text() for a in axes.get_children() if isinstance(a, Annotation)]
    assert [t for t in texts if t.startswith("full since")], f"annotations: {texts}"
    assert not [t for t in texts if "(+0.0 d)" in t], f"annotations: {texts}"
    labels = [str(artist.get_label()) for artist in axes.get_children()]
    assert not [label for label in labels if label.startswith("full:")], f"forecast drawn for a full volume: {labels}"


def test_the_report_says_when_its_figures_are_from(tmp_path, declaration):
    """A report read later (a page mailed on, a CI log) says the time its '+2.3 d' counts from: its newest sample,
    with the year and the city's zone (UTC+8: read beside Prometheus' UTC it is not 8 h off), in the terminal and on
    the page."""
    histories = label_from_declaration(
        read_usage_csv(usage_csv(tmp_path / "usage.csv")), Ownership.from_declaration(declaration)
    )
    report = build_report(histories, default_forecaster(histories), declaration)
    stamp = datetime.fromtimestamp(NOW, timezone(timedelta(hours=8))).strftime("%Y-%m-%d %H:%M UTC+8")
    text = "\n".join(_render(table) for table in tables(report, limit=3))
    assert f"as of {stamp}" in text, text
    assert f"as of {stamp}" in write_report(report, tmp_path / "report").read_text()


def test_the_page_says_how_many_volumes_at_risk_it_charts(tmp_path, declaration):
    """With --charts 1 and two volumes at risk, the page says it charts the one soonest full of the two, so the
    second, listed in its table without a chart, is not taken for an oversight."""
    forecasts = [
        forecast(f"pvc:{system}/data", 90 * GIB, 100 * GIB, {"kind": "pvc", "volume": f"{system}/data"}, at)
        for system, at in (("sjj-tyrz", NOW + DAY), ("sjj-dzzz", NOW + 2 * DAY))
    ]
    report = build_report([history(f.series, f.labels) for f in forecasts], forecasts, declaration)
    page = write_report(report, tmp_path / "report", charts=1).read_text()
    assert "Charted: the 1 soonest full of the 2 volumes at risk; 1 more with --charts." in page, page
    assert len(list((tmp_path / "report").glob("pvc_*.png"))) == 1
    whole = write_report(report, tmp_path / "whole", charts=2).read_text()
    assert "Charted:" not in whole, "all charted: nothing to say"


def test_without_a_declaration_the_empty_department_table_says_why(tmp_path):
    """A report without --declaration has no department rows, and from bare CSV ids no pool rows: the terminal and
    the page say that the declaration is what gives volumes their departments and pools, instead of empty tables; a
    Ceph pool's own series is a pool row all the same, and then nothing is said of pools."""
    histories = label_from_declaration(
        read_usage_csv(usage_csv(tmp_path / "usage.csv")), Ownership.from_declaration(None)
    )
    report = build_report(histories, default_forecaster(histories), None)
    text = " ".join("\n".join(_render(table) for table in tables(report)).split())
    page = write_report(report, tmp_path / "report").read_text()
    for shown in (text, page):
        assert "No departments: --declaration gives volumes their departments and quotas." in shown, shown
        assert "No pools: no volume read names its pool, and no --declaration declares any." in shown, shown
    pool = forecast("ceph_pool:xc-ceph", 1.0, 2.0, {"kind": "ceph_pool", "volume": "xc-ceph", "pool": "xc-ceph"})
    with_pool = build_report([history(pool.series, pool.labels)], [pool], None)
    text = " ".join("\n".join(_render(table) for table in tables(with_pool)).split())
    assert "No pools" not in text, text
    assert "No pools" not in write_report(with_pool, tmp_path / "with-pool").read_text()


def test_a_csv_volume_under_its_renamed_cluster_s_two_names_is_one_volume(tmp_path):
    """yl-gov renamed yl-egov (renamed_from): `report --csv` ids of xc-ceph's pool and sjj-tyrz's claim under the former
    name until 3 days ago and the new one since are one pool series and one claim each, under the new name with their
    whole history, as the Prometheus source joins them (datapool-ceph's too, its ids without `ceph_pool:` as
    written); the ids of a cluster never renamed stay apart."""
    from declarations import city_copy, cluster_renamed  # noqa: PLC0415

    city = city_copy(tmp_path / "city", cluster_renamed("yl-gov", "yl-egov"))
    ts = np.arange(NOW - 14 * DAY, NOW + 1, 900, dtype=np.int64)
    before = ts < NOW - 3 * DAY
    rows = []
    for name, used, capacity in (
        ("ceph_pool:{}/xc-ceph", 300 * GIB, 400 * GIB),
        ("pvc:{}/sjj-tyrz/data", 50 * GIB, 80 * GIB),
        ("{}/datapool-ceph", 20 * GIB, 40 * GIB),
        ("pvc:{}/gaj-01/data", 10 * GIB, 80 * GIB),
    ):
        cluster = ("yl-gov", "yl-egov") if "sjj" in name or "ceph" in name else ("yl-dmz", "yl-other")
        rows += [f"{name.format(cluster[0])},{t},{used},{capacity}" for t in ts[before]]
        rows += [f"{name.format(cluster[1])},{t},{used},{capacity}" for t in ts[~before]]
    path = tmp_path / "usage.csv"
    path.write_text("\n".join(["series,timestamp,used_bytes,capacity_bytes", *sorted(rows)]) + "\n")
    histories = label_from_declaration(read_usage_csv(path), Ownership.from_declaration(load(city)))
    assert {h.series: h.timestamps.size for h in histories} == {
        "ceph_pool:yl-egov/xc-ceph": ts.size,
        "pvc:yl-egov/sjj-tyrz/data": ts.size,
        "yl-egov/datapool-ceph": ts.size,
        "pvc:yl-dmz/gaj-01/data": before.sum(),
        "pvc:yl-other/gaj-01/data": (~before).sum(),
    }
    claim = next(h for h in histories if h.series == "pvc:yl-egov/sjj-tyrz/data")
    assert (claim.labels["department"], claim.labels["system"]) == ("sjj", "sjj-tyrz"), claim.labels
    result = CliRunner().invoke(
        app, ["capacity", "report", "--csv", str(path), "--declaration", str(city), "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    sjj = next(line for line in result.output.splitlines() if line.startswith("│ sjj "))
    cells = [cell.strip() for cell in sjj.split("│")[1:-1]]
    assert (cells[2], cells[5]) == ("80.0 GiB", "1"), f"sjj's claim counted twice (provisioned, volumes): {sjj}"


def test_a_csv_ceph_pool_id_without_its_kind_is_its_pool_s_own_usage(tmp_path, declaration):
    """`--csv` ids of declared Ceph pools without `ceph_pool:` (`xc-ceph`, `yl-dmz/dmz-ceph`, `<fsid>/datapool-ceph`)
    are their pools' own usage as with it: xc-ceph's claim is inside it (not added on top), and a pool named with its
    cluster keeps its row (it had none); a claim named after a pool in a system's namespace stays the system's claim."""
    fsid = next(p for p in declaration.storage_pools() if p.name == "datapool-ceph").ceph_cluster_id
    series = {
        "xc-ceph": (300 * GIB, 400 * GIB),
        "pvc:sjj-tyrz/data": (50 * GIB, 80 * GIB),
        "yl-dmz/dmz-ceph": (3 * GIB, 9 * GIB),
        f"{fsid}/datapool-ceph": (20 * GIB, 40 * GIB),
        "sjj-tyrz/phase1-ceph": (1 * GIB, 2 * GIB),
    }
    histories, report = flat_csv_report(tmp_path / "usage.csv", series, declaration)
    pools = {g.name: (g.used_bytes / GIB, g.capacity_bytes / GIB, g.volumes) for g in report.pools if g.measured}
    # xc-ceph's two volumes: pvc:sjj-tyrz/data, and sjj-tyrz/phase1-ceph (sjj-tyrz's claims are on xc-ceph).
    assert pools == {"xc-ceph": (300, 400, 2), "dmz-ceph": (3, 9, 0), "datapool-ceph": (20, 40, 0)}, pools
    kinds = {h.series: (h.labels["kind"], h.labels["system"]) for h in histories}
    assert kinds["sjj-tyrz/phase1-ceph"] == ("", "sjj-tyrz"), kinds
    # `serve --csv`: the exporter's allocated series for xc-ceph names the pool's own series, as with `ceph_pool:`.
    registry = CollectorRegistry()
    snapshot = Snapshot(forecasts=tuple(default_forecaster(histories)), succeeded_at=NOW)
    CapacityCollector(lambda: snapshot, allocations(declaration), stale_after=900, registry=registry, clock=lambda: NOW)
    allocated = {"scope": "pool", "department": "", "pool": "xc-ceph", "kind": "ceph_pool", "volume": "xc-ceph"}
    declared = next(p for p in declaration.storage_pools() if p.name == "xc-ceph").capacity_gib * GIB
    assert registry.get_sample_value("dizuo_storage_allocated_bytes", allocated) == declared, allocated


def renamed_city_csv(tmp_path: Path, ids: dict[str, tuple[int, int]]) -> list[UsageHistory]:
    """``ids`` (each to the first and last timestamp it is sampled at, 15-min steps) written as a flat `--csv` file in
    sorted order, read with a copy of Yulin where yl-gov is renamed yl-egov."""
    from declarations import city_copy, cluster_renamed  # noqa: PLC0415

    city = city_copy(tmp_path / "city", cluster_renamed("yl-gov", "yl-egov"))
    rows = [
        f"{name},{t},{10 * GIB},{40 * GIB}"
        for name, (first, last) in ids.items()
        for t in np.arange(first, last + 1, 900, dtype=np.int64)
    ]
    path = tmp_path / "usage.csv"
    path.write_text("\n".join(["series,timestamp,used_bytes,capacity_bytes", *sorted(rows)]) + "\n")
    return label_from_declaration(read_usage_csv(path), Ownership.from_declaration(load(city)))


def test_a_csv_claim_id_without_its_kind_under_a_renamed_cluster_s_two_names_is_one_claim(tmp_path):
    """`yl-gov/sjj-tyrz/data` until the relabel and `yl-egov/sjj-tyrz/data` since, without `pvc:`, are one claim of
    sjj-tyrz with its whole history under the name sampled last, as with `pvc:` (not the claim counted twice)."""
    histories = renamed_city_csv(
        tmp_path,
        {"yl-gov/sjj-tyrz/data": (NOW - 14 * DAY, NOW - 3 * DAY), "yl-egov/sjj-tyrz/data": (NOW - 3 * DAY, NOW)},
    )
    assert {h.series: h.timestamps.size for h in histories} == {"yl-egov/sjj-tyrz/data": 14 * 96 + 1}
    (claim,) = histories
    assert (claim.labels["kind"], claim.labels["system"]) == ("pvc", "sjj-tyrz"), claim.labels


def test_a_csv_volume_s_two_ids_are_joined_only_under_a_renamed_cluster_as_the_id_sampled_last(tmp_path):
    """With yl-gov renamed yl-egov, a pool's id with and without `ceph_pool:` under the renamed cluster is one
    history under the id sampled last (not the one last in the file), and under yl-dmz, never renamed, two ids stay
    two, as they do where no cluster is renamed."""
    histories = renamed_city_csv(
        tmp_path,
        {
            "ceph_pool:yl-egov/xc-ceph": (NOW - 2 * DAY, NOW),
            "yl-egov/xc-ceph": (NOW - 14 * DAY, NOW - 3 * DAY),
            "ceph_pool:yl-dmz/dmz-ceph": (NOW - 2 * DAY, NOW),
            "yl-dmz/dmz-ceph": (NOW - 14 * DAY, NOW - 3 * DAY),
        },
    )
    assert {h.series: h.timestamps.size for h in histories} == {
        "ceph_pool:yl-egov/xc-ceph": (11 + 2) * 96 + 2,
        "ceph_pool:yl-dmz/dmz-ceph": 2 * 96 + 1,
        "yl-dmz/dmz-ceph": 11 * 96 + 1,
    }


def test_a_csv_id_without_a_kind_is_read_whole_and_a_pool_s_only_under_a_cluster_it_may_carry(tmp_path, declaration):
    """Without its kind, a node filesystem's id keeps its instance's port (`yl-mon-01:9100//var` is not volume
    `9100//var`, nor every root `9100//`), and a declared Ceph pool's name under a cluster it may be labelled with
    (a declared cluster's name, its fsid, `job:<job>`) is the pool's own usage, under any other (`somens/xc-ceph`) a
    volume of no kind."""
    fsid = next(p for p in declaration.storage_pools() if p.name == "xc-ceph").ceph_cluster_id
    ids = ["yl-mon-01:9100//var", "yl-mon-01:9100//", "yl-mon-02:9100//", "somens/xc-ceph"]
    ids += ["yl-gov/xc-ceph", f"{fsid}/xc-ceph", "job:ceph/xc-ceph"]
    histories, _ = flat_csv_report(tmp_path / "usage.csv", dict.fromkeys(ids, (1 * GIB, 2 * GIB)), declaration)
    read = {h.series: (h.labels["kind"], h.labels["volume"]) for h in histories}
    assert read == {
        "yl-mon-01:9100//var": ("", "yl-mon-01:9100//var"),
        "yl-mon-01:9100//": ("", "yl-mon-01:9100//"),
        "yl-mon-02:9100//": ("", "yl-mon-02:9100//"),
        "somens/xc-ceph": ("", "somens/xc-ceph"),
        "yl-gov/xc-ceph": ("ceph_pool", "yl-gov/xc-ceph"),
        f"{fsid}/xc-ceph": ("ceph_pool", f"{fsid}/xc-ceph"),
        "job:ceph/xc-ceph": ("ceph_pool", "job:ceph/xc-ceph"),
    }, read
