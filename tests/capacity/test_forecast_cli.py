"""`dizuo capacity forecast FILE.csv[.gz]`: JSON Lines as the benchmark FORMAT.md says, clear errors."""

from __future__ import annotations

import gzip
import json
import lzma
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from dizuo.capacity.csvio import read_usage_csv

DIZUO = Path(sys.executable).with_name("dizuo")
GIB = 2**30
ASOF = 1710122400  # 2024-03-11 10:00 Asia/Shanghai


def _csv_text() -> str:
    """Three series, 28 days each: one fills in ~5 days, one is flat, one has gaps and is enlarged."""
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    for i in range(28 * 96):
        t = ASOF - (28 * 96 - 1 - i) * 900
        lines.append(f"a-fills,{t},{50 * GIB + GIB * (i - 2687) // 96},{55 * GIB}")
    for i in range(28 * 96):
        t = ASOF - (28 * 96 - 1 - i) * 900
        lines.append(f"b-flat,{t},{10 * GIB},{100 * GIB}")
    for i in range(0, 28 * 96, 3):
        t = ASOF - (28 * 96 - 1 - i) * 900
        lines.append(f"c-enlarged,{t},{30 * GIB},{(40 if i < 1000 else 400) * GIB}")
    return "\n".join(lines) + "\n"


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DIZUO), "capacity", "forecast", str(path)], capture_output=True, text=True, check=False)


def _records(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture(scope="module")
def plain_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("usage") / "usage.csv"
    path.write_text(_csv_text())
    return path


def test_forecast_writes_one_json_line_per_series(plain_csv: Path):
    """Every series gets one JSON object with series, exhaustion_at and both or neither of p10/p90."""
    done = _run(plain_csv)
    assert done.returncode == 0, f"forecast failed: {done.stderr}"
    records = _records(done.stdout)
    assert [r["series"] for r in records] == ["a-fills", "b-flat", "c-enlarged"]
    for r in records:
        assert isinstance(r["exhaustion_at"], int | None), f"{r['series']}: exhaustion_at {r['exhaustion_at']!r}"
        assert ("p10" in r) == ("p90" in r), f"{r['series']}: p10 and p90 come together"
    by_series = {r["series"]: r for r in records}
    fills = by_series["a-fills"]["exhaustion_at"]
    assert isinstance(fills, int), "a-fills: 5 GiB free at 1 GiB/day must be predicted to fill"
    assert abs(fills - ASOF - 5 * 86400) <= 3 * 3600, f"a-fills: predicted {fills}, expected ~{ASOF + 5 * 86400}"
    assert by_series["b-flat"]["exhaustion_at"] is None, "b-flat: a flat volume never fills"
    assert by_series["c-enlarged"]["exhaustion_at"] is None, "c-enlarged: judged against its new 400 GiB"


def test_gzip_and_plain_csv_give_the_same_forecast(plain_csv: Path, tmp_path: Path):
    """A .csv.gz gives byte-for-byte the output of the same plain .csv."""
    gz = tmp_path / "usage.csv.gz"
    gz.write_bytes(gzip.compress(plain_csv.read_bytes()))
    plain, packed = _run(plain_csv), _run(gz)
    assert packed.returncode == 0, f"forecast of gzip failed: {packed.stderr}"
    assert packed.stdout == plain.stdout


def test_unsorted_rows_give_the_same_forecast(plain_csv: Path, tmp_path: Path):
    """Rows in any order (time reversed) are regrouped: the same forecasts as from sorted input."""
    header, *rows = plain_csv.read_text().splitlines()
    shuffled = tmp_path / "shuffled.csv"
    shuffled.write_text("\n".join([header, *reversed(rows)]) + "\n")
    # Output follows the order in which series first appear in the file.
    assert sorted(_run(shuffled).stdout.splitlines()) == sorted(_run(plain_csv).stdout.splitlines())


def test_quoted_cells_a_quoted_header_and_a_byte_order_mark_read_as_plain_csv(plain_csv: Path, tmp_path: Path):
    """What spreadsheets and Python's csv.QUOTE_NONNUMERIC write is the same data: the same series names and
    forecasts, whether or not the values are whole numbers (the fast and the row-by-row parser agree)."""
    header, *rows = plain_csv.read_text().splitlines()
    quoted = tmp_path / "quoted.csv"
    lines = ['"series","timestamp","used_bytes","capacity_bytes"']
    lines += ['"{}",{},{},{}'.format(*row.split(",")) for row in rows]
    quoted.write_bytes(b"\xef\xbb\xbf" + ("\n".join(lines) + "\n").encode())
    result = _run(quoted)
    assert result.returncode == 0, result.stderr
    assert result.stdout == _run(plain_csv).stdout
    decimal = tmp_path / "decimal.csv"
    decimal.write_text("\n".join([header, *[r + ".0" if i == 0 else r for i, r in enumerate(rows)]]) + "\n")
    assert [r["series"] for r in _records(_run(decimal).stdout)] == ["a-fills", "b-flat", "c-enlarged"]


def test_reading_long_ids_takes_a_few_times_the_file_in_memory(tmp_path: Path):
    """Ids as long as Prometheus-style names (here 1,000 characters) cost memory per row, not per row and id byte:
    1,000 series of 70-character ids took 3.9 GB (5,000: ~19 GB)."""
    path = tmp_path / "long-ids.csv"
    lines = ["series,timestamp,used_bytes,capacity_bytes"]
    names = [f"ns-{s:02d}/" + "pvc-data-" * 111 for s in range(20)]
    for name in names:
        lines += [f"{name},{ASOF - (999 - i) * 900},{5 * GIB + i},{100 * GIB}" for i in range(1000)]
    path.write_text("\n".join(lines) + "\n")
    tracemalloc.start()
    try:
        histories = read_usage_csv(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [h.series for h in histories] == names
    assert all(len(h.timestamps) == 1000 for h in histories)
    size = path.stat().st_size
    assert peak < 6 * size, f"reading a {size / 1e6:.0f} MB file took {peak / 1e6:.0f} MB at its peak"


def test_ids_that_differ_at_any_byte_are_separate_series(tmp_path: Path):
    """Ids compared a word (8 bytes) at a time still differ by one byte on either side of a word's edge."""
    names = ["x" * 7, "x" * 8, "x" * 9, "x" * 8 + "y", "x" * 15 + "y", "x" * 16, "x" * 7 + "y" + "x" * 8, "y"]
    path = tmp_path / "ids.csv"
    rows = [f"{name},{ASOF + i * 900},{GIB},{2 * GIB}" for name in names for i in range(2)]
    path.write_text("\n".join(["series,timestamp,used_bytes,capacity_bytes", *rows]) + "\n")
    histories = read_usage_csv(path)
    assert [(h.series, len(h.timestamps)) for h in histories] == [(name, 2) for name in names]


def test_the_largest_int64_byte_count_reads_on_either_parser(tmp_path: Path):
    """2^63 - 1 bytes (int64's largest) is read whether the file takes the fast parser or the row-by-row one (a quoted
    id): the latter rounded it to 2^63 and refused the whole file as "more than 2^63 bytes"."""
    top = 2**63 - 1
    rows = [f"{name},{ASOF - 900 * i},{top},{top}" for name in ("x", '"y"') for i in (1, 0)]
    plain, quoted = tmp_path / "plain.csv", tmp_path / "quoted.csv"
    plain.write_text("\n".join(["series,timestamp,used_bytes,capacity_bytes", *rows[:2]]) + "\n")
    quoted.write_text("\n".join(["series,timestamp,used_bytes,capacity_bytes", *rows]) + "\n")
    for path in (plain, quoted):
        done = _run(path)
        assert done.returncode == 0, f"{path.name}: {done.stderr}"
        assert all(r["exhaustion_at"] == ASOF for r in _records(done.stdout)), f"{path.name}: full now: {done.stdout}"


def test_series_ids_are_kept_as_written(plain_csv: Path, tmp_path: Path):
    """An id is opaque: ids that differ only in spaces around them are separate series, each named as written."""
    header, *rows = plain_csv.read_text().splitlines()
    spaced = tmp_path / "spaced.csv"
    renamed = [r.replace("a-fills,", " a,").replace("b-flat,", "a,") for r in rows if not r.startswith("c-")]
    spaced.write_text("\n".join([header, *renamed]) + "\n")
    done = _run(spaced)
    assert done.returncode == 0, done.stderr
    by_series = {r["series"]: r for r in _records(done.stdout)}
    assert list(by_series) == [" a", "a"], f"ids merged or changed: {list(by_series)}"
    assert by_series[" a"]["exhaustion_at"] is not None, "' a' (the filling volume) lost its samples"
    assert by_series["a"]["exhaustion_at"] is None, "'a' (the flat volume) got the other's samples"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"series,timestamp,used_bytes,capacity_bytes\nx,1710122400,12abc,100\n",
            ":2: column 'used_bytes' '12abc'",
        ),
        (b"series,timestamp,used\nx,1,2\n", ":1: header is"),
        (b"series,timestamp,used_bytes,capacity_bytes\nx,1710122400,5\n", ":2: 3 columns, expected 4"),
        (b"series,timestamp,used_bytes,capacity_bytes\nx,1710122400,5,0\n", "column 'capacity_bytes' '0'"),
        (b"series,timestamp,used_bytes,capacity_bytes\n", "no samples"),
        (gzip.compress(b"series,timestamp,used_bytes,capacity_bytes\n" * 50)[:40], "broken gzip data"),
        (
            b"series,timestamp,used_bytes,capacity_bytes\nx,1710122400,5,9\nx,1710122400000,5,9\n",
            ":3: column 'timestamp' '1710122400000' is not unix seconds between 2000 and 2100 (milliseconds?)",
        ),
        (b"series,timestamp,used_bytes,capacity_bytes\nx,1e30,5,9\n", ":2: column 'timestamp' '1e30' is not unix"),
        (b"series,timestamp,used_bytes,capacity_bytes\nx,1710122400,5,9\ncaf\xe9,1710122400,5,9\n", ":3: not UTF-8"),
        (
            "series,timestamp,used_bytes,capacity_bytes\nx,1710122400,5,9\n/数据,1710122400,5,9\n".encode("gb18030"),
            ":3: not UTF-8 text; it reads as GBK (GB18030), as Excel on a Chinese Windows saves CSV: save it as CSV "
            "UTF-8",
        ),
        (
            b"series,timestamp,used_bytes,capacity_bytes\nx,1710122400,1e300,9\n",
            ":2: column 'used_bytes' '1e300' is 2^63 bytes or more",
        ),
        (
            b'series,timestamp,used_bytes,capacity_bytes\n"x",1710122400,5,9223372036854775808\n',
            ":2: column 'capacity_bytes' '9223372036854775808' is 2^63 bytes or more",
        ),
    ],
    ids=[
        "bad-number",
        "bad-header",
        "short-row",
        "zero-capacity",
        "empty",
        "truncated-gzip",
        "milliseconds",
        "huge-timestamp",
        "latin-1-id",
        "gbk-id",
        "huge-bytes",
        "2^63-bytes",
    ],
)
def test_bad_file_is_a_clear_error(tmp_path: Path, content: bytes, message: str):
    """A bad file exits non-zero with the file, line, column and value named, and no traceback."""
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    done = _run(path)
    assert done.returncode != 0, "a bad file must fail"
    assert str(path) in done.stderr, f"error does not name the file: {done.stderr!r}"
    assert message in done.stderr, f"error does not say {message!r}: {done.stderr!r}"
    assert "Traceback" not in done.stderr, f"traceback shown: {done.stderr}"
    assert done.stdout == "", "nothing half-written on stdout"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (lzma.compress(_csv_text().encode()), ":1: not CSV text in UTF-8"),
        (_csv_text().replace("\n", "\r\n").encode("utf-16"), ":1: not CSV text in UTF-8"),
        (_csv_text().replace("\n", "\r").encode(), ":1: header is 'series,timestamp,used_bytes,capacity_bytes\\r"),
    ],
    ids=["xz-named-gz", "utf-16-crlf", "old-mac-line-endings"],
)
def test_a_file_that_is_not_utf8_csv_text_is_a_clear_error(tmp_path: Path, content: bytes, message: str):
    """Data compressed other than with gzip, UTF-16 text (Windows PowerShell's redirect) or CR-only line endings is
    an error on line 1 that fits on a line, not a traceback nor a dump of the whole file."""
    path = tmp_path / "usage.csv.gz"
    path.write_bytes(content)
    done = _run(path)
    assert done.returncode == 2, f"exit {done.returncode}: {done.stderr[-2000:]}"
    assert "Traceback" not in done.stderr, f"traceback shown: {done.stderr[-2000:]}"
    assert f"{path}{message}" in done.stderr, f"error does not say {message!r}: {done.stderr[:2000]!r}"
    assert len(done.stderr) < 400, f"the error repeats the file: {len(done.stderr)} characters"
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("row", "column"),
    [(f"x,1710122400,{'7' * 100_000}x,9", "used_bytes"), (f"x,{'1' * 100_000},5,9", "timestamp")],
    ids=["long-bad-number", "long-timestamp"],
)
def test_a_long_bad_cell_is_shown_cut(tmp_path: Path, row: str, column: str):
    """A cell of 100,000 characters is named by line and column with its first 200 characters: one error line, not a
    screenful of digits."""
    path = tmp_path / "bad.csv"
    path.write_text(f"series,timestamp,used_bytes,capacity_bytes\n{row}\n")
    done = _run(path)
    assert done.returncode == 2, done.stderr
    assert f"{path}:2: column '{column}' '{row.split(',')[2 if column == 'used_bytes' else 1][:200]}...'" in done.stderr
    assert len(done.stderr) < 500, done.stderr[:600]


def test_missing_file_is_a_clear_error(tmp_path: Path):
    """A path that does not exist is reported as such, exit non-zero, no traceback."""
    done = _run(tmp_path / "nope.csv")
    assert done.returncode != 0
    assert "nope.csv: cannot read" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("redirect", "reason"),
    [(">/dev/full", "No space left on device"), (">&-", "standard output is closed")],
    ids=["disk-full", "stdout-closed"],
)
def test_stdout_that_cannot_take_the_forecasts_is_a_clear_error(plain_csv: Path, redirect: str, reason: str):
    """A full disk behind `> forecasts.jsonl`, or stdout closed, is one error line and exit 1, not a traceback."""
    done = subprocess.run(
        ["sh", "-c", f'exec "$0" capacity forecast "$1" {redirect}', str(DIZUO), str(plain_csv)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"error: cannot write to standard output: {reason}\n"
