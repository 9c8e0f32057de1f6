"""Is dizuo's lead biased, and how firm is its median error? Three checks per set, no model change.

Usage: python bench/capacity/calibration.py [--data CSV] [--truth JSONL] [--synthetic-seeds 1,2,3]
                                           [--synthetic-mixes default,recent-knees] [--resamples 2000]

1. Bias by *predicted* lead: the median log(predicted / true lead) of the series dizuo puts in each band.
   Banding by predicted lead is what a user sees; banding by true lead would select the series whose future
   ran faster or slower than expected and show a bias that is not there.
2. Stretch: the median error when every predicted lead beyond 24 h is stretched by a factor around 1
   (24 h + (lead - 24 h) x factor), with the share of paired resamples in which it is lower than unstretched,
   and F1@4d and false alarms under the same stretch. A lead bias worth correcting shows as a minimum away
   from 1 that the sets agree on, without costing the 4-day alerts.
3. Paired bootstrap over the truly filling series: dizuo's median error with its 90 % interval, and the share
   of resamples in which it is at most half the best anchor's (the goal of issue 4) on the same resample.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
import synthetic
from bands import _lead_hours
from run import LINEAR_ANCHORS, SHARED, _mixes, _seeds, as_predictions, predict_linear
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


def _sets(args: argparse.Namespace) -> Iterator[tuple[str, list[Truth], list[UsageHistory]]]:
    yield args.data.name.split(".")[0], read_truth(args.truth), read_usage_csv(args.data)
    with tempfile.TemporaryDirectory() as tmp:
        for mix, seed in ((mix, seed) for mix in args.synthetic_mixes for seed in args.synthetic_seeds):
            folder = Path(tmp) / f"{mix}-{seed}"
            synthetic.write(synthetic.generate(seed, 500, mix), folder)
            truth = read_truth(folder / "synthetic_truth.jsonl")
            yield f"{mix} {seed}", truth, read_usage_csv(folder / "synthetic.csv.gz")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "public.csv.gz")
    parser.add_argument("--truth", type=Path, default=SHARED / "public_truth.jsonl")
    parser.add_argument("--synthetic-seeds", type=_seeds, default=[1, 2, 3])
    parser.add_argument("--synthetic-mixes", type=_mixes, default=list(synthetic.MIXES))
    parser.add_argument("--resamples", type=int, default=2000)
    args = parser.parse_args()

    bias = Table(title="Median log(predicted / true lead) by predicted lead (n series)")
    stretch = Table(
        title="dizuo median error (h) with leads beyond 24 h stretched (share of paired resamples lower than x1.00)"
    )
    alarms = Table(title="F1@4d / false alarms per 100 series at 4 d, leads stretched as above")
    boot = Table(title=f"Paired bootstrap over the filling series ({args.resamples} resamples)")
    for table, columns in (
        (bias, [f"{lo}-{hi} h" for lo, hi in PREDICTED_BANDS_H]),
        (stretch, [f"x{s:.2f}" for s in STRETCHES]),
        (alarms, [f"x{s:.2f}" for s in STRETCHES]),
        (boot, ["filling", "dizuo medAE_h", "90 % interval", "best anchor", "its medAE_h", "goal met in"]),
    ):
        table.add_column("set")
        for column in columns:
            table.add_column(column, justify="right")

    rng = np.random.default_rng(0)
    for name, truth, histories in _sets(args):
        true_h = _hours(truth, {t.series: Prediction(t.exhaustion_at) for t in truth})
        ours_h = _hours(truth, as_predictions(forecast_histories(histories)))
        filling = np.array([t.exhaustion_at is not None for t in truth])

        # The 0.25 h floor keeps "full now" finite in the log without weighing it more than a quarter hour.
        log_ratio = np.log(np.maximum(ours_h, 0.25) / np.maximum(true_h, 0.25))
        cells = []
        for lo, hi in PREDICTED_BANDS_H:
            band = (ours_h >= lo) & (ours_h < hi)
            cells.append(f"{np.median(log_ratio[band]):+.3f} ({band.sum()})" if band.any() else "-")
        bias.add_row(name, *cells)

        picks = rng.integers(0, filling.sum(), size=(args.resamples, filling.sum()))
        errors = {"dizuo": np.abs(ours_h - true_h)[filling]}
        ours_boot = np.median(errors["dizuo"][picks], axis=1)

        beyond = ours_h > STRETCH_FROM_H
        stretch_cells, alarm_cells = [], []
        for factor in STRETCHES:
            lead = np.where(beyond, np.minimum(STRETCH_FROM_H + (ours_h - STRETCH_FROM_H) * factor, HORIZON_H), ours_h)
            error = np.abs(lead - true_h)[filling]
            lower = np.mean(np.median(error[picks], axis=1) < ours_boot)
            stretch_cells.append(f"{np.median(error):.2f} ({lower:.0%})")
            scored = score(truth, _as_predictions(truth, lead))
            alarm_cells.append(f"{scored['F1@4d']:.3f} / {scored['FA/100@4d']:.2f}")
        stretch.add_row(name, *stretch_cells)
        alarms.add_row(name, *alarm_cells)

        for anchor, window in LINEAR_ANCHORS:
            errors[anchor] = np.abs(_hours(truth, predict_linear(histories, window)) - true_h)[filling]
        best = min((a for a, _ in LINEAR_ANCHORS), key=lambda a: float(np.median(errors[a])))
        # The goal is judged against the best anchor of each resample, as it would be on that set.
        anchors_boot = np.min([np.median(errors[a][picks], axis=1) for a, _ in LINEAR_ANCHORS], axis=0)
        low, high = np.percentile(ours_boot, [5, 95])
        boot.add_row(
            name,
            str(filling.sum()),
            f"{np.median(errors['dizuo']):.2f}",
            f"{low:.2f}-{high:.2f}",
            best,
            f"{np.median(errors[best]):.2f}",
            f"{np.mean(ours_boot <= anchors_boot / 2):.0%}",
        )

    # Wide enough for the bias table when piped (rich falls back to 80 columns there).
    console = Console(width=max(Console().width, 120))
    for table in (bias, stretch, alarms, boot):
        console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
