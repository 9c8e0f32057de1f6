"""The benchmarks read their public sets from outside the repository, and say so when the sets are not there."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dizuo.exit_codes import BAD_INPUT

ROOT = Path(__file__).resolve().parents[1]
# Each benchmark that scores a public set, and the files it needs from <bench data>/<benchmark>/.
BENCHMARKS = {
    "migration": ("public", "public_reference.json"),
    "capacity": ("public.csv.gz", "public_truth.jsonl"),
}


def _bench(benchmark: str, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k != "DIZUO_BENCH_DATA"}
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / benchmark / "run.py"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**clean, **(env or {})},
    )


@pytest.mark.parametrize("benchmark", sorted(BENCHMARKS))
@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_missing_public_set_is_named_with_where_it_is_expected(tmp_path: Path, benchmark: str, how: str):
    """Without its public set a benchmark exits 2 naming each missing file and ../shared/bench, not a traceback."""
    empty = tmp_path / "bench-data"
    empty.mkdir()
    done = (
        _bench(benchmark, "--bench-data", str(empty))
        if how == "option"
        else _bench(benchmark, env={"DIZUO_BENCH_DATA": str(empty)})
    )
    assert done.returncode == BAD_INPUT, done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    for name in BENCHMARKS[benchmark]:
        assert f"{empty / benchmark / name}: not found" in done.stderr, done.stderr
    assert "../shared/bench/ next to the clone" in done.stderr, done.stderr


def test_a_file_named_by_its_own_option_is_checked_too(tmp_path: Path):
    """--reference given but missing is named by its option, before any instance is solved."""
    done = _bench("migration", "--instances", str(tmp_path), "--reference", str(tmp_path / "nope.json"))
    assert done.returncode == BAD_INPUT, done.stderr
    assert f"{tmp_path / 'nope.json'}: not found (from --reference)" in done.stderr, done.stderr
    assert f"{tmp_path}: not found" not in done.stderr, "the folder given exists"
