"""CLI commands of the baseline domain."""

from __future__ import annotations

import typer

from dizuo.baseline import audit_cli


def register(app: typer.Typer) -> None:
    """Add this domain's commands to the top-level app."""
    audit_cli.register(app)
