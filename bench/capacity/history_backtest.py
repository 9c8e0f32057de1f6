"""Would the history have told us? Backtest dizuo, pl24h and their mixes inside each series' own history.

Usage: python bench/capacity/history_backtest.py [--bench-data DIR] [--data CSV ...]

For each series and each cut (4, 6 and 8 days before asof), the history is cut there and given a pseudo
capacity: the highest usage of the next 2 or 4 days. Its "exhaustion" is then the first sample that reached
that level, known from the rest of the history. dizuo and the anchors forecast from the cut history; only
series that rose by at least 1 % of their capacity over those days are counted (a flat series has no lead).

Printed per set: the median |log| of predicted over true lead, the median error in hours, and the share
within 15 % of the true lead, for dizuo, pl24h, lin7d and geometric mixes ``dizuo^w pl24h^(1-w)`` of the two
leads. A mix that wins on a set's truth at asof but not inside its history is a gain the history cannot show,
so no rule read from the history would choose it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1]))  # public_sets
import public_sets
from run import predict_linear

from dizuo.capacity.csvio import read_usage_csv
from dizuo.capacity.forecast import forecast_histories
from dizuo.capacity.types import UsageHistory

CUT_DAYS = (4, 6, 8)
AHEAD_DAYS = (2, 4)
MIN_RISE = 0.01  # of capacity, over the days ahead
MIN_HISTORY_SAMPLES = 7 * 96  # a week of 15-minute samples before the cut
MIX_WEIGHTS = (0.9, 0.8, 0.7)
WITHIN_SHARE = 0.15
CAP_HOURS = 30 * 24.0  # leads beyond the horizon count as the horizon, as score.py counts errors


def cut_histories(
    histories: Sequence[UsageHistory], cut_days: int, ahead_days: int
) -> tuple[list[UsageHistory], list[float]]:
    """The histories cut `cut_days` before asof with the pseudo capacity, and the true lead in hours of each."""
    cut_list, leads = [], []
    for h in histories:
        cut = h.timestamps[-1] - cut_days * 86400
        end = int(np.searchsorted(h.timestamps, cut, side="right"))
        ahead = (h.timestamps > cut) & (h.timestamps <= cut + ahead_days * 86400)
        if end < MIN_HISTORY_SAMPLES or not ahead.any():
            continue
        level = float(h.used_bytes[ahead].max())
        if level - h.used_bytes[end - 1] < MIN_RISE * h.capacity_bytes[end - 1]:
            continue
        reached = h.timestamps[ahead][np.argmax(h.used_bytes[ahead] >= level)]
        cut_list.append(
            UsageHistory(h.series, h.timestamps[:end], h.used_bytes[:end], np.full(end, level), dict(h.labels))
        )
        leads.append(float(reached - h.timestamps[end - 1]) / 3600)
    return cut_list, leads


def predicted_leads(histories: Sequence[UsageHistory]) -> dict[str, np.ndarray]:
    """Lead in hours from each history's last sample, per model, at least one slot, at most the horizon."""
    asof = np.array([h.timestamps[-1] for h in histories], dtype=np.float64)

    def hours(times: Sequence[int | None]) -> np.ndarray:
        at = np.array([np.inf if t is None else t for t in times], dtype=np.float64)
        return np.clip((at - asof) / 3600, 0.25, CAP_HOURS)

    leads = {"dizuo": hours([f.exhaustion_at for f in forecast_histories(histories)])}
    for name, window in (("pl24h", 86400), ("lin7d", 7 * 86400)):
        predictions = predict_linear(histories, window)
        leads[name] = hours([predictions[h.series].exhaustion_at for h in histories])
    for w in MIX_WEIGHTS:
        leads[f"dizuo^{w} pl24h^{1 - w:.1f}"] = leads["dizuo"] ** w * leads["pl24h"] ** (1 - w)
    return leads


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    public_sets.add_option(parser)
    parser.add_argument("--data", type=Path, nargs="+", help="usage history CSVs (default: <bench data>/public.csv.gz)")
    args = parser.parse_args()
    # Each file named must exist; none named is the public set's, found as the other scripts find it.
    args.data = public_sets.locate(
        args.bench_data, "capacity", [("--data", data, "public.csv.gz") for data in args.data or [None]]
    )
    console = Console(width=160)
    for data in args.data:
        histories = read_usage_csv(data)
        true_leads: list[float] = []
        by_model: dict[str, list[np.ndarray]] = {}
        for cut_days in CUT_DAYS:
            for ahead_days in AHEAD_DAYS:
                cut, leads = cut_histories(histories, cut_days, ahead_days)
                true_leads.extend(leads)
                for name, predicted in predicted_leads(cut).items():
                    by_model.setdefault(name, []).append(predicted)
        truth = np.minimum(np.array(true_leads), CAP_HOURS)
        where = f"{data.parent.name}/{data.name}"
        table = Table(
            title=f"Inside the history of {where}: {truth.size} cuts, median true lead {np.median(truth):.0f} h"
        )
        for column in ("model", "median |log predicted / true|", "median error h", f"within {WITHIN_SHARE:.0%}"):
            table.add_column(column, justify="left" if column == "model" else "right")
        for name, parts in by_model.items():
            predicted = np.concatenate(parts)
            error = np.abs(predicted - truth)
            table.add_row(
                name,
                f"{np.median(np.abs(np.log(predicted / np.maximum(truth, 0.25)))):.3f}",
                f"{np.median(error):.2f}",
                f"{np.mean(error <= WITHIN_SHARE * truth):.3f}",
            )
        console.print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
