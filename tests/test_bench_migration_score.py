"""The migration benchmark scores what a candidate printed as a document: its own result words are not answers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
INSTANCE = ROOT / "tests" / "migration" / "data" / "p-yulin-2.json"
# shared/bench/migration/public_reference.json's entry for this instance.
REFERENCE = {"p-yulin-2": {"status": "optimal", "objective": 2267100, "bound": 2267100.0}}


@pytest.mark.parametrize("printed", ['"ok"', '"infeas-ok"', "[]", "42", "null"])
def test_a_document_that_is_not_an_object_is_bad_json(tmp_path: Path, printed: str) -> None:
    """A candidate printing a JSON string (say "ok", a result word of the scorer) or any other document that is not
    an object scores BAD-JSON and counts as not correct; the greedy anchor beside it is scored as before."""
    instances = tmp_path / "instances"
    instances.mkdir()
    shutil.copy(INSTANCE, instances)
    reference = tmp_path / "reference.json"
    reference.write_text(json.dumps({"instances": REFERENCE}), encoding="utf-8")
    candidate = tmp_path / "candidate.sh"
    candidate.write_text(f"#!/bin/sh\necho '{printed}'\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "migration" / "run.py"),
            "--instances",
            str(instances),
            "--reference",
            str(reference),
            "--candidate",
            f"sh {candidate}",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [row] = [line for line in done.stdout.splitlines() if "candidate" in line and "p-yulin-2" in line]
    assert "BAD-JSON" in row, done.stdout
    assert "candidate: 0/1 correct" in done.stdout, done.stdout
    assert "greedy: 1/1 correct" in done.stdout, done.stdout
