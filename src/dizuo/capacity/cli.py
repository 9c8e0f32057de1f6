"""`dizuo capacity ...`: one sub-app; forecast and serve/report commands live in their own modules."""

from __future__ import annotations

import typer

from dizuo.capacity import commands_forecast, commands_serve

capacity_app = typer.Typer(help="Storage capacity: forecast exhaustion, serve metrics, report.", no_args_is_help=True)
commands_forecast.register(capacity_app)
commands_serve.register(capacity_app)


def register(app: typer.Typer) -> None:
    """Add `dizuo capacity`."""
    app.add_typer(capacity_app, name="capacity")
