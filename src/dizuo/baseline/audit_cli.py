"""`dizuo audit`: the 等保 host audit as a command (and a CI job)."""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from dizuo.baseline.audit import (
    AUDIT_FILES,
    AuditInputError,
    AuditRun,
    ReportWriteError,
    prepare_audit,
    ready_report_dir,
    run_audit,
)
from dizuo.baseline.catalogue import CatalogueError, control_ids
from dizuo.baseline.report import Status, verdict, visible
from dizuo.baseline.waivers import WaiverError
from dizuo.declaration import DeclarationError
from dizuo.exit_codes import BAD_INPUT, FAILED
from dizuo.files import interruption_said
from dizuo.refusal import print_error, print_interruption

MAX_LISTED_FAILURES = 40


def register(app: typer.Typer) -> None:
    """Add `dizuo audit` to the top-level app."""
    app.command("audit")(audit)


def audit(
    inventory: Annotated[Path, typer.Option("--inventory", "-i", help="Declaration directory, e.g. inventories/yulin")],
    report: Annotated[Path, typer.Option("--report", help="Directory for junit.xml, report.md/html, results.json")],
    limit: Annotated[
        str | None,
        typer.Option("--limit", "-l", help="Ansible host pattern, as for harden, e.g. zone_extranet,yl-db-*"),
    ] = None,
    waivers: Annotated[Path | None, typer.Option("--waivers", help="Waivers file (YAML)")] = None,
    controls: Annotated[
        str | None,
        typer.Option("--controls", help="Only these host controls, comma-separated, e.g. DZ-AU-01,DZ-AU-02"),
    ] = None,
    allow_unverified: Annotated[
        bool,
        typer.Option(
            "--allow-unverified",
            help="Pass an audit that verified nothing (every control NOT VERIFIED), as before; by default it fails",
        ),
    ] = False,
) -> None:
    """Check every host control of the 等保 baseline on the declared hosts; exit 1 when one fails or none could be
    verified."""
    # soft_wrap: an error names a file path and a key path; wrapping them would break both.
    out, err = Console(), Console(stderr=True, soft_wrap=True)
    try:
        chosen = control_ids(controls) if controls is not None else None
        prepared = prepare_audit(inventory, limit=limit, waivers_file=waivers, controls=chosen)
        # Last: a bad declaration or waiver leaves no empty report directory behind.
        ready_report_dir(report)
    except (DeclarationError, WaiverError, CatalogueError) as exc:
        for problem in exc.problems:
            print_error(err, str(problem))
        raise typer.Exit(BAD_INPUT) from None
    except AuditInputError as exc:
        print_error(err, str(exc))
        raise typer.Exit(BAD_INPUT) from None
    unwritten: ReportWriteError | None = None

    # Ctrl-C or SIGTERM while the hosts are checked: say what became of the previous audit's reports.
    with (
        interruption_said(report, "reports", partial(print_interruption, err), files=AUDIT_FILES, plural=True),
        Progress(
            TextColumn("auditing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("controls×hosts"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("audit", total=len(prepared.items))
        try:
            run = run_audit(
                prepared,
                report,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
                allow_unverified=allow_unverified,
            )
        except ReportWriteError as exc:
            run, unwritten = exc.run, exc
    _print(run, out)
    sys.stdout.flush()
    if unwritten is not None:
        # The results are shown above, but CI must not pass an audit whose reports are missing.
        print_error(err, str(unwritten))
        raise typer.Exit(FAILED)
    if not run.passed:
        raise typer.Exit(FAILED)


def _print(run: AuditRun, out: Console) -> None:
    """The summary table, the failing controls and the verdict.

    Everything that comes from a host or a declaration goes through ``_shown``.
    """
    table = Table(title=f"等保 audit — {_shown(run.meta.city)}")
    table.add_column("Host")
    for status in Status:
        table.add_column(status.label, justify="right")
    for host in run.meta.hosts:
        mine = [r for r in run.results if r.host == host]
        table.add_row(_shown(host), *[str(sum(1 for r in mine if r.status is s)) for s in Status])
    out.print(table)
    if run.failed:
        failing = Table(title="Failing controls")
        for column in ("Host", "Control", "Title", "Why"):
            failing.add_column(column, overflow="fold")
        for r in run.failed[:MAX_LISTED_FAILURES]:
            why = "; ".join([*r.problems[:2], *([r.note] if r.note else [])])
            failing.add_row(*(_shown(text) for text in (r.host, r.control, r.title_en, why)))
        out.print(failing)
        if len(run.failed) > MAX_LISTED_FAILURES:
            out.print(f"… and {len(run.failed) - MAX_LISTED_FAILURES} more: see the report")
    for path in run.reports:
        out.print(f"report: {_shown(str(path))}", highlight=False)
    for gap in run.meta.left_out:
        out.print(f"partial audit: {_shown(gap)}", highlight=False)
    if run.failed:
        why = f": {len(run.failed)} control(s)"
    elif not run.passed:  # no failure, yet no pass: nothing could be verified
        why = (
            ": no control could be verified on the audited hosts (see each one's reason); verify them on a VM or "
            "bare metal, or pass --allow-unverified to let such an audit pass"
        )
    elif unverified := [r for r in run.results if r.status is Status.NOT_VERIFIED]:
        # A pass with controls left unverified is no pass of those: the CI log says which, not only the table's count.
        controls = ", ".join(dict.fromkeys(r.control for r in unverified))
        hosts = len({r.host for r in unverified})
        why = f": not verified on {hosts} host(s), verify on a VM or bare metal: {_shown(controls)}"
    else:
        why = ""
    out.print(f"audit {verdict(run.results, run.meta)}{why}", highlight=False)


def _shown(text: str) -> str:
    """``text`` as rich prints it verbatim: rich would read ``[success=1 default=ignore]`` from a PAM line as
    markup and drop it (an unbalanced ``[/path]`` stops the run with a MarkupError), and a terminal would obey
    an escape sequence in a process name."""
    return escape(visible(text))
