"""`dizuo capacity forecast FILE.csv[.gz]`: exhaustion forecasts as JSON Lines on stdout (bench FORMAT.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from dizuo.capacity.csvio import UsageCsvError, read_usage_csv
from dizuo.capacity.forecast import DEFAULT_HORIZON_SECONDS, forecast_histories


def forecast(
    path: Annotated[Path, typer.Argument(help="Usage CSV (series,timestamp,used_bytes,capacity_bytes), .gz ok.")],
    horizon_days: Annotated[int, typer.Option(min=1, max=365, help="Forecast horizon in days.")] = (
        DEFAULT_HORIZON_SECONDS // 86400
    ),
) -> None:
    """Predict when each series fills: one JSON object per series, `null` = not within the horizon."""
    try:
        histories = read_usage_csv(path)
    except UsageCsvError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None
    forecasts = forecast_histories(histories, horizon_seconds=horizon_days * 86400)
    lines = [
        json.dumps({"series": f.series, "exhaustion_at": f.exhaustion_at, "p10": f.p10, "p90": f.p90})
        for f in forecasts
    ]
    # One write: a reader of the pipe never sees half a line from us.
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add this module's commands to `dizuo capacity`."""
    app.command("forecast")(forecast)
