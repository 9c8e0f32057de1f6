"""CLI commands of the baseline domain: `dizuo harden`, `dizuo baseline controls`, `dizuo audit`."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from dizuo.baseline import audit_cli, harden
from dizuo.baseline.catalogue import CatalogueError, Scope, UnknownControlError, control_ids, packaged
from dizuo.declaration import Declaration, DeclarationError, load
from dizuo.exit_codes import BAD_INPUT, FAILED
from dizuo.refusal import print_error

err = Console(stderr=True)
out = Console()


class Format(StrEnum):
    """Output formats of `dizuo baseline controls`."""

    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer) -> None:
    """Add the baseline commands to the top-level app."""
    app.command("harden")(harden_command)
    baseline = typer.Typer(name="baseline", help="The 等保2.0 level-3 control catalogue.", no_args_is_help=True)
    baseline.command("controls")(controls)
    app.add_typer(baseline)
    audit_cli.register(app)


def controls(
    format_: Annotated[Format, typer.Option("--format", "-f", help="table for people, json for tools")] = Format.TABLE,
) -> None:
    """List the controls of the baseline: id, clause, title, parameters, remediation and checks."""
    try:
        catalogue = packaged()
    except CatalogueError as exc:
        for problem in exc.problems:
            print_error(err, str(problem))
        raise typer.Exit(BAD_INPUT) from None
    if format_ is Format.JSON:
        print(json.dumps(catalogue.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{catalogue.standard} — {len(catalogue.controls)} controls", show_lines=False)
    table.add_column("id", style="bold", no_wrap=True)
    table.add_column("clause", no_wrap=True)
    # A word wider than its column (a parameter name, a title in Chinese, which has no spaces to wrap at) is folded
    # over lines, not cut to `password_…`: on an 80-column terminal, and in a pipe or CI log, which rich prints 80 wide.
    for heading in ("control", "parameters (default)", "enforced by", "checks"):
        table.add_column(heading, overflow="fold")
    for control in catalogue.controls:
        params = "\n".join(f"{p.name}={_short(p.default)}" for p in control.parameters)
        checks = ", ".join(dict.fromkeys(c.kind.value for c in control.checks))
        if not control.container.verifiable:
            checks += "\n[yellow](not verifiable in a container)[/yellow]"
        clause = control.clause + (f"\n{control.cloud_clause}" if control.cloud_clause else "")
        table.add_row(
            control.id,
            clause,
            f"{control.title.zh}\n[dim]{escape(control.title.en)}[/dim]",
            escape(params),
            control.remediation.where,
            checks,
        )
    out.print(table)


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:39] + "…"


DEBUG_ACTIONS = frozenset({"ansible.builtin.debug", "debug"})


def _harden_inputs(
    inventory: Path, limit: str | None, controls: str | None
) -> tuple[Declaration, Path, list[str] | None]:
    """The declaration, the playbook and the role tags of a harden run, or exit 2 naming the bad input (a missing
    ansible-playbook too: a tool that is not installed is bad input, see dizuo.exit_codes)."""
    try:
        # load() checks the baseline overrides against the catalogue too: a bad value is a located error.
        declaration = load(inventory)
        playbook = harden.find_playbook()
        harden.find_ansible_playbook()
        if limit:
            harden.hosts_matching(declaration, limit)
        tags = (
            harden.remediation_tags(packaged().select(Scope.HOST, control_ids(controls)))
            if controls is not None
            else None
        )
    except DeclarationError as exc:
        for problem in exc.problems:
            print_error(err, str(problem))
        raise typer.Exit(BAD_INPUT) from None
    except UnknownControlError as exc:
        print_error(err, f"--controls: {exc}")
        raise typer.Exit(BAD_INPUT) from None
    except harden.HardenError as exc:
        print_error(err, str(exc))
        raise typer.Exit(BAD_INPUT) from None
    return declaration, playbook, tags


def harden_command(
    inventory: Annotated[Path, typer.Option("--inventory", "-i", help="Declaration directory, e.g. inventories/yulin")],
    limit: Annotated[str | None, typer.Option("--limit", "-l", help="Ansible host pattern, e.g. yl-log-01")] = None,
    check: Annotated[bool, typer.Option("--check", help="Report what would change; change nothing")] = False,
    controls: Annotated[
        str | None,
        typer.Option("--controls", help="Only the role parts (tags) enforcing these controls, e.g. DZ-AU-01,DZ-AU-02"),
    ] = None,
) -> None:
    """Converge the declared hosts to the baseline with the Ansible role; exit 1 when a host fails."""
    declaration, playbook, tags = _harden_inputs(inventory, limit, controls)
    failures: list[str] = []
    # The role's notes to the operator (its debug tasks: people who need a password before their next login, audit
    # rules waiting for a reboot...): ansible-runner runs quiet, so they are shown here or nowhere.
    notes: list[str] = []
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as progress:
        overall = progress.add_task("starting ansible-playbook", total=None)
        hosts: dict[str, Any] = {}
        counts: dict[str, dict[str, int]] = {}

        def on_event(event: dict[str, Any]) -> None:
            kind = event.get("event", "")
            data = event.get("event_data", {})
            if kind == "playbook_on_task_start":
                progress.update(overall, description=f"task: {escape(str(data.get('task', '')))}")
                return
            host = data.get("host")
            if not host or not kind.startswith("runner_on_") or kind == "runner_on_start":
                return
            tally = counts.setdefault(host, {"ok": 0, "changed": 0, "failed": 0})
            if host not in hosts:
                hosts[host] = progress.add_task("", total=None)
            res = data.get("res", {})
            if kind in {"runner_on_failed", "runner_on_unreachable"} and not data.get("ignore_errors"):
                tally["failed"] += 1
                failures.append(f"{host}: {data.get('task', '')}: {str(res.get('msg', ''))[:300]}")
            elif kind in {"runner_on_ok", "runner_on_failed"}:
                # Counted as Ansible's recap (the table below) counts: a changed task is ok too, and so is a failed
                # one whose errors are ignored (changed too when it changed).
                tally["ok"] += 1
                tally["changed"] += 1 if res.get("changed") else 0
                # An ignored failure is the role's report-only finding (DZ-IP-02's listeners outside the allow-list):
                # its message is a note, or the operator never sees it.
                if (kind == "runner_on_failed" or data.get("task_action") in DEBUG_ACTIONS) and res.get("msg"):
                    notes.append(f"{host}: {res['msg']}")
            progress.update(
                hosts[host],
                description=f"  {escape(host)}: ok {tally['ok']}  changed {tally['changed']}  failed {tally['failed']}",
            )

        result = harden.run(declaration, limit=limit, check=check, on_event=on_event, playbook=playbook, tags=tags)
        progress.update(overall, description=f"done ({result.status})")

    table = Table(
        title="dizuo harden" + (" --check" if check else "") + (f" (tags {escape(', '.join(tags))})" if tags else "")
    )
    for column in ("host", "ok", "changed", "failed", "unreachable", "skipped"):
        table.add_column(column, justify="left" if column == "host" else "right")
    for name, outcome in result.hosts.items():
        table.add_row(
            escape(name),
            str(outcome.ok),
            str(outcome.changed),
            f"[red]{outcome.failed}[/red]" if outcome.failed else "0",
            f"[red]{outcome.unreachable}[/red]" if outcome.unreachable else "0",
            str(outcome.skipped),
        )
    out.print(table)
    for note in notes:
        err.print("[yellow]note[/yellow]", escape(note), soft_wrap=True)
    for failure in failures:
        err.print("[red]failed[/red]", escape(failure), soft_wrap=True)
    if not result.hosts:
        err.print(f"[red]no host ran[/red] (ansible-runner status {result.status}, rc {result.rc})")
        raise typer.Exit(FAILED)
    if not result.ok:
        raise typer.Exit(FAILED)
