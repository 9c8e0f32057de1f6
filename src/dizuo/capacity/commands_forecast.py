"""`dizuo capacity forecast FILE.csv[.gz]`: exhaustion forecasts as JSON Lines on stdout (bench FORMAT.md)."""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from dizuo.capacity.calendar_cn import SHIPPED, CalendarNotCoveredWarning, WorkingCalendar
from dizuo.capacity.csvio import UsageCsvError, read_usage_csv
from dizuo.capacity.forecast import DEFAULT_HORIZON_SECONDS, forecast_histories
from dizuo.exit_codes import BAD_INPUT
from dizuo.files import require_stdout
from dizuo.refusal import error_line

CalendarOption = Annotated[
    Path | None,
    typer.Option(
        "--calendar",
        envvar="DIZUO_CALENDAR",
        help="Working-calendar YAML: holiday notices for years chinesecalendar does not ship yet "
        "(see monitoring/working-calendar.yaml)",
    ),
]


def load_calendar_option(path: Path | None) -> WorkingCalendar:
    """The shipped calendar plus the file's notices; ConfigError (file, key path, value) if the file is bad."""
    if path is None:
        return SHIPPED
    # Loaded with the option only: it brings pydantic and the YAML loader, which a plain forecast does not need.
    from dizuo.capacity.calendar_notices import load_calendar  # noqa: PLC0415
    from dizuo.capacity.config_files import ConfigError  # noqa: PLC0415

    try:
        return load_calendar(path)
    except ConfigError as exc:
        if os.environ.get("DIZUO_CALENDAR") == str(path):
            # The file came from the environment, not the command line: say where to look.
            raise ConfigError(f"{exc} (the file named by DIZUO_CALENDAR)") from None
        raise


@contextmanager
def calendar_warnings_as(echo: Callable[[str], None]) -> Iterator[None]:
    """The calendar's warnings inside, told to a person as ``warning: ...`` lines (not Python's file:line form);
    other warnings pass through as usual."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CalendarNotCoveredWarning)
        yield
    for warning in caught:
        if issubclass(warning.category, CalendarNotCoveredWarning):
            echo(f"warning: {warning.message}")
        else:
            warnings.showwarning(warning.message, warning.category, warning.filename, warning.lineno)


def forecast(
    path: Annotated[
        Path,
        typer.Argument(metavar="USAGE.csv", help="Usage CSV (series,timestamp,used_bytes,capacity_bytes), .gz ok."),
    ],
    horizon_days: Annotated[int, typer.Option(min=1, max=365, help="Forecast horizon in days.")] = (
        DEFAULT_HORIZON_SECONDS // 86400
    ),
    calendar_file: CalendarOption = None,
) -> None:
    """Predict when each series fills: one JSON object per series, `null` = not within the horizon."""
    from dizuo.capacity.config_files import ConfigError  # noqa: PLC0415 - see load_calendar_option

    try:
        calendar = load_calendar_option(calendar_file)
        histories = read_usage_csv(path)
    except (UsageCsvError, ConfigError) as err:
        for line in str(err).splitlines():
            typer.echo(error_line(line), err=True)
        raise typer.Exit(BAD_INPUT) from None
    require_stdout()  # the forecasts are stdout's: with none, not the forecasting first
    with calendar_warnings_as(lambda line: typer.echo(line, err=True)):
        forecasts = forecast_histories(histories, horizon_seconds=horizon_days * 86400, calendar=calendar)
    lines = [
        json.dumps({"series": f.series, "exhaustion_at": f.exhaustion_at, "p10": f.p10, "p90": f.p90})
        for f in forecasts
    ]
    # One write: a reader of the pipe never sees half a line from us. (A stdout that cannot take it is the CLI's
    # guard's to report: dizuo.files.guarded_stdout.)
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.flush()


def register(app: typer.Typer) -> None:
    """Add this module's commands to `dizuo capacity`."""
    app.command("forecast")(forecast)
