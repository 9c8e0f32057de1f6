"""Score exhaustion forecasts against the truth, as FORMAT.md (shared/bench/capacity) describes.

Usage: python bench/capacity/score.py PREDICTIONS.jsonl TRUTH.jsonl
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HORIZON_S = 30 * 86400
ALERT_HORIZONS = {"24h": 24 * 3600, "4d": 4 * 86400}


@dataclass(frozen=True)
class Truth:
    series: str
    asof: int
    exhaustion_at: int | None


@dataclass(frozen=True)
class Prediction:
    exhaustion_at: float | None
    p10: float | None = None
    p90: float | None = None


def read_truth(path: Path) -> list[Truth]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [Truth(r["series"], int(r["asof"]), r["exhaustion_at"]) for r in rows]


def _not_json(constant: str) -> None:
    """Python's json reads NaN, Infinity and -Infinity, which JSON has not (RFC 8259): such a line is not valid."""
    raise ValueError(f"{constant} is not JSON")


def _time(value: object) -> int | float | None:
    """A time of the output (unix seconds) or null; ValueError for anything else: text, true, a number too large
    to be a time (1e999 reads as infinity, an integer of 400 digits has no float)."""
    if value is None:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            if math.isfinite(value):
                return value
        except OverflowError:
            pass
    raise ValueError(f"not unix seconds or null: {str(value)[:40]!r}")


def read_predictions(lines: list[str]) -> tuple[dict[str, Prediction], int]:
    """Predictions by series and the number of bad lines: not JSON, or not an object with a series whose
    exhaustion_at, p10 and p90 are each unix seconds or null. The series of a bad line counts as null."""
    out: dict[str, Prediction] = {}
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line, parse_constant=_not_json)
            times = [_time(obj.get(key)) for key in ("exhaustion_at", "p10", "p90")]
            out[str(obj["series"])] = Prediction(*times)
        except (ValueError, KeyError, TypeError, AttributeError):
            bad += 1
    return out, bad


def _clip(asof: int, at: float | None) -> float:
    """Seconds after asof; +inf for null or beyond 30 days; earlier than asof counts as asof."""
    if at is None:
        return math.inf
    delta = max(0.0, float(at) - asof)
    return math.inf if delta > HORIZON_S else delta


def score(truth: list[Truth], predictions: dict[str, Prediction]) -> dict[str, float]:
    """The FORMAT.md metrics: P/R/F1 and FA/100 per alert horizon, errors in hours, miss30, coverage."""
    t = np.array([_clip(x.asof, x.exhaustion_at) for x in truth])
    p = np.array([_clip(x.asof, predictions.get(x.series, Prediction(None)).exhaustion_at) for x in truth])
    result: dict[str, float] = {}
    for name, h in ALERT_HORIZONS.items():
        tp = float(np.sum((t <= h) & (p <= h)))
        fp = float(np.sum((t > h) & (p <= h)))
        fn = float(np.sum((t <= h) & (p > h)))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        result[f"P@{name}"] = prec
        result[f"R@{name}"] = rec
        result[f"F1@{name}"] = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        result[f"FA/100@{name}"] = 100.0 * fp / len(truth)
    filling = np.isfinite(t)
    err_h = np.abs(np.minimum(p, HORIZON_S) - t)[filling] / 3600.0
    result["medAE_h"] = float(np.median(err_h)) if err_h.size else math.nan
    result["p90AE_h"] = float(np.percentile(err_h, 90)) if err_h.size else math.nan
    result["miss30"] = float(np.mean(~np.isfinite(p[filling]))) if filling.any() else math.nan
    has_band = [predictions.get(x.series, Prediction(None)) for x in truth]
    if any(b.p10 is not None or b.p90 is not None for b in has_band):
        lo = np.array([_clip(x.asof, b.p10) for x, b in zip(truth, has_band, strict=True)])
        hi = np.array([_clip(x.asof, b.p90) for x, b in zip(truth, has_band, strict=True)])
        inside = (lo <= t) & (t <= hi)
        result["cov80"] = float(np.mean(inside))
        result["covF"] = float(np.mean(inside[filling])) if filling.any() else math.nan
    return result


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    preds, bad = read_predictions(Path(argv[0]).read_text().splitlines())
    scores = score(read_truth(Path(argv[1])), preds)
    print(json.dumps({**scores, "bad_lines": bad}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
