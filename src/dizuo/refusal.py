"""How every dizuo command says it refuses: one line starting `error: `, whichever command and whichever way it
prints, so a person reads every refusal alike and a script finds them all with one pattern."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.markup import escape

if TYPE_CHECKING:
    from rich.console import Console

ERROR_PREFIX = "error:"


def error_line(message: str) -> str:
    """The line that refuses with ``message``, for plain output (typer.echo)."""
    return f"{ERROR_PREFIX} {message}"


def print_error(console: Console, message: str) -> None:
    """Print the line that refuses with ``message`` on a rich console: the prefix in red, the message as written
    (no markup or highlighting read into it) and not wrapped, since it names paths and key paths."""
    console.print(f"[red]{ERROR_PREFIX}[/red] {escape(message)}", highlight=False, soft_wrap=True)


def print_interruption(console: Console, line: str) -> None:
    """Print the line saying what became of a command's output when Ctrl-C or SIGTERM ended it (the ``say`` of
    :func:`dizuo.files.interruption_said`): in bold red, as written (no markup or highlighting read into it)."""
    console.print(line, style="bold red", markup=False, highlight=False)
