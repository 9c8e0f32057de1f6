"""Is dizuo's lead biased, is its p10-p90 band calibrated, and how firm is its median error? Four checks per set.

Usage: python bench/capacity/calibration.py [--bench-data DIR] [--data CSV] [--truth JSONL] [--synthetic-seeds 1,2,3]
                                           [--synthetic-mixes default,recent-knees] [--resamples 2000]

1. Bias by *predicted* lead: the median log(predicted / true lead) of the series dizuo puts in each band.
   Banding by predicted lead is what a user sees; banding by true lead would select the series whose future
   ran faster or slower than expected and show a bias that is not there.
2. Stretch: the median error when every predicted lead beyond 24 h is stretched by a factor around 1
   (24 h + (lead - 24 h) x factor), with the share of paired resamples in which it is lower than unstretched,
   and F1@4d and false alarms under the same stretch. A lead bias worth correcting shows as a minimum away
   from 1 that the sets agree on, without costing the 4-day alerts.
3. The p10-p90 band by predicted lead: the share of true leads inside it (80 % if calibrated), and the mean
   quantile loss of p10 and p90 over all series in hours (a proper score: lower is better, for a band that is
   both calibrated and narrow).
4. Paired bootstrap over the truly filling series: dizuo's median error with its 90 % interval, and the share
   of resamples in which it is at most half the best anchor's (the goal of issue 4) on the same resample.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic
from bands import _lead_hours
from run import (
    LINEAR_ANCHORS,
    _mixes,
    _seeds,
    add_public_set_options,
    as_predictions,
    locate_public_set,
    predict_linear,
)
from score import HORIZON_S, Prediction, Truth, read_truth, score

from dizuo.capacity.csvio import read_usage_csv
from dizuo.capacity.forecast import forecast_histories
from dizuo.capacity.types import UsageHistory

PREDICTED_BANDS_H = ((0, 24), (24, 48), (48, 96), (96, 192), (192, 720))
STRETCHES = (0.90, 0.95, 1.00, 1.05, 1.10)
STRETCH_FROM_H = 24.0  # short leads are decided by the last hours, not by a growth rate: left as they are
HORIZON_H = HORIZON_S / 3600


def _hours(truth: list[Truth], predictions: dict[str, Prediction]) -> np.ndarray:
    """Leads in hours as score.py counts errors (bands.py's reading), per truth row."""
    return np.array([_lead_hours(t.asof, predictions.get(t.series, Prediction(None)).exhaustion_at) for t in truth])


def _as_predictions(truth: list[Truth], lead_hours: np.ndarray) -> dict[str, Prediction]:
    """Leads in hours back to exhaustion times; the 30-day horizon is "never"."""
    return {
        t.series: Prediction(None if lead >= HORIZON_H else t.asof + round(lead * 3600))
        for t, lead in zip(truth, lead_hours, strict=True)
    }


def _quantile_loss(truth: np.ndarray, quantile: np.ndarray, level: float) -> np.ndarray:
    """Pinball loss of a predicted `level` quantile against the truth, per series (hours in, hours out)."""
    loss: np.ndarray = np.where(truth >= quantile, level * (truth - quantile), (1 - level) * (quantile - truth))
    return loss


def _sets(args: argparse.Namespace) -> Iterator[tuple[str, list[Truth], list[UsageHistory]]]:
    yield args.data.name.split(".")[0], read_truth(args.truth), read_usage_csv(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        for mix, seed in ((mix, seed) for mix in args.synthetic_mixes for seed in args.synthetic_seeds):
            folder = Path(tmp) / f"{mix}-{seed}"
            synthetic.write(synthetic.generate(seed, 500, mix), folder)
            truth = read_truth(folder / "synthetic_truth.jsonl")
            yield f"{mix} {seed}", truth, read_usage_csv(folder / "synthetic.csv.gz")


@dataclass(frozen=True)
class _Leads:
    """One set's leads in hours, per truth row, as score.py counts errors."""

    truth: np.ndarray
    median: np.ndarray
    p10: np.ndarray
    p90: np.ndarray
    filling: np.ndarray  # the series that truly fill within the horizon

    @classmethod
    def of(cls, truth: list[Truth], ours: dict[str, Prediction]) -> _Leads:
        return cls(
            truth=_hours(truth, {t.series: Prediction(t.exhaustion_at) for t in truth}),
            median=_hours(truth, ours),
            p10=_hours(truth, {k: Prediction(v.p10) for k, v in ours.items()}),
            p90=_hours(truth, {k: Prediction(v.p90) for k, v in ours.items()}),
            filling=np.array([t.exhaustion_at is not None for t in truth]),
        )

    def by_predicted_band(self, values: np.ndarray, reduce: Callable[[np.ndarray], float], fmt: str) -> list[str]:
        """`reduce` of `values` per band of predicted lead, formatted with the band's series count; "-" if none."""
        cells = []
        for lo, hi in PREDICTED_BANDS_H:
            band = (self.median >= lo) & (self.median < hi)
            cells.append(fmt.format(reduce(values[band]), band.sum()) if band.any() else "-")
        return cells


def _bias_row(leads: _Leads) -> list[str]:
    # The 0.25 h floor keeps "full now" finite in the log without weighing it more than a quarter hour.
    log_ratio = np.log(np.maximum(leads.median, 0.25) / np.maximum(leads.truth, 0.25))
    return leads.by_predicted_band(log_ratio, np.median, "{:+.3f} ({})")


def _stretch_rows(leads: _Leads, truth: list[Truth], picks: np.ndarray) -> tuple[list[str], list[str]]:
    """Median error per stretch (with the share of resamples below unstretched), and F1@4d / FA per stretch."""
    unstretched = np.median(np.abs(leads.median - leads.truth)[leads.filling][picks], axis=1)
    beyond = leads.median > STRETCH_FROM_H
    errors, alarms = [], []
    for factor in STRETCHES:
        lead = np.where(
            beyond, np.minimum(STRETCH_FROM_H + (leads.median - STRETCH_FROM_H) * factor, HORIZON_H), leads.median
        )
        error = np.abs(lead - leads.truth)[leads.filling]
        lower = np.mean(np.median(error[picks], axis=1) < unstretched)
        errors.append(f"{np.median(error):.2f} ({lower:.0%})")
        scored = score(truth, _as_predictions(truth, lead))
        alarms.append(f"{scored['F1@4d']:.3f} / {scored['FA/100@4d']:.2f}")
    return errors, alarms


def _band_row(leads: _Leads) -> list[str]:
    inside = ((leads.p10 <= leads.truth) & (leads.truth <= leads.p90)).astype(np.float64)
    loss = _quantile_loss(leads.truth, leads.p10, 0.1) + _quantile_loss(leads.truth, leads.p90, 0.9)
    return [*leads.by_predicted_band(inside, np.mean, "{:.2f} ({})"), f"{np.mean(inside):.2f}", f"{np.mean(loss):.2f}"]


def _bootstrap_row(leads: _Leads, truth: list[Truth], histories: list[UsageHistory], picks: np.ndarray) -> list[str]:
    errors = {"dizuo": np.abs(leads.median - leads.truth)[leads.filling]}
    for anchor, window in LINEAR_ANCHORS:
        errors[anchor] = np.abs(_hours(truth, predict_linear(histories, window)) - leads.truth)[leads.filling]
    best = min((a for a, _ in LINEAR_ANCHORS), key=lambda a: float(np.median(errors[a])))
    ours = np.median(errors["dizuo"][picks], axis=1)
    # The goal is judged against the best anchor of each resample, as it would be on that set.
    anchors = np.min([np.median(errors[a][picks], axis=1) for a, _ in LINEAR_ANCHORS], axis=0)
    low, high = np.percentile(ours, [5, 95])
    return [
        str(leads.filling.sum()),
        f"{np.median(errors['dizuo']):.2f}",
        f"{low:.2f}-{high:.2f}",
        best,
        f"{np.median(errors[best]):.2f}",
        f"{np.mean(ours <= anchors / 2):.0%}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_public_set_options(parser)
    parser.add_argument("--synthetic-seeds", type=_seeds, default=[1, 2, 3])
    parser.add_argument("--synthetic-mixes", type=_mixes, default=list(synthetic.MIXES))
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()
    locate_public_set(args)

    bands = [f"{lo}-{hi} h" for lo, hi in PREDICTED_BANDS_H]
    stretches = [f"x{s:.2f}" for s in STRETCHES]
    tables = {
        "bias": (Table(title="Median log(predicted / true lead) by predicted lead (n series)"), bands),
        "stretch": (
            Table(title="dizuo median error (h), leads beyond 24 h stretched (share of paired resamples below x1.00)"),
            stretches,
        ),
        "alarms": (Table(title="F1@4d / false alarms per 100 series at 4 d, leads stretched as above"), stretches),
        "band": (
            Table(title="Share of true leads inside the p10-p90 band, by predicted lead (n series)"),
            [*bands, "all", "quantile loss_h"],
        ),
        "bootstrap": (
            Table(title=f"Paired bootstrap over the filling series ({args.resamples} resamples)"),
            ["filling", "dizuo medAE_h", "90 % interval", "best anchor", "its medAE_h", "goal met in"],
        ),
    }
    for table, columns in tables.values():
        table.add_column("set")
        for column in columns:
            table.add_column(column, justify="right")

    rng = np.random.default_rng(0)
    for name, truth, histories in _sets(args):
        leads = _Leads.of(truth, as_predictions(forecast_histories(histories)))
        picks = rng.integers(0, leads.filling.sum(), size=(args.resamples, leads.filling.sum()))
        errors, alarms = _stretch_rows(leads, truth, picks)
        rows = {
            "bias": _bias_row(leads),
            "stretch": errors,
            "alarms": alarms,
            "band": _band_row(leads),
            "bootstrap": _bootstrap_row(leads, truth, histories, picks),
        }
        for key, row in rows.items():
            tables[key][0].add_row(name, *row)

    # Wide enough for the tables when piped (rich falls back to 80 columns there).
    console = Console(width=max(Console().width, 120))
    for table, _ in tables.values():
        console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
