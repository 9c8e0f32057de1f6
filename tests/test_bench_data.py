"""The benchmarks read their public sets from outside the repository, and say so when the sets are not there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dizuo.exit_codes import BAD_INPUT

ROOT = Path(__file__).resolve().parents[1]
# Each script that reads a public set, and the files it needs from <bench data>/<benchmark>/.
CAPACITY_SET = ("public.csv.gz", "public_truth.jsonl")
SCRIPTS = {
    "migration/run.py": ("public", "public_reference.json"),
    "capacity/run.py": CAPACITY_SET,
    "capacity/bands.py": CAPACITY_SET,
    "capacity/calibration.py": CAPACITY_SET,
    "capacity/history_backtest.py": ("public.csv.gz",),
    "capacity/projection.py": ("public.csv.gz",),
}


def _bench(script: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "DIZUO_BENCH_DATA"}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**clean, **(env or {})},
    )


@pytest.mark.parametrize("script", sorted(SCRIPTS))
@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_missing_public_set_is_named_with_where_it_is_expected(tmp_path: Path, script: str, how: str):
    """Without its public set a benchmark script exits 2 naming each missing file and ../shared/bench, not a
    traceback, whether the folder was given by --bench-data or DIZUO_BENCH_DATA."""
    empty = tmp_path / "bench-data"
    empty.mkdir()
    done = (
        _bench(script, "--bench-data", str(empty))
        if how == "option"
        else _bench(script, env={"DIZUO_BENCH_DATA": str(empty)})
    )
    assert done.returncode == BAD_INPUT, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    benchmark = script.split("/", maxsplit=1)[0]
    for name in SCRIPTS[script]:
        assert f"{empty / benchmark / name}: not found" in done.stderr, done.stderr
    assert "../shared/bench/ next to the clone" in done.stderr, done.stderr


def test_a_file_named_by_its_own_option_is_checked_too(tmp_path: Path):
    """--reference given but missing is named by its option, before any instance is solved."""
    done = _bench("migration/run.py", "--instances", str(tmp_path), "--reference", str(tmp_path / "nope.json"))
    assert done.returncode == BAD_INPUT, done.stderr
    assert f"{tmp_path / 'nope.json'}: not found (from --reference)" in done.stderr, done.stderr
    assert f"{tmp_path}: not found" not in done.stderr, "the folder given exists"
