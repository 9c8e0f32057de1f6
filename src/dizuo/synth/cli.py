"""CLI commands of synthesis and deployment."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add synth/preview/up."""
