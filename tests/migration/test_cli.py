"""`dizuo migrate plan` end to end: one JSON document on stdout, exit codes of FORMAT.md."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from click.testing import Result
from typer.testing import CliRunner

from dizuo.cli import app
from dizuo.migration import solve as solve_module
from dizuo.migration import waves as waves_module
from dizuo.migration.instance import load_instance
from dizuo.migration.validate import check_plan, parse_plan

from .conftest import (
    GIB,
    TIB,
    allow_no_repairs,
    core_plan_then_one_byte_short,
    document,
    one_byte_over,
    system,
    target,
)
from .test_waves import hard_packing_systems

DIZUO = Path(sys.executable).with_name("dizuo")


def _run(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(DIZUO), "migrate", "plan", str(path), "--time-limit", "30"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _write(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "instance.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_plan_on_stdout_is_one_valid_document(tmp_path: Path) -> None:
    """A feasible instance: exit 0, stdout is exactly one plan JSON that passes every rule."""
    doc = document(
        [
            system("a", 4, {"A": 10, "B": 30}),
            system("b", 4, {"A": 20, "B": 10}, deps=("a",)),
            system("c", 4, {"A": 50, "B": None}),
        ],
        [target("A", 6), target("B", 6)],
        keep_tib=4,
        wave_tib=5,
    )
    path = _write(tmp_path, doc)
    done = _run(path)
    assert done.returncode == 0, done.stderr
    plan = parse_plan(json.loads(done.stdout))
    assert check_plan(load_instance(path), plan) == []
    assert dict(plan.assignments) == {"a": "A", "b": "B", "c": None}, plan.assignments
    assert "Migration plan" in done.stderr, "the summary table goes to stderr"


def test_the_document_says_how_the_solve_ended_as_plan_json_does(tmp_path: Path) -> None:
    """Beside FORMAT.md's keys, stdout carries the solver's status, its bound and plan.json's `solver` object, so a
    reader of the document alone (the benchmark) can tell a proven plan from one a limit stopped."""
    doc = document(
        [system("a", 4, {"A": 10, "B": 30}), system("b", 4, {"A": 20, "B": 10})],
        [target("A", 6), target("B", 6)],
        keep_tib=4,
        wave_tib=5,
    )
    done = _run(_write(tmp_path, doc))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["status"] == "optimal", answer
    assert answer["bound_cny"] == 10, answer
    assert answer["solver"] == {"stopped": None, "gap": 0.0, "repairs": 0, "greedy": False}, answer


def test_infeasible_instance_exits_0_with_a_reason(tmp_path: Path) -> None:
    """No plan exists: exit 0 and {"infeasible": true, "reason": ...} on stdout."""
    doc = document([system("a", 5, {"A": 1}, cores=8)], [target("A", 10, cores=4)], keep_tib=0)
    done = _run(_write(tmp_path, doc))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["infeasible"] is True
    assert answer["reason"].startswith("relief needs 5.0 TiB"), answer["reason"]
    assert answer["status"] == "infeasible", answer


def test_bad_instance_exits_2_with_located_problems(tmp_path: Path) -> None:
    """An invalid file: exit 2, nothing on stdout, each problem with file, key path and value on stderr."""
    doc = document([system("a", 5, {"A": 1, "Z": 2})], [target("A", 10)], keep_tib=0)
    doc["wave_bytes"] = "big"
    path = _write(tmp_path, doc)
    done = _run(path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert f"{path}: wave_bytes: " in done.stderr, done.stderr
    assert "'big'" in done.stderr, done.stderr


def test_an_id_with_surrounding_whitespace_exits_2_instead_of_a_plan_with_another_id(tmp_path: Path) -> None:
    """System id "a " is refused (exit 2, located on stderr), never planned as "a"."""
    doc = document([system("a ", 10, {"A": 100}), system("b", 1, {"A": 1})], [target("A", 100)], keep_tib=6)
    path = _write(tmp_path, doc)
    done = _run(path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert f"{path}: systems[0].id: leading or trailing whitespace in a name" in done.stderr, done.stderr
    assert "'a '" in done.stderr, done.stderr


def test_json_python_cannot_decode_exits_2_not_a_traceback(tmp_path: Path) -> None:
    """Nesting deeper than the decoder's recursion limit is a bad input (exit 2), not a crash (exit 1)."""
    path = tmp_path / "deep.json"
    path.write_text("[" * 100_000, encoding="utf-8")
    done = _run(path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert f"error: {path}: invalid JSON: nested too deeply" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_with_stdout_closed_the_plan_is_refused_before_the_solver_runs() -> None:
    """`dizuo migrate plan INSTANCE >&-`: with nowhere to put the plan, it says so and exits 1 before building the
    model or running HiGHS, instead of after minutes of solving."""
    instance = Path(__file__).parent / "data" / "p-yulin-1.json"
    done = subprocess.run(
        ["sh", "-c", 'exec "$0" migrate plan "$1" >&-', str(DIZUO), str(instance)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == "error: cannot write to standard output: standard output is closed\n", done.stderr


def test_what_a_solver_prints_from_c_goes_to_stderr_not_into_the_json() -> None:
    """HiGHS writes some diagnostics with C/C++ stdio, past Python's sys.stdout: inside the solver guard they land
    on stderr (also what sat in C's buffer), and stdout holds the document alone."""
    program = (
        "import ctypes, os, sys\n"
        "from dizuo.migration.cli import solver_output_to_stderr\n"
        "with solver_output_to_stderr():\n"
        "    ctypes.CDLL(None).printf(b'HighsMipSolverData::transformNewIntegerFeasibleSolution tmpSolver.run();\\n')\n"
        "    os.write(1, b'raw write to fd 1\\n')\n"
        "    print('python print')\n"
        'sys.stdout.write(\'{"assignments": {}, "waves": []}\\n\')\n'
    )
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == {"assignments": {}, "waves": []}, done.stdout
    for noise in ("tmpSolver.run();", "raw write to fd 1", "python print"):
        assert noise in done.stderr, f"{noise!r} not on stderr: {done.stderr!r}"


@pytest.mark.parametrize(
    ("a_gib", "pool_gib", "need_gib", "short"),
    [
        (60, 5, 10, "relief needs 10.0 GiB; at most 0.0 GiB can move"),  # a fits no pool: nothing can move
        (10 * 1024, 10 * 1024, 10 * 1024 + 40, "relief needs 10.04 TiB; at most 10.00 TiB can move"),
    ],
    ids=["gib", "close"],
)
def test_an_infeasible_reason_shows_the_need_and_what_can_move_apart(
    tmp_path: Path, a_gib: int, pool_gib: int, need_gib: int, short: str
) -> None:
    """A relief of some GiB, or one just above what can move, reads as two different figures, never 0.0 TiB twice."""
    doc = document([system("a", 0, {"A": 100}), system("b", 100, {"A": None})], [target("A", 0)], keep_tib=0)
    doc["systems"][0]["projected_bytes"] = a_gib * GIB  # b can run nowhere: only a may move
    doc["targets"][0]["storage_bytes"] = pool_gib * GIB
    doc["legacy"]["target_bytes"] = 100 * TIB + (a_gib - need_gib) * GIB
    done = _run(_write(tmp_path, doc))
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["infeasible"] is True, answer
    assert answer["reason"].startswith(short), answer["reason"]


def _highs_says(monkeypatch: pytest.MonkeyPatch, status: int, message: str) -> None:
    """Real HiGHS runs, then its answer is replaced by ``status`` without a plan (scipy.optimize.milp's codes)."""
    real = solve_module.milp

    def patched(*args: object, **kwargs: object) -> SimpleNamespace:
        real(*args, **kwargs)
        return SimpleNamespace(x=None, status=status, mip_dual_bound=None, message=message)

    monkeypatch.setattr(solve_module, "milp", patched)


def _plan_in_process(tmp_path: Path) -> tuple[Result, Path]:
    """`dizuo migrate plan` in this process (so a patched solver is the one it calls) on an instance with plans:
    exit 0 asserted."""
    doc = document(
        [system(f"s{i}", 2 + i, {"A": 10 * (i + 1), "B": 15 * (i + 1)}, cores=2) for i in range(6)],
        [target("A", 10, cores=4), target("B", 12)],
        keep_tib=10,
    )
    path = _write(tmp_path, doc)
    result = CliRunner().invoke(app, ["migrate", "plan", str(path), "--time-limit", "30"])
    assert result.exit_code == 0, result.stderr
    return result, path


def test_a_valid_plan_in_hand_wins_over_highs_claiming_none_exists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """HiGHS reporting the full model infeasible while a plan passes the exact check: the plan, with a warning."""
    _highs_says(monkeypatch, 2, "infeasible (patched)")
    result, path = _plan_in_process(tmp_path)
    document_out = json.loads(result.stdout)
    assert "infeasible" not in document_out, f"a plan exists, yet stdout claims none: {document_out}"
    assert check_plan(load_instance(path), parse_plan(document_out)) == []
    assert "warning: HiGHS reports no plan exists, yet a plan at 195 CNY passes the exact check" in result.stderr
    assert "heuristic" in result.stderr, "the plan is not proven optimal"


def test_greedy_fallback_shows_the_bound_and_gap_when_highs_finds_nothing_in_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No HiGHS plan in time on a small model: the greedy plan's summary gives the LP bound and its gap."""
    _highs_says(monkeypatch, 1, "Time limit reached. (HiGHS Status 13: model_status is Time limit reached; patched)")
    result, _ = _plan_in_process(tmp_path)
    assert "fallback: greedy plan at 195 CNY, bound 150, gap 23.076923%" in result.stderr
    assert "150 CNY / 23.07692%" in result.stderr, f"the summary lacks bound / gap:\n{result.stderr}"


def test_a_plan_stopped_by_its_repair_limit_says_so_in_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dizuo migrate plan` whose MILP ran out of rounding repairs (none allowed here, HiGHS's first plan one byte
    over) prints the plan kept, the greedy one the core seeded the fixing with, and says in the summary that it kept
    the greedy plan as HiGHS stopped after that many repairs, not at a time limit nor as HiGHS's plan."""
    allow_no_repairs(monkeypatch, core_min_vars=1)  # a core MILP first, as on a large model
    path = _write(tmp_path, one_byte_over())
    result = CliRunner().invoke(app, ["migrate", "plan", str(path), "--time-limit", "3600"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert check_plan(load_instance(path), parse_plan(json.loads(result.stdout))) == []
    summary = " ".join(result.stderr.split())
    assert "core of 1 columns: the greedy plan (none of its own as cheap) at 30 CNY" in summary, summary
    assert "fallback: greedy plan at 30 CNY" in summary, summary
    assert "heuristic (greedy plan kept: HiGHS stopped after 1 rounding repair)" in summary, summary
    assert "repair_limit" not in summary, summary
    assert "time limit" not in summary, summary
    assert "time_limit" not in summary, summary


def test_highs_s_own_plan_at_its_repair_limit_says_so_in_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dizuo migrate plan` where HiGHS's core gives a plan that holds and the full MILP's breaks by a byte, no repair
    allowed, prints HiGHS's plan and says in the summary it stopped at its repair limit after 1 rounding repair, as
    the log and PLAN.md say it, not that the greedy plan was kept."""
    allow_no_repairs(monkeypatch, core_min_vars=2)
    path = _write(tmp_path, core_plan_then_one_byte_short())
    result = CliRunner().invoke(app, ["migrate", "plan", str(path), "--time-limit", "3600"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["assignments"] == {"x": "A", "y": "A", "z": None}
    assert answer["status"] == "repair_limit", answer
    assert answer["solver"]["stopped"] == "repair limit", answer
    assert answer["solver"]["repairs"] == 1, answer
    summary = " ".join(result.stderr.split())
    assert "repair limit (stopped after 1 rounding repair): plan at 12 CNY, bound 10" in summary, summary
    assert "│ repair_limit (stopped after 1 rounding repair) │" in summary, summary
    assert "greedy" not in summary, summary


def test_a_wave_search_stopped_at_its_work_limit_is_said_in_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`dizuo migrate plan` whose search for fewer waves ends at its work limit (one HiGHS node here) prints the
    heuristics' waves and says in the summary that the search stopped there, not that they are the fewest."""
    monkeypatch.setattr(waves_module, "SEARCH_WORK", 1)
    path = _write(tmp_path, document(hard_packing_systems(), [target("A", 10**6)], keep_tib=0, wave_tib=100))
    result = CliRunner().invoke(app, ["migrate", "plan", str(path), "--wave-time-limit", "3600"])
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)["waves"]) == 9
    summary = " ".join(result.stderr.split())
    assert "9 / 8 (FFD, ready first, search stopped at its work" in summary, summary  # the table wraps the rest
    assert "waves: HiGHS stopped at its work limit before it could tell whether 8 waves do" in summary, summary
