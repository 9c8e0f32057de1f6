"""The `dizuo` command line: thin wrappers over the library, one module per domain.

Each domain module exposes ``register(app)`` and adds its own commands, so the
domains never edit each other's CLI code.
"""

from __future__ import annotations

import typer

from dizuo.baseline import cli as baseline_cli
from dizuo.capacity import cli as capacity_cli
from dizuo.declaration import cli as declaration_cli
from dizuo.migration import cli as migration_cli
from dizuo.synth import cli as synth_cli

app = typer.Typer(
    name="dizuo",
    help="底座: declare a city's network, government cloud, data pool and security baseline as code.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

for domain in (declaration_cli, synth_cli, baseline_cli, capacity_cli, migration_cli):
    domain.register(app)


def main() -> None:
    """Entry point of the `dizuo` console script."""
    app()
