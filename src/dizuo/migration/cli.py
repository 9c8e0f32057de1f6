"""`dizuo migrate plan INSTANCE.json`: one plan (or infeasibility claim) as JSON on stdout (the migration
benchmark's FORMAT.md, in ../shared/bench/migration/ next to a clone).

Progress and the summary table go to stderr; stdout carries exactly one JSON document.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from dizuo.capacity.commands_forecast import CalendarOption, calendar_warnings_as
from dizuo.capacity.commands_serve import ConfigOption, load_calendar, read_usage_and_source
from dizuo.declaration.cli import load_or_exit
from dizuo.declaration.loader import DeclarationError
from dizuo.declaration.model import Declaration
from dizuo.exit_codes import BAD_INPUT, FAILED
from dizuo.files import interruption_said, output_place_problem, require_stdout, resolved_out
from dizuo.migration.city import CityInstance, MigrationSetupError, build_instance, check_layout
from dizuo.migration.instance import Instance, InstanceError, load_instance
from dizuo.migration.outlook import OutlookError, UsageOutlook, usage_outlook
from dizuo.migration.report import (
    Deadline,
    PlanReadError,
    PlanWriteError,
    WrittenPlan,
    check_wave,
    solver_document,
    write_city_plan,
)
from dizuo.migration.solve import DEFAULT_TIME_LIMIT_S, TIB, Assignment, show_bytes, solve, stopped_after_repairs
from dizuo.migration.validate import Plan, check_plan, plan_cost
from dizuo.migration.waves import DEFAULT_TIME_LIMIT_S as WAVES_TIME_LIMIT_S
from dizuo.migration.waves import Waves, plan_waves
from dizuo.refusal import error_line

migrate_app = typer.Typer(
    help="Xinchuang (信创) migration: which systems move to which pool, in waves.", no_args_is_help=True
)


def _log(message: str) -> None:
    typer.echo(message, err=True)


def _flush_c_stdio() -> None:
    # Every C stdio stream of the process (C++ streams sync with them). Without a C library to ask, nothing
    # was buffered through one either.
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None).fflush(None)


@contextmanager
def solver_output_to_stderr() -> Iterator[None]:
    """Point file descriptor 1 at stderr while the solvers run, so stdout carries only the JSON document.

    HiGHS prints some diagnostics straight from C++ (e.g. "HighsMipSolverData::transformNewIntegerFeasible
    Solution tmpSolver.run();", whatever its options say); on stdout they would make the answer unparsable.
    """
    sys.stdout.flush()
    _flush_c_stdio()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        _flush_c_stdio()  # what the solver left in C buffers goes to stderr, before stdout is restored
        os.dup2(saved, 1)
        os.close(saved)


TimeLimit = Annotated[
    float,
    typer.Option(
        min=1.0,
        help="Seconds, an outer safety for the assignment solver (HiGHS): a count of HiGHS nodes ends it first (the "
        "same plan on any machine); stopped by the seconds, the summary and PLAN.md say so. Waves have their own.",
    ),
]
WaveTimeLimit = Annotated[
    float,
    typer.Option(
        min=0.0,
        help="Seconds, an outer safety for the search for fewer waves than the heuristics find: a count of HiGHS "
        "nodes ends it first (the same waves on any machine); stopped by the seconds, the summary and PLAN.md say so.",
    ),
]


def _solve(instance: Instance, time_limit: float, wave_time_limit: float) -> tuple[Assignment, Waves | None]:
    """Assignment, then waves for it (None without a plan); exits 1 on no plan and no proof, or on a plan that
    breaks a rule (never printed nor written)."""
    with solver_output_to_stderr():
        assignment = solve(instance, time_limit=time_limit, log=_log)
        waves = (
            plan_waves(instance, assignment.destinations, time_limit=wave_time_limit, log=_log)
            if assignment.destinations is not None
            else None
        )
    if assignment.destinations is None or waves is None:
        if assignment.status != "infeasible":  # no plan and no proof: say so rather than guess either way
            _log(error_line(f"{assignment.reason}"))
            raise typer.Exit(FAILED)
        return assignment, None
    violations = check_plan(instance, Plan(assignment.destinations, [list(w) for w in waves.waves]))
    if violations:
        for violation in violations:
            _log(error_line(f"internal: the plan breaks {violation}"))
        raise typer.Exit(FAILED)
    return assignment, waves


@migrate_app.command("plan")
def plan(
    path: Annotated[
        Path,
        typer.Argument(
            metavar="INSTANCE.json",
            help="Instance JSON, as the migration benchmark's FORMAT.md describes it (../shared/bench/migration/ "
            "next to a clone of the repository; README, `dizuo migrate plan`).",
        ),
    ],
    time_limit: TimeLimit = DEFAULT_TIME_LIMIT_S,
    wave_time_limit: WaveTimeLimit = WAVES_TIME_LIMIT_S,
) -> None:
    """A valid plan as JSON on stdout (assignments and waves), or {"infeasible": true, "reason": ...}: the cheapest
    where HiGHS proves it within --time-limit, else the cheapest it (or the greedy fallback) found, with the gap on
    stderr."""
    start = time.perf_counter()
    try:
        instance = load_instance(path)
    except InstanceError as err:
        for problem in err.problems:
            _log(error_line(f"{problem}"))
        raise typer.Exit(BAD_INPUT) from None
    require_stdout()  # the plan is stdout's: with none, not minutes of HiGHS first
    assignment, waves = _solve(instance, time_limit, wave_time_limit)
    # Beside FORMAT.md's keys, which a scorer reads, how the solve ended as plan.json says it: a plan a limit stopped
    # must not pass for a proven one where only the document is kept (the benchmark shows it next to the cost).
    solver = solver_document(assignment)
    if assignment.destinations is None or waves is None:
        _emit({"infeasible": True, "reason": assignment.reason, **solver})
        _summary(instance, assignment, None, time.perf_counter() - start)
        return
    found = Plan(assignment.destinations, [list(w) for w in waves.waves])
    _emit({"assignments": dict(found.assignments), "waves": found.waves, "bound_cny": assignment.bound, **solver})
    _summary(instance, assignment, waves, time.perf_counter() - start)


def _emit(document: dict[str, object]) -> None:
    # One write: a reader of the pipe never sees half a document.
    sys.stdout.write(json.dumps(document, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _solver_status(assignment: Assignment) -> str:
    """The summary's solver status: work_limit and time_limit say it already; repair_limit adds after how many
    repairs; a greedy plan kept says so and what stopped HiGHS, no plan what stopped HiGHS."""
    if assignment.status == "repair_limit":
        return f"repair_limit ({stopped_after_repairs(assignment.repairs)})"
    if assignment.stopped == "repair limit":
        stopped: str | None = f"HiGHS {stopped_after_repairs(assignment.repairs)}"
    elif assignment.stopped:
        stopped = f"HiGHS stopped at its {assignment.stopped}"
    else:
        stopped = None
    if assignment.greedy and assignment.status != "optimal":
        return f"{assignment.status} (greedy plan kept{f': {stopped}' if stopped else ''})"
    if stopped and "limit" not in assignment.status:
        return f"{assignment.status} ({stopped})"
    return assignment.status


def _summary(
    instance: Instance, assignment: Assignment, waves: Waves | None, seconds: float, need_bytes: int | None = None
) -> None:
    """The plan at a glance, on stderr: per pool use against capacity, cost, waves against the bound.
    ``need_bytes``: the relief needed where the instance cannot say it (a city's unrelievable legacy pool)."""
    console = Console(stderr=True)
    dest = assignment.destinations or {}
    head = Table(title=f"Migration plan: {escape(instance.name)}", show_header=False)
    head.add_column("what")
    head.add_column("value", justify="right")
    head.add_row("solver status", _solver_status(assignment))
    head.add_row("units / variables", f"{assignment.units:,} / {assignment.variables:,}")
    need = instance.need_bytes if need_bytes is None else need_bytes
    head.add_row("relief needed", show_bytes(max(0, need)))
    if assignment.reason:
        head.add_row("reason", escape(assignment.reason))
    if waves is not None:
        moved = [s for s in instance.systems if dest.get(s.id) is not None]
        found = Plan(dest, [list(w) for w in waves.waves])
        head.add_row("moved systems", f"{len(moved):,} of {len(instance.systems):,}")
        head.add_row("bytes freed", f"{sum(s.projected_bytes for s in moved) / TIB:,.1f} TiB")
        head.add_row("bytes copied", f"{sum(s.copied for s in moved) / TIB:,.1f} TiB")
        head.add_row("cost", f"{plan_cost(instance, found):,} CNY")
        bound = "-" if assignment.bound is None else f"{assignment.bound:,.0f} CNY"
        gap = "-" if assignment.gap is None else f"{assignment.gap:.5%}"
        head.add_row("bound / gap", f"{bound} / {gap}")
        head.add_row(
            "waves / lower bound",
            f"{len(waves.waves)} / {waves.lower_bound} ({waves.method}{', fewest' if waves.fewest else ''}"
            + (f", search stopped at its {waves.stopped}" if waves.stopped else "")
            + ")",
        )
    head.add_row("seconds", f"{seconds:.1f}")
    console.print(head)
    if waves is None:
        return
    pools = Table(title="Per pool: used / capacity")
    for column in ("pool", "arch", "systems", "storage TiB", "cores", "memory GiB"):
        pools.add_column(column, justify="left" if column in ("pool", "arch") else "right")
    for target in instance.targets:
        there = [s for s in instance.systems if dest.get(s.id) == target.name]
        pools.add_row(
            escape(target.name),
            target.arch.value,
            str(len(there)),
            f"{sum(s.room for s in there) / TIB:,.1f} / {target.storage_bytes / TIB:,.1f}",
            f"{instance.cores(sum(s.cpu_cores for s in there))} / {instance.cores(target.cpu_cores)}",
            f"{instance.gib(sum(s.memory_bytes for s in there)):,.0f} / {instance.gib(target.memory_bytes):,.0f}",
        )
    for share in instance.shared_storage:
        there = [s for s in instance.systems if dest.get(s.id) in share.targets]
        pools.add_row(
            f"{escape(share.name)} (shared)",
            "",
            str(len(there)),
            f"{sum(s.room for s in there) / TIB:,.1f} / {share.storage_bytes / TIB:,.1f}",
            "",
            "",
        )
    console.print(pools)


@migrate_app.command("city")
def city(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(metavar="CITY_DIR", help="Directory of the city declaration, e.g. inventories/yulin")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="New or empty directory for the plan and each wave's systems.yaml")
    ] = Path("migration-plan"),
    time_limit: TimeLimit = DEFAULT_TIME_LIMIT_S,
    wave_time_limit: WaveTimeLimit = WAVES_TIME_LIMIT_S,
    prometheus_url: Annotated[
        str | None,
        typer.Option(
            "--prometheus-url",
            help="Size the relief from the usage forecast of this Prometheus's history (as `dizuo capacity serve`)",
        ),
    ] = None,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Size the relief from the usage forecast of this CSV (.csv[.gz])")
    ] = None,
    config: ConfigOption = None,
    calendar_file: CalendarOption = None,
) -> None:
    """Plan the city's own migration (city.yaml `migration`): which systems leave the legacy pool for which
    Xinchuang pool, in which waves, and the declaration after each wave, checked as `dizuo validate` checks it.

    Sizes are the declaration's allocations, or with --prometheus-url/--csv the usage the capacity forecast
    projects `migration.horizon_days` ahead."""
    start = time.perf_counter()
    out_problem = _unusable_out(out)
    if out_problem is not None:
        _log(error_line(f"--out {out}: {out_problem}"))
        raise typer.Exit(BAD_INPUT)
    # Ctrl-C or SIGTERM while the history is read or HiGHS solves: say what became of --out.
    with interruption_said(out, "plan", _log):
        declaration = load_or_exit(path)
        outlook = None
        # A calendar from the environment (DIZUO_CALENDAR, the exporter's) asks for no forecast; one on the command
        # line without a history is a mistake worth saying.
        calendar_source = ctx.get_parameter_source("calendar_file")
        calendar_asked = calendar_file is not None and (
            calendar_source is None or calendar_source.name != "ENVIRONMENT"
        )
        # Without a migration section build_instance says what is missing, before any history is read.
        asked = calendar_asked or any(option is not None for option in (prometheus_url, csv, config))
        if asked and declaration.city.migration is not None:
            outlook = _outlook(declaration, prometheus_url, csv, config, calendar_file)
        try:
            planned = build_instance(declaration, outlook)
            check_layout(path)  # before the solve: a plan it could not write back line for line is refused now
        except MigrationSetupError as err:
            _log(error_line(f"{path}: {err}"))
            raise typer.Exit(BAD_INPUT) from None
        except InstanceError as err:  # figures validate lets through but the planner cannot hold exactly
            for problem in err.problems:
                _log(error_line(f"{path}: the planning instance cannot take the declaration's figures: {problem}"))
            raise typer.Exit(BAD_INPUT) from None
        instance = planned.instance
        if planned.unrelievable is not None:  # proven before any solve: moving every candidate would not do
            assignment, waves = Assignment("infeasible", None, reason=planned.unrelievable), None
        else:
            assignment, waves = _solve(instance, time_limit, wave_time_limit)
        written = _write_plan(path, planned, assignment, waves, out)
    _summary(instance, assignment, waves, time.perf_counter() - start, planned.need_bytes)
    # What is said in sentences keeps each on one line (soft_wrap), as errors are (dizuo.refusal): a CI log, which rich
    # writes 80 wide, would otherwise cut a warning mid-sentence, and a grep for it would miss its system or windows.
    console = Console(stderr=True, soft_wrap=True)
    if waves is None:
        console.print(f"No plan: {assignment.reason}", markup=False, highlight=False)
    elif written.deadline is not None:
        _say_deadline(console, written.deadline)
    for warning in written.warnings:
        console.print(f"warning: {warning}", markup=False, highlight=False)
    files = "PLAN.md, plan.json" if planned.unrelievable is not None else "PLAN.md, plan.json, instance.json"
    folders = f", a folder for each of its {len(waves.waves)} waves" if waves is not None and waves.waves else ""
    console.print(f"Plan written to {written.out}/ ({files}{folders})", markup=False)


def _write_plan(
    path: Path, planned: CityInstance, assignment: Assignment, waves: Waves | None, out: Path
) -> WrittenPlan:
    """write_city_plan, its refusals said; returns where the plan went and what the console says of it."""
    try:
        return write_city_plan(path, planned, assignment, waves, out)
    except DeclarationError as err:  # a wave's declaration that validate would refuse: a bug, never written
        for problem in err.problems:
            _log(error_line(f"internal: a wave's declaration is invalid: {problem}"))
        raise typer.Exit(FAILED) from None
    except MigrationSetupError as err:  # a wave that would not read back as planned: a bug, never written
        _log(error_line(f"internal: {err}"))
        raise typer.Exit(FAILED) from None
    except PlanWriteError as err:  # --out taken is the input's problem; a disk that filled is a failure
        _log(error_line(f"{err}"))
        raise typer.Exit(BAD_INPUT if err.taken else FAILED) from None


def _say_deadline(console: Console, deadline: Deadline) -> None:
    """A forecast plan's deadline, as PLAN.md states it, and what the declared cadence says of it unless the waves
    end late: that is one of plan.json's warnings, printed with the others."""
    head, cadence = deadline.sentences()
    shown = head if deadline.late else f"{head}\n{cadence}"
    console.print(shown.replace("`", ""), markup=False, highlight=False)  # Markdown in PLAN.md only


@migrate_app.command("check-wave")
def check_wave_command(
    plan_dir: Annotated[
        Path, typer.Argument(metavar="PLAN_DIR", help="The plan folder `dizuo migrate city --out` wrote")
    ],
    wave: Annotated[int, typer.Argument(metavar="WAVE", help="The wave about to be applied, from 1")],
    path: Annotated[
        Path, typer.Argument(metavar="CITY_DIR", help="Directory of the city declaration, e.g. inventories/yulin")
    ],
) -> None:
    """Whether the wave's systems.yaml may be copied over the declaration's: exit 0 when that is the file the wave
    starts from (the one planned from for wave 1, the previous wave's after) or the wave's own; 1, saying what it
    is, when it was edited since planning or is another wave's, when the declaration's other files changed so that
    the wave would not pass `dizuo validate`, or when the wave's data-copies.yml is not the planned one; 2 when the
    plan cannot be read or has no such wave (none at all when it moves nothing)."""
    try:
        ok, message = check_wave(plan_dir, wave, path)
    except PlanReadError as err:
        _log(error_line(f"{err}"))
        raise typer.Exit(BAD_INPUT) from None
    if not ok:
        _log(error_line(f"{message}"))
        raise typer.Exit(FAILED)
    typer.echo(message)


def _outlook(
    declaration: Declaration,
    prometheus_url: str | None,
    csv: Path | None,
    config: Path | None,
    calendar_file: Path | None,
) -> UsageOutlook:
    """The usage forecast's sizes of the migration's systems and pools; exits as `dizuo capacity report` does."""
    calendar = load_calendar(calendar_file)
    # A claim no pod mounts now (a nightly loader's) has no recent sample but still holds data its wave must copy.
    reading = read_usage_and_source(prometheus_url, csv, config, declaration)[0]
    histories = reading.histories
    with calendar_warnings_as(_log), Console(stderr=True).status(f"projecting {len(histories)} series"):
        try:
            return usage_outlook(
                declaration, histories, calendar, idle=reading.unmounted, exists_unread=reading.exists_unread
            )
        except OutlookError as err:
            _log(error_line(f"{err}"))
            raise typer.Exit(BAD_INPUT) from None


def _unusable_out(given: Path) -> str | None:
    """Why ``out`` cannot take the plan, or None: it must be new or an empty directory (nothing is ever replaced),
    and found so before the solve, not after it. Checked where the plan is written (``resolved_out``: `link/../x`
    is x beside the link's target)."""
    out = resolved_out(given)
    if problem := output_place_problem(out, "the plan"):
        return problem
    if out.is_dir() and any(out.iterdir()):
        return "is not empty; a plan is never written over anything (choose a new directory)"
    return None


def register(app: typer.Typer) -> None:
    """Add `dizuo migrate`."""
    app.add_typer(migrate_app, name="migrate")
