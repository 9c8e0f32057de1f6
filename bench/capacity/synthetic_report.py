"""Score dizuo and the predict_linear anchors on a synthetic set, overall and per behaviour.

Usage: python bench/capacity/synthetic_report.py DIR

DIR holds synthetic.csv.gz, synthetic_truth.jsonl and synthetic_kinds.jsonl as written by
`bench/capacity/synthetic.py`. Per kind: rows for each main kind, then rows for the labels that cut
across kinds (a mixed-in second kind, a future change, an enlarged capacity, an asof near a holiday week).
A series counts in its main kind's row and in each of its labels' rows.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import alert_rule, as_predictions, predict_linear
from score import HORIZON_S, Prediction, Truth, read_truth, score

from dizuo.capacity.csvio import read_usage_csv
from dizuo.capacity.forecast import forecast_histories

OVERALL_COLS = ("P@24h", "R@24h", "F1@24h", "P@4d", "R@4d", "F1@4d", "FA/100@4d", "medAE_h", "p90AE_h", "miss30")
OVERALL_COLS += ("cov80", "covF")
PER_KIND_MODELS = ("dizuo", "pl24h")


def _groups(kinds_path: Path) -> dict[str, set[str]]:
    """Series ids by group: main kind, then `+kind` (mixed in), `future:...`, `enlarged`, `holiday asof`."""
    groups: dict[str, set[str]] = defaultdict(set)
    labels: dict[str, set[str]] = defaultdict(set)
    for line in kinds_path.read_text().splitlines():
        row = json.loads(line)
        sid, params = row["series"], row["params"]
        groups[row["kind"]].add(sid)
        for k in params.get("mixed", []):
            labels[f"+{k}"].add(sid)
        if params.get("future"):
            labels[f"future: {params['future']}"].add(sid)
        if params.get("enlarged"):
            labels["capacity enlarged"].add(sid)
        if params.get("holiday_asof"):
            labels["asof near holiday week"].add(sid)
    return dict(sorted(groups.items())) | dict(sorted(labels.items()))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path)
    args = parser.parse_args()
    console = Console(width=200)

    truth = read_truth(args.dir / "synthetic_truth.jsonl")
    histories = read_usage_csv(args.dir / "synthetic.csv.gz")
    preds: dict[str, dict[str, Prediction]] = {
        "pl6h": predict_linear(histories, 6 * 3600),
        "pl24h": predict_linear(histories, 24 * 3600),
        "lin7d": predict_linear(histories, 7 * 86400),
        "kube": alert_rule(histories, "kube"),
        "node": alert_rule(histories, "node"),
        "dizuo": as_predictions(forecast_histories(histories)),
    }
    # Alert anchors answer only "alert now or not" at their own horizon, as in run.py.
    only = {"kube": ("P@4d", "R@4d", "F1@4d", "FA/100@4d"), "node": ("P@24h", "R@24h", "F1@24h")}

    filling = [t for t in truth if t.exhaustion_at is not None]
    leads = [(t.exhaustion_at - t.asof) for t in filling if t.exhaustion_at is not None]
    console.print(
        f"{args.dir}: {len(truth)} series; fill within 24 h: {sum(x <= 86400 for x in leads)}, "
        f"4 d: {sum(x <= 4 * 86400 for x in leads)}, 30 d: {len(leads)} (of {len(truth)})"
    )
    table = Table(title=f"Storage exhaustion, synthetic set {args.dir}, {len(truth)} series")
    table.add_column("model")
    for c in OVERALL_COLS:
        table.add_column(c, justify="right")
    for name, p in preds.items():
        scored = score(truth, p)
        table.add_row(
            name, *(_fmt(scored.get(c)) if c in only.get(name, OVERALL_COLS) else "n/a" for c in OVERALL_COLS)
        )
    console.print(table)

    by_series = {t.series: t for t in truth}
    kinds = Table(title="Per kind (a series counts in its main kind and in each of its labels)")
    kinds.add_column("kind / label")
    kinds.add_column("n", justify="right")
    kinds.add_column("filling", justify="right")
    for model in PER_KIND_MODELS:
        for c in ("F1@4d", "FA/100@4d", "medAE_h"):
            kinds.add_column(f"{model} {c}", justify="right")
    for group, ids in _groups(args.dir / "synthetic_kinds.jsonl").items():
        sub: list[Truth] = [by_series[s] for s in sorted(ids)]
        row = [group, str(len(sub)), str(sum(t.exhaustion_at is not None for t in sub))]
        for model in PER_KIND_MODELS:
            scored = score(sub, preds[model])
            row += [_fmt(scored["F1@4d"]), _fmt(scored["FA/100@4d"]), _fmt(scored["medAE_h"])]
        kinds.add_row(*row)
    console.print(kinds)
    console.print(f"medAE_h: over the series of the row that fill within {HORIZON_S // 86400} d; '-' if none.")
    return 0


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}"


if __name__ == "__main__":
    raise SystemExit(main())
