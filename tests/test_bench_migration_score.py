"""The migration benchmark scores what a candidate printed as a document: its own result words are not answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dizuo.migration.instance import load_instance

ROOT = Path(__file__).resolve().parents[1]
INSTANCE = ROOT / "tests" / "migration" / "data" / "p-yulin-2.json"
# shared/bench/migration/public_reference.json's entry for this instance.
REFERENCE = {"p-yulin-2": {"status": "optimal", "objective": 2267100, "bound": 2267100.0}}


def _bench(tmp_path: Path, candidate: str | None) -> str:
    """run.py on p-yulin-2 alone with ``candidate`` (None: the default, `dizuo migrate plan`); its stdout."""
    instances = tmp_path / "instances"
    instances.mkdir()
    shutil.copy(INSTANCE, instances)
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps({"instances": REFERENCE}), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "migration" / "run.py"),
            "--instances",
            str(instances),
            "--reference",
            str(reference),
            *([] if candidate is None else ["--candidate", candidate]),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _row(stdout: str, solver: str) -> str:
    [row] = [
        line
        for line in stdout.splitlines()
        if f" {solver} " in line and ("p-yulin-2" in line) == (solver == "candidate")
    ]
    return row


@pytest.mark.parametrize("printed", ['"ok"', '"infeas-ok"', "[]", "42", "null"])
def test_a_document_that_is_not_an_object_is_bad_json(tmp_path: Path, printed: str) -> None:
    """A candidate printing a JSON string (say "ok", a result word of the scorer) or any other document that is not
    an object scores BAD-JSON and counts as not correct; the greedy anchor beside it is scored as before."""
    candidate = tmp_path / "candidate.sh"
    candidate.write_text(f"#!/bin/sh\necho '{printed}'\n", encoding="utf-8")
    stdout = _bench(tmp_path, f"sh {candidate}")
    assert "BAD-JSON" in _row(stdout, "candidate"), stdout
    assert "candidate: 0/1 correct" in stdout, stdout
    assert "greedy: 1/1 correct" in stdout, stdout


def test_the_planner_s_status_bound_and_gap_are_shown_beside_its_cost(tmp_path: Path) -> None:
    """The default candidate, `dizuo migrate plan`, on p-yulin-2: its row shows the status its document reports
    (optimal), its own bound and gap next to the cost, and the status tally says one optimal; the greedy anchor
    reports none."""
    stdout = _bench(tmp_path, None)
    row = _row(stdout, "candidate")
    assert " ok " in row, stdout
    assert "optimal" in row, f"no solver status in the candidate's row:\n{stdout}"
    assert "2,267,100 / 0.0000%" in row, f"no own bound / gap in the candidate's row:\n{stdout}"
    assert "candidate solver status: 1 optimal" in stdout, stdout
    assert "optimal" not in _row(stdout, "greedy"), stdout


def test_a_plan_a_limit_stopped_does_not_read_like_an_optimal_one(tmp_path: Path) -> None:
    """A valid plan whose document says HiGHS stopped at its time limit (status time_limit, bound and gap) scores ok
    with its cost, and the row and the tally say time_limit with that bound and gap, not optimal."""
    sys.path.insert(0, str(ROOT / "bench" / "migration"))
    try:
        from greedy import greedy  # noqa: PLC0415 - the bench's own module, importable only from its folder
    finally:
        sys.path.remove(str(ROOT / "bench" / "migration"))
    document = {
        **greedy(load_instance(INSTANCE)),
        "status": "time_limit",
        "bound_cny": 2_000_000.0,
        "solver": {"stopped": "time limit", "gap": 0.125, "repairs": 0, "greedy": False},
    }
    answer = tmp_path / "answer.json"
    answer.write_text(json.dumps(document), encoding="utf-8")
    candidate = tmp_path / "candidate.sh"
    candidate.write_text(f"#!/bin/sh\ncat '{answer}'\n", encoding="utf-8")
    stdout = _bench(tmp_path, f"sh {candidate}")
    row = _row(stdout, "candidate")
    assert " ok " in row, stdout
    assert "2,912,400" in row, stdout
    assert "time_limit" in row, f"the stopped plan's status is not shown:\n{stdout}"
    assert "optimal" not in row, stdout
    assert "2,000,000 / 12.5000%" in row, stdout
    assert "candidate solver status: 1 time_limit" in stdout, stdout
