"""Where the median error is decided: filling series within the goal's error, per lead band, dizuo next to pl24h.

Usage: python bench/capacity/bands.py [--bench-data DIR] [--data CSV] [--truth JSONL] [--goal-hours H]

The median error over the truly filling series is at most H exactly when at least half of them are predicted
within H hours. This prints, per band of true lead, how many series dizuo and pl24h (the best anchor on the
public set) each get within H, how many either one gets (a per-series oracle choosing between the two), and the
median |log| of the rate multiplier dizuo would have needed (how far off its growth was, whatever the lead).
H defaults to half of pl24h's median error: the issue's goal.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import add_public_set_options, as_predictions, locate_public_set, predict_linear
from score import HORIZON_S, Prediction, _clip, read_truth, score

from dizuo.capacity.csvio import read_usage_csv
from dizuo.capacity.forecast import forecast_histories

BANDS_H = ((0, 24), (24, 48), (48, 96), (96, 192), (192, 720))


def _lead_hours(asof: int, at: int | None) -> float:
    """Lead in hours as score.py counts it for the errors: null or beyond 30 days is 30 days, before asof is 0."""
    return min(_clip(asof, at), HORIZON_S) / 3600


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_public_set_options(parser)
    parser.add_argument("--goal-hours", type=float, default=None)
    args = parser.parse_args()
    locate_public_set(args)

    truth = read_truth(args.truth)
    histories = read_usage_csv(args.data)
    ours = as_predictions(forecast_histories(histories))
    anchor = predict_linear(histories, 24 * 3600)
    goal = args.goal_hours if args.goal_hours is not None else score(truth, anchor)["medAE_h"] / 2

    filling = [t for t in truth if t.exhaustion_at is not None]
    true_lead = np.array([_lead_hours(t.asof, t.exhaustion_at) for t in filling])
    ours_lead = np.array([_lead_hours(t.asof, ours.get(t.series, Prediction(None)).exhaustion_at) for t in filling])
    anchor_lead = np.array([_lead_hours(t.asof, anchor[t.series].exhaustion_at) for t in filling])
    ours_within = np.abs(ours_lead - true_lead) <= goal
    anchor_within = np.abs(anchor_lead - true_lead) <= goal
    # Lead is roughly remaining bytes over growth, so true / predicted lead is the growth multiplier that was needed.
    multiplier = np.abs(np.log(np.maximum(true_lead, 0.25) / np.maximum(ours_lead, 0.25)))

    table = Table(title=f"Filling series predicted within {goal:.1f} h, by true lead ({args.data.name})")
    for column in ("true lead", "series", "dizuo", "pl24h", "either", "dizuo median |log growth multiplier|"):
        table.add_column(column, justify="left" if column == "true lead" else "right")
    either = ours_within | anchor_within
    rows = [(f"{low}-{high} h", (true_lead >= low) & (true_lead < high)) for low, high in BANDS_H]
    for label, band in [*rows, ("all", np.ones_like(either))]:
        table.add_row(
            label,
            str(int(band.sum())),
            str(int(ours_within[band].sum())),
            str(int(anchor_within[band].sum())),
            str(int(either[band].sum())),
            f"{np.median(multiplier[band]):.2f}" if band.any() else "-",
            end_section=label == rows[-1][0],
        )
    # The median of n errors is within H when the middle one (n odd) or both middle ones (n even) are.
    needed = len(filling) // 2 + 1
    console = Console(width=160)
    console.print(table)
    console.print(f"A median error within {goal:.1f} h needs {needed} of the {len(filling)} filling series within it.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
