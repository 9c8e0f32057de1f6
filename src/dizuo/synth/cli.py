"""`dizuo synth`, `dizuo preview` and `dizuo up`."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from functools import partial
from importlib.metadata import version as installed
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from dizuo.declaration.cli import CityPath, load_or_exit
from dizuo.declaration.model import Declaration
from dizuo.exit_codes import FAILED
from dizuo.files import interruption_said
from dizuo.refusal import print_error, print_interruption
from dizuo.synth.engine import StackRun
from dizuo.synth.schemas import schema_version
from dizuo.synth.synth import StackDir, SynthError, SynthResult, synth

if TYPE_CHECKING:
    from dizuo.synth.released import Change

# No emoji codes: a URN holds "dizuo:cloud:SystemTenant", which Rich would print as "dizuo☁SystemTenant".
err = Console(stderr=True, emoji=False)
out = Console(emoji=False)

StacksOption = Annotated[Path, typer.Option("--stacks", help="Folder of the stack programs")]
StackName = Annotated[str, typer.Option("--stack", help="Environment stack name, e.g. yulin-prod")]
Backend = Annotated[
    str | None,
    typer.Option(
        "--backend",
        help="Self-managed backend URL (file:// or s3://); default $PULUMI_BACKEND_URL, else file://.pulumi-state "
        "in the current directory",
    ),
]
Only = Annotated[list[str] | None, typer.Option("--only", help="Limit to these stacks (network, cloud, ...)")]
NewBackend = Annotated[
    bool, typer.Option("--new-backend", help="The city's first deployment: a file:// backend without state is expected")
]


def _pulumi_said(line: str) -> None:
    # Pulumi's lines carry [diff: ~spec], [secret] and [/paths]: as rich markup they would vanish or raise, and an
    # exception here would stop the thread reading Pulumi's output, hanging the update.
    err.print(line, markup=False, highlight=False, emoji=False, soft_wrap=True)


def _older_schemas_note(versions: str) -> str:
    """Where a cluster is newer than the schemas kubernetes-validate holds, say which version its manifests were
    checked against instead: 'valid against 1.38' must not stand for a check against 1.37's API."""
    checked = {v: schema_version(v) for v in versions.split(", ")}
    older = {v: schemas for v, schemas in checked.items() if schemas != v}
    if not older:
        return ""
    shown = ", ".join(f"{v} against {schemas}'s schemas" for v, schemas in older.items())
    return (
        f"; {shown}, the newest kubernetes-validate {installed('kubernetes-validate')} holds: upgrade it to check "
        "the newer API"
    )


def _print_built(declaration: Declaration, result: SynthResult, out_dir: Path) -> None:
    """What a synth run built: resources per stack, what the stacks keep, the declaration's size, the DNS records."""
    built = f"{declaration.city.name} ({result.summary['stack']}) -> {out_dir}"
    table = Table(title=f"dizuo synth: {escape(built)}")
    table.add_column("stack")
    table.add_column("resources", justify="right")
    # Both ways a stack keeps a resource: `protect` (an update that would delete it fails) and retain_on_delete
    # (deleted from the stack, left in the cloud); the second is most of what holds data, so both are shown.
    table.add_column("protected", justify="right")
    table.add_column("retained", justify="right")
    # folded, not cut to `ValidatingAdmissionPolicyBind…` where a type is wider than the column (80 columns: a pipe)
    table.add_column("top types", overflow="fold")
    stacks_run = result.summary["stacks"].values()
    for short, info in result.summary["stacks"].items():
        top = sorted(info["by_type"].items(), key=lambda kv: -kv[1])[:4]
        table.add_row(
            escape(short),
            str(info["resources"]),
            str(info["protected"]),
            str(info["retained_on_delete"]),
            ", ".join(f"{t.split(':')[-1]} {n}" for t, n in top),
        )
    totals = [sum(info[column] for info in stacks_run) for column in ("protected", "retained_on_delete")]
    table.add_row("total", str(result.summary["total_resources"]), *map(str, totals), "", style="bold")
    out.print(table)
    if marked := sum(info["marked_no_prune"] for info in stacks_run):
        out.print(
            f"{marked} Kubernetes object{'s' if marked > 1 else ''} marked against GitOps pruning (Argo CD "
            "Prune=false, Flux prune: "
            "disabled): what the stacks protect or retain on delete stays in the cluster when a retirement drops "
            "it from the build",
            soft_wrap=True,
        )
    # Each line whole (soft_wrap): a pipe or CI log, which rich prints 80 wide, would otherwise get it cut in lines that
    # a grep for "no violation" or a version misses; a terminal wraps it anyway.
    d = result.summary["declaration"]
    out.print(
        f"{d['departments']} departments, {d['systems']} systems, {d['datasets']} datasets; "
        f"manifests valid against Kubernetes {result.summary['kubernetes_version']} (strict)"
        + _older_schemas_note(result.summary["kubernetes_version"]),
        soft_wrap=True,
    )
    if dns := result.summary.get("dns"):
        records = f"{dns['records']} DNS records for the ingress names in {dns['zone_file']}"
        out.print(records, markup=False, soft_wrap=True)
    out.print(_policy_pack_line(result.summary["policy_pack"]), markup=False, highlight=False, soft_wrap=True)
    if result.dropped:
        # Replaced with the rest of the previous build: a GitOps source naming one (README's include of a cluster's
        # files) would now sync nothing from it, and is to be pointed at the files that replace it.
        out.print(
            f"no longer in the build (the previous one in {out_dir} had them): {', '.join(result.dropped)}; a GitOps "
            "source naming them (a renamed or removed cluster's include, a removed stack's folder) now finds nothing "
            "there: point it at this build's files",
            style="yellow",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )


def _policy_pack_line(pack: dict[str, Any]) -> str:
    """One line saying the 等保 policy pack ran, on what, covering which controls (a written build has no violation:
    any refuses it)."""
    levels = "/".join(sorted({policy["enforcement"] for policy in pack["policies"]}))
    return (
        f"等保 policy pack ({pack['framework']}): {len(pack['policies'])} {levels} policies ran on "
        f"{len(pack['stacks'])} stacks, covering controls {', '.join(pack['controls'])}; no violation"
    )


@contextlib.contextmanager
def _stack_progress() -> Iterator[Progress]:
    """The progress bar of a command that runs the stack programs (each a few seconds, Yulin's cloud stack half a
    minute), on stderr: which stack runs, how many are done and for how long. Shown from the first stack on
    (:func:`_stack_run_shown` starts it), so that a refusal before any stack runs (an `--out` that would lose data,
    an environment no stack has) is said alone, not under an empty bar; stopped as the block ends."""
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    try:
        yield progress
    finally:
        _stop(progress)


def _stop(progress: Progress) -> None:
    """Stop ``progress`` where it was started: stopping one never started still writes an empty line off a terminal."""
    if progress.live.is_started:
        progress.stop()


def _stack_run_shown(progress: Progress, task: TaskID, label: str, stack_dir: StackDir, run: StackRun | None) -> None:
    """An ``on_stack`` callback moving ``task`` of ``progress``: the stack named (after ``label``) as it starts,
    counted once it ran (``run``)."""
    if run is None:
        progress.start()  # once: rich starts a started bar no more
        progress.update(task, description=escape(f"{label}{stack_dir.shown}"))
    else:
        progress.advance(task)


def _synth_showing_progress(
    declaration: Declaration, path: Path, out_dir: Path, stacks: Path, stack: str | None
) -> SynthResult:
    """synth() with a progress bar; its errors, or an interruption, said on stderr."""
    # Ctrl-C, or SIGTERM (dizuo.cli): said below the bar, which stops as the exception leaves its block.
    with (
        interruption_said(out_dir, "build", partial(print_interruption, err)),
        _stack_progress() as progress,
    ):
        task = progress.add_task("synthesising stacks", total=len(list(stacks.glob("*/Pulumi.yaml"))))
        on_stack = partial(_stack_run_shown, progress, task, "")
        try:
            result = synth(declaration, path, out_dir, stacks, stack=stack, on_stack=on_stack)
        except SynthError as exc:
            _stop(progress)
            for error in exc.errors:
                print_error(err, error)
            err.print(f"{len(exc.errors)} error(s); {out_dir} left unchanged", style="bold red", markup=False)
            raise typer.Exit(exc.code) from None
    return result


def register(app: typer.Typer) -> None:
    """Add synth, preview, up and released."""
    _register_released(app)

    @app.command("synth")
    def synth_command(
        path: CityPath,
        out_dir: Annotated[
            Path, typer.Option("--out", help="Output directory (replaced only when all is valid)")
        ] = Path("build"),
        stacks: StacksOption = Path("stacks"),
        stack: Annotated[str | None, typer.Option("--stack", help="Environment; default <city>-<environment>")] = None,
    ) -> None:
        """Run every stack offline (Pulumi's mock engine) and write schema-valid manifests and a summary."""
        declaration = load_or_exit(path)
        result = _synth_showing_progress(declaration, path, out_dir, stacks, stack)
        _print_built(declaration, result, out_dir)

    def deploy(
        action: str, stack: str, stacks: Path, backend: str | None, only: list[str] | None, *, new_backend: bool = False
    ) -> None:
        from dizuo.synth.deploy import DeployError, run  # noqa: PLC0415 - only `preview` and `up` need it

        try:
            outcomes = run(
                action,
                stack,
                stacks,
                backend=backend,
                only=set(only) if only else None,
                on_output=_pulumi_said,
                new_backend=new_backend,
            )
        except DeployError as exc:
            for problem in exc.problems:
                print_error(err, problem)
            raise typer.Exit(exc.code) from None
        table = Table(title=f"pulumi {action}: {escape(stack)}")
        table.add_column("stack")
        table.add_column("changes")
        for outcome in outcomes:
            table.add_row(
                escape(outcome.stack), ", ".join(f"{k} {v}" for k, v in sorted(outcome.changes.items())) or "none"
            )
        out.print(table)

    @app.command()
    def preview(
        stack: StackName,
        stacks: StacksOption = Path("stacks"),
        backend: Backend = None,
        only: Only = None,
        new_backend: NewBackend = False,
    ) -> None:
        """Preview every stack in dependency order with the Pulumi Automation API (needs the Pulumi CLI)."""
        deploy("preview", stack, stacks, backend, only, new_backend=new_backend)

    @app.command()
    def up(
        stack: StackName,
        stacks: StacksOption = Path("stacks"),
        backend: Backend = None,
        only: Only = None,
        new_backend: NewBackend = False,
    ) -> None:
        """Update every stack in dependency order with the Pulumi Automation API (needs the Pulumi CLI)."""
        deploy("up", stack, stacks, backend, only, new_backend=new_backend)


def _register_released(app: typer.Typer) -> None:
    @app.command("released")
    def released_command(
        deployed: Annotated[
            Path,
            typer.Argument(
                metavar="DEPLOYED_DIR",
                help="The declaration as last deployed (a copy, or `git worktree add` of the deployed commit)",
            ),
        ],
        changed: CityPath,
        stack: StackName,
        stacks: StacksOption = Path("stacks"),
        backend: Backend = None,
    ) -> None:
        """Print the `pulumi state unprotect` commands for the protected resources CITY_DIR no longer declares (a
        retired dataset's claim or bucket, an owner's last dataset namespace): `dizuo up` refuses to forget them
        until they are unprotected. For what CITY_DIR declares anew that an earlier retirement kept in the cluster
        (a retired dataset or system declared again), print, commented, the `pulumi import` that adopts it: `dizuo
        up` fails with AlreadyExists until it is imported. Exit 1 when the change would replace a protected resource
        (a dataset moved to another pool or cluster) or shrink a dataset's claim: that is a data migration, not a
        stack update."""
        from dizuo.synth.deploy import DeployError, backend_url  # noqa: PLC0415 - only this command and up need it
        from dizuo.synth.released import adopt_commands, released, unprotect_commands  # noqa: PLC0415

        load_or_exit(deployed)
        load_or_exit(changed)
        try:
            url = backend_url(backend)
            # Every stack program runs twice, for each declaration: a minute for Yulin, said as it goes.
            with _stack_progress() as progress:
                task = progress.add_task("running stacks", total=2 * len(list(stacks.glob("*/Pulumi.yaml"))))
                change = released(
                    deployed,
                    changed,
                    stacks,
                    stack,
                    on_stack=lambda label, stack_dir, run: _stack_run_shown(
                        progress, task, f"{label}: ", stack_dir, run
                    ),
                )
        except DeployError as exc:
            for problem in exc.problems:
                print_error(err, problem)
            raise typer.Exit(exc.code) from None
        except SynthError as exc:
            for error in exc.errors:
                print_error(err, error)
            raise typer.Exit(exc.code) from None
        found = change.released
        for line in unprotect_commands(found, stack, url):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        err.print(_released_summary(change, stack), markup=False, soft_wrap=True)
        for line in adopt_commands(change.redeclared, stack):
            out.print(line, markup=False, highlight=False, soft_wrap=True)
        if change.redeclared:
            err.print(
                f"{sum(len(r.objects) for r in change.redeclared)} object(s) declared anew that a retirement keeps in"
                " the cluster: if one is still there, `dizuo up` fails with AlreadyExists; run the commented"
                " `pulumi import` first (README, The stacks: declaring a retired dataset or system again)",
                soft_wrap=True,
            )
        for r in change.replaced:
            print_error(
                err,
                f"{r.urn} would be replaced by a new, empty one ({'; '.join(r.changes)}):"
                " Pulumi refuses to replace a protected resource, and unprotecting it would not move its data. Keep it"
                " as deployed, declare the data's new home beside it and copy the data there (a migration wave,"
                " roles/data_migration), then retire the old one as above.",
            )
        for s in change.shrunk:
            print_error(
                err,
                f"{s.urn} would shrink from {s.was_gib}Gi to {s.now_gib}Gi: Kubernetes never shrinks a claim (the API"
                " refuses a smaller request), so `dizuo up` would fail on it after shrinking its owner's quota below"
                f" what the claims hold. Keep the dataset's size_gib at {s.was_gib} or more (datasets.yaml), or"
                " declare a smaller dataset beside it, copy the data there (a migration wave) and retire this one.",
            )
        if change.replaced or change.shrunk:
            raise typer.Exit(FAILED)


def _released_summary(change: Change, stack: str) -> str:
    """What `dizuo released` found, in one line that stays true when a replacement makes it exit 1: then `dizuo up`
    fails whatever is unprotected, so neither "needs no unprotect" nor "run the commands, then dizuo up" is said."""
    found, replaced, shrunk = len(change.released), len(change.replaced), len(change.shrunk)
    if replaced or shrunk:
        unprotect = (
            f"{found} protected resource(s) released (commands above), but" if found else "nothing to unprotect:"
        )
        refused = [
            *([f"{replaced} protected resource(s) would be replaced, which Pulumi refuses"] if replaced else []),
            *([f"{shrunk} claim(s) would shrink, which Kubernetes refuses"] if shrunk else []),
        ]
        return (
            f"{unprotect} {'; '.join(refused)}: `dizuo up --stack {stack}` fails until the change is made as a"
            " migration (below)"
        )
    if found:
        return f"{found} protected resource(s) released; run the commands, then `dizuo up --stack {stack}`"
    return "no protected resource is released: `dizuo up` needs no unprotect"
