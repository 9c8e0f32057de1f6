"""`dizuo released`: the protected resources a change of the declaration releases, and how to let them go.

Pulumi refuses an update that would delete, or only forget (``retain_on_delete``), a protected resource. Retiring
a dataset therefore takes a deliberate step first: ``pulumi state unprotect`` of exactly the resources the change
drops. Which ones they are follows from the stack programs: each runs under the mock engine for the declaration as
deployed and as changed, and every protected resource of the first that the second no longer declares (under its
name or an alias) is released.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from dizuo.synth.engine import StackRun, engine_urn
from dizuo.synth.synth import discover, run_program


@dataclass(frozen=True, slots=True)
class Released:
    """A protected resource the changed declaration no longer declares."""

    stack_dir: Path
    """Its stack's folder."""
    urn: str
    """Its URN, as the Pulumi engine and ``pulumi stack --show-urns`` write it."""
    kept: bool
    """``retain_on_delete``: the update forgets it and leaves it where it is (else the update deletes it)."""


def released(deployed: Path, changed: Path, stacks_root: Path, stack: str) -> list[Released]:
    """The protected resources of environment ``stack`` that declaration ``deployed`` makes and ``changed`` does not,
    stack by stack, lowest tier first. Raises :class:`dizuo.synth.synth.SynthError` when a stack program fails."""
    stacks = discover(stacks_root)
    runs: list[list[StackRun]] = []
    for declaration in (deployed, changed):
        upstream: dict[str, dict[str, object]] = {}
        runs.append([run_program(stack_dir, stack, declaration, upstream) for stack_dir in stacks])
    found = []
    for stack_dir, before, after in zip(stacks, *runs, strict=True):
        declared = {r.urn for r in after.resources} | {alias for r in after.resources for alias in r.aliases}
        found += [
            Released(stack_dir.path, engine_urn(before, r), r.retain_on_delete)
            for r in before.resources
            if r.protect and r.urn not in declared
        ]
    return found


def unprotect_commands(found: list[Released], stack: str, backend_url: str, cwd: Path | None = None) -> list[str]:
    """A shell script: the backend, then per released resource what the update does with it and the command that
    unprotects it (``pulumi -C <stack folder> state unprotect``), stack folders relative to ``cwd`` when below it."""
    here = (cwd or Path.cwd()).resolve()
    lines = [f"export PULUMI_BACKEND_URL={shlex.quote(backend_url)}"] if found else []
    for r in found:
        folder = r.stack_dir.relative_to(here) if r.stack_dir.is_relative_to(here) else r.stack_dir
        fate = "kept where it is, forgotten by the stack" if r.kept else "DELETED by the next update"
        lines.append(f"# {folder}: {fate}")
        unprotect = ["pulumi", "-C", str(folder), "state", "unprotect", "--stack", stack, "--yes", r.urn]
        lines.append(shlex.join(unprotect))
    return lines
