"""Commands of `dizuo capacity` (see capacity/cli.py)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to `dizuo capacity`."""
