"""The `dizuo` command line: thin wrappers over the library, one module per domain.

Each domain module exposes ``register(app)`` and adds its own commands, so the domains never edit each
other's CLI code. A domain is imported only when one of its commands runs: `dizuo capacity forecast` does
not pay for Pulumi, pytest and the MILP solver the other domains load (about two seconds of start-up,
more than the forecast itself takes). `dizuo --help` lists every command, so it imports them all.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import inspect
from collections.abc import Iterator
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

from dizuo.entry import stop_cleanly_on_sigterm
from dizuo.exit_codes import FAILED
from dizuo.files import StdoutError, guarded_stdout
from dizuo.interrupt import watching
from dizuo.refusal import error_line

# Top-level command -> the domain module whose register(app) adds it; listed in this order in --help.
# tests/test_cli.py checks this against what each domain actually registers.
COMMANDS: dict[str, str] = {
    "validate": "dizuo.declaration.cli",
    "schema": "dizuo.declaration.cli",
    "inventory": "dizuo.declaration.cli",
    "synth": "dizuo.synth.cli",
    "preview": "dizuo.synth.cli",
    "up": "dizuo.synth.cli",
    "released": "dizuo.synth.cli",
    "harden": "dizuo.baseline.cli",
    "audit": "dizuo.baseline.cli",
    "baseline": "dizuo.baseline.cli",
    "capacity": "dizuo.capacity.cli",
    "migrate": "dizuo.migration.cli",
}


def _flags_shown_without_a_type(params: list[Any]) -> list[Any]:
    """``params`` with each flag's type left out of the help: typer 0.2x shows `--new-backend <bool>` and even
    `--help <bool>`, which reads as an option taking a value (`--new-backend true` is refused as an extra argument).
    An empty metavar is what typer shows in the type's place; click writes no metavar for a flag anywhere else."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    """A command whose usage line writes its arguments as click, and the usage of most tools, do: `CITY_DIR` required,
    `[CITY_DIR]` optional, `FILES...` any number. Typer 0.2x writes a required one in braces, `{CITY_DIR}`, which reads
    as a literal to type or a set to choose from."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_shown_without_a_type(super().get_params(ctx))

    # Context is click's class, vendored by newer typer (see _Domains): Any keeps this independent of which.
    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []
        for param in self.get_params(ctx):
            if param.param_type_name != "argument":
                pieces += param.get_usage_pieces(ctx)
                continue
            name = param.metavar or (param.name or "").upper()
            name = name if param.required else f"[{name}]"
            pieces.append(f"{name}..." if param.nargs != 1 else name)
        return pieces


class _Group(TyperGroup):
    """A group of commands (`dizuo migrate`) whose help shows its flags as _Command does."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _flags_shown_without_a_type(super().get_params(ctx))


def _reflowed(docstring: str) -> str:
    """A command's help as paragraphs of one line each, for the help to wrap at the terminal's width. Typer keeps a
    docstring's own line breaks in a group's list of commands and in every paragraph after the first, which then
    breaks mid-sentence wherever the source line ended."""
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in inspect.cleandoc(docstring).split("\n\n"))


def _usage_as_click(domain: typer.Typer) -> None:
    """Build the domain's commands, and those of its sub-groups (`dizuo migrate ...`), as _Command, their help
    reflowed: set here, where the CLI is built, so that no domain module has to remember it for each command it adds."""
    for command in domain.registered_commands:
        if command.cls in (None, TyperCommand):  # typer's default (set as it registers), not a class of the domain's
            command.cls = _Command
        docstring = command.help if command.help is not None else inspect.getdoc(command.callback)
        if docstring:
            command.help = _reflowed(docstring)
    for group in domain.registered_groups:
        given = [group.cls, group.typer_instance.info.cls if group.typer_instance is not None else None]
        if all(not isinstance(cls, type) or cls is TyperGroup for cls in given):  # typer's defaults: no class chosen
            group.cls = _Group
        if group.typer_instance is not None:
            _usage_as_click(group.typer_instance)


@functools.cache
def domain_commands(module_name: str) -> TyperGroup:
    """The command group of everything one domain module registers (imported on first use)."""
    module = importlib.import_module(module_name)
    domain = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    domain.callback()(lambda: None)  # a group even when the domain registers a single command
    module.register(domain)
    _usage_as_click(domain)
    group = typer.main.get_command(domain)
    if not isinstance(group, TyperGroup):  # a callback always makes a group; guards a typer that changed that
        raise TypeError(f"{module_name} did not register a command group")
    return group


# click's exception for what it refuses (an unknown option or command, a missing argument, a value it cannot
# convert), raised from typer's own copy of click (typer._click) in newer typer and from click in older: the base of
# the public typer.BadParameter of either (Any: its attributes are the ones of whichever click it is).
_ClickException: Any = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


@contextlib.contextmanager
def _refusing_as_dizuo() -> Iterator[None]:
    """A usage error is a refusal like any other: its line starts `error: ` (dizuo.refusal), then the usage and
    where help is, on stderr, with its own exit status (2, BAD_INPUT, for a usage error), where typer drew a boxed
    "Error" panel below the usage. Ended through typer.Exit, which typer turns into the exit status."""
    try:
        yield
    except _ClickException as err:
        if type(err).__name__ == "NoArgsIsHelpError":  # a group called bare prints its help, as typer does
            raise
        typer.echo(error_line(err.format_message()), err=True)
        ctx = getattr(err, "ctx", None)
        if ctx is not None:
            typer.echo(ctx.get_usage(), err=True)
            if ctx.command.get_help_option(ctx) is not None:
                typer.echo(f"Try '{ctx.command_path} {ctx.help_option_names[0]}' for help.", err=True)
        raise typer.Exit(err.exit_code) from None


class _Domains(_Group):
    """The root group: lists COMMANDS, loads a command's domain when it is looked up; what click refuses on the way
    (in the root's own options, or in a command's, parsed as the root invokes it) is refused as dizuo refuses."""

    def make_context(self, info_name: str | None, args: list[str], parent: Any = None, **extra: Any) -> Any:
        with _refusing_as_dizuo():
            return super().make_context(info_name, args, parent, **extra)

    def invoke(self, ctx: Any) -> Any:
        with _refusing_as_dizuo():
            return super().invoke(ctx)

    # Context and Command are click's classes, which newer typer vendors (typer._click) and older typer takes from
    # click itself: Any keeps this independent of which.
    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        module_name = COMMANDS.get(cmd_name)
        if module_name is None:
            return None
        # Importing a domain takes a second or two (the MILP solver, Pulumi): a Ctrl-C meanwhile comes before any
        # command could say what became of its output, and typer would end with 130 and not a word; a SIGTERM
        # (stop_cleanly_on_sigterm's SystemExit) with 143 and not a word. `dizuo --help` loads every domain too.
        try:
            return domain_commands(module_name).get_command(ctx, cmd_name)
        except (KeyboardInterrupt, SystemExit):
            typer.echo(f"interrupted while loading {ctx.command_path} {cmd_name}: nothing was done", err=True)
            raise


app = typer.Typer(
    name="dizuo",
    cls=_Domains,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """底座: declare a city's network, government cloud, data pool and security baseline as code."""


def main() -> None:
    """The CLI on this process's arguments. A command a signal ended raises SystemExit(130) or SystemExit(143) to the
    caller, its cleanup done and said; the console script (dizuo.entry) then ends the process at once."""
    stop_cleanly_on_sigterm()
    with watching():
        try:
            with guarded_stdout():  # every command's stdout: what it cannot take is one error line, not a traceback
                app()
        except StdoutError as err:  # its output cannot be delivered: found at a write, or before the work (>&-)
            typer.echo(error_line(str(err)), err=True)
            raise SystemExit(FAILED) from None
