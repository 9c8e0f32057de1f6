"""How far ahead can usage be planned? dizuo's usage projection (the migration's sizes) next to linear anchors.

Usage: python bench/capacity/projection.py [--bench-data DIR] [--seeds 1,2] [--count 500]

`dizuo migrate city --prometheus-url` sizes a plan by `dizuo.capacity.forecast.project_usage`: each volume's daily
peak some days ahead. Two truths, scored side by side in one run:

- synthetic (bench/capacity/synthetic.py, one set per seed): each series' hidden 30-day continuation; the truth is
  the peak of the local day 7, 14 and 28 days after asof;
- public (../shared/bench/capacity/public.csv.gz next to the clone, or under --bench-data DIR or
  DIZUO_BENCH_DATA): its own history, cut 7 and 14 days before its last complete day; the truth is that day's peak
  (a day with under half its samples is left out).

Models: dizuo (median projection; its p90 for coverage); pl24h and lin7d, the least-squares line through the last
24 h / 7 d of usage (Prometheus `predict_linear`), its highest value on the target day; last, the peak of the last
24 h (no growth). Per set and days ahead: median and p90 absolute error in % of capacity, the median signed error
(bias, + = over), the error of the sum over all series (a pool holds many volumes), and for dizuo the share of
truths at or under its p90 projection (goal: about 90 %).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # public_sets
import public_sets
from synthetic import generate

from dizuo.capacity.calendar_cn import SECONDS_PER_DAY, UTC_OFFSET_SECONDS
from dizuo.capacity.csvio import read_usage_csv
from dizuo.capacity.forecast import project_usage
from dizuo.capacity.types import UsageHistory

SLOT = 900
SYNTHETIC_AHEAD = (7, 14, 28)
PUBLIC_AHEAD = (7, 14)
MIN_DAY_SAMPLES = 48  # of 96: a day with fewer says little about its peak
MIN_HISTORY_DAYS = 7


@dataclass(frozen=True)
class Case:
    """Histories to project and the true peak of the target day of each."""

    histories: list[UsageHistory]
    truth: np.ndarray  # bytes
    capacity: np.ndarray  # bytes


def _day(t: np.ndarray | int) -> np.ndarray:
    return (np.asarray(t) + UTC_OFFSET_SECONDS) // SECONDS_PER_DAY


def synthetic_case(seed: int, count: int, ahead: int) -> Case:
    """The generated set of ``seed``: histories as written, truths from the hidden continuation."""
    series = generate(seed, count)
    histories, truth, capacity = [], [], []
    for s in series:
        times = s.asof + SLOT * (np.arange(s.future.size) + 1)
        on_day = _day(times) == _day(s.asof) + ahead
        histories.append(UsageHistory(s.series, s.timestamps, s.used.astype(np.float64), s.capacity.astype(np.float64)))
        truth.append(float(s.future[on_day].max()))
        capacity.append(float(s.capacity[-1]))
    return Case(histories, np.array(truth), np.array(capacity))


def public_case(histories: Sequence[UsageHistory], ahead: int) -> Case:
    """Each history cut so that its last complete day lies ``ahead`` days after the cut."""
    cut_histories, truth, capacity = [], [], []
    for h in histories:
        target = int(_day(h.timestamps[-1])) - 1
        cut = int(h.timestamps[-1]) - (ahead + 1) * SECONDS_PER_DAY
        end = int(np.searchsorted(h.timestamps, cut, side="right"))
        on_day = _day(h.timestamps) == target
        if (
            end < MIN_HISTORY_DAYS * 96
            or on_day.sum() < MIN_DAY_SAMPLES
            or int(_day(h.timestamps[end - 1])) + ahead != target
        ):
            continue
        cut_histories.append(UsageHistory(h.series, h.timestamps[:end], h.used_bytes[:end], h.capacity_bytes[:end]))
        truth.append(float(h.used_bytes[on_day].max()))
        capacity.append(float(h.capacity_bytes[end - 1]))
    return Case(cut_histories, np.array(truth), np.array(capacity))


def linear(histories: Sequence[UsageHistory], window_s: int, ahead: int) -> np.ndarray:
    """The line through the last ``window_s`` of usage, its highest value on the day ``ahead`` days after asof."""
    out = np.empty(len(histories))
    for k, h in enumerate(histories):
        t, y = h.timestamps.astype(np.float64), h.used_bytes
        keep = t >= t[-1] - window_s
        slope, intercept = np.polyfit(t[keep] - t[-1], y[keep], 1) if keep.sum() > 1 else (0.0, y[-1])
        day_start = (int(_day(h.timestamps[-1])) + ahead) * SECONDS_PER_DAY - UTC_OFFSET_SECONDS - t[-1]
        out[k] = intercept + slope * (day_start + (SECONDS_PER_DAY if slope > 0 else 0))
    return out


def last_peak(histories: Sequence[UsageHistory]) -> np.ndarray:
    return np.array([float(h.used_bytes[h.timestamps >= h.timestamps[-1] - SECONDS_PER_DAY].max()) for h in histories])


def score(name: str, predicted: np.ndarray, case: Case) -> list[str]:
    share = (predicted - case.truth) / case.capacity * 100
    aggregate = (predicted.sum() - case.truth.sum()) / case.truth.sum() * 100
    return [
        name,
        f"{np.median(np.abs(share)):.2f}",
        f"{np.percentile(np.abs(share), 90):.2f}",
        f"{np.median(share):+.2f}",
        f"{aggregate:+.2f}",
    ]


def table(title: str, case: Case, ahead: int) -> Table:
    projections = project_usage(case.histories, ahead)
    median = np.array([p.median_bytes for p in projections])
    high = np.array([p.high_bytes for p in projections])
    out = Table(title=f"{title}: {len(case.histories)} series, peak {ahead} days ahead")
    for column in ("model", "medAE %cap", "p90AE %cap", "bias %cap", "sum err %", "truth <= p90"):
        out.add_column(column, justify="left" if column == "model" else "right")
    out.add_row(*score("dizuo", median, case), f"{np.mean(case.truth <= high):.1%}")
    out.add_row(*score("pl24h", linear(case.histories, SECONDS_PER_DAY, ahead), case), "")
    out.add_row(*score("lin7d", linear(case.histories, 7 * SECONDS_PER_DAY, ahead), case), "")
    out.add_row(*score("last", last_peak(case.histories), case), "")
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", default="1,2", help="synthetic sets, comma-separated seeds")
    parser.add_argument("--count", type=int, default=500, help="series per synthetic set")
    public_sets.add_option(parser)
    args = parser.parse_args()
    (data,) = public_sets.locate(args.bench_data, "capacity", [("", None, "public.csv.gz")])
    console = Console(width=120)
    public = read_usage_csv(data)
    for ahead in PUBLIC_AHEAD:
        console.print(table("public (history cut)", public_case(public, ahead), ahead))
    for seed in (int(s) for s in args.seeds.split(",") if s.strip()):
        for ahead in SYNTHETIC_AHEAD:
            console.print(table(f"synthetic seed {seed}", synthetic_case(seed, args.count, ahead), ahead))
    return 0


if __name__ == "__main__":
    sys.exit(main())
