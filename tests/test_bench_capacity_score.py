"""The capacity benchmark's scorer reads only what FORMAT.md calls a prediction: anything else is a bad line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ASOF = 1_000_000
TRUTH = [
    {"series": "full-soon", "asof": ASOF, "exhaustion_at": ASOF + 3600},
    {"series": "never", "asof": ASOF, "exhaustion_at": None},
]
GOOD = '{"series": "never", "exhaustion_at": null}'


def _score(tmp_path: Path, predictions: list[str]) -> dict[str, float]:
    truth = tmp_path / "truth.jsonl"
    truth.write_text("".join(json.dumps(row) + "\n" for row in TRUTH), encoding="utf-8")
    predicted = tmp_path / "predictions.jsonl"
    predicted.write_text("".join(line + "\n" for line in predictions), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "capacity" / "score.py"), str(predicted), str(truth)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    scores: dict[str, float] = json.loads(done.stdout)
    return scores


@pytest.mark.parametrize(
    "value",
    ["NaN", "Infinity", "-Infinity", "1e999", "1" + "0" * 400, '"2024-03-08T00:00:00Z"', "true", "{}", "[1007200]"],
)
@pytest.mark.parametrize("key", ["exhaustion_at", "p10", "p90"])
def test_a_time_that_is_not_unix_seconds_or_null_is_a_bad_line(tmp_path: Path, key: str, value: str) -> None:
    """NaN (which Python's json reads, JSON has not), an integer too large for a float, text, true or an object
    where unix seconds or null belong is a bad line, its series scored as null (not "full now", not a crash), just
    as if the line were missing."""
    times = {"exhaustion_at": str(ASOF + 3600), "p10": str(ASOF), "p90": str(ASOF + 7200)} | {key: value}
    line = '{"series": "never", ' + ", ".join(f'"{k}": {v}' for k, v in times.items()) + "}"
    scores = _score(tmp_path, [line])
    assert scores.pop("bad_lines") == 1, line
    missing = _score(tmp_path, [])
    assert missing.pop("bad_lines") == 0
    assert scores == missing, "the series counts as not predicted"
    assert scores["FA/100@24h"] == 0.0, "a bad line is no false alarm"


def test_good_lines_are_scored_beside_bad_ones(tmp_path: Path) -> None:
    """Predictions as FORMAT.md gives them (integer or fractional unix seconds, null) are read around bad lines."""
    lines = ['{"series": "full-soon", "exhaustion_at": 1003600.5}', "not json", '{"series": "x", "p10": NaN}', GOOD]
    scores = _score(tmp_path, lines)
    assert scores["bad_lines"] == 2
    assert scores["R@24h"] == 1.0, "full-soon was read"
    assert scores["FA/100@24h"] == 0.0, "never was read as null"
