"""`dizuo released`: the protected resources a change of the declaration releases, and how to let them go.

Pulumi refuses an update that would delete, or only forget (``retain_on_delete``), a protected resource. Retiring
a dataset therefore takes a deliberate step first: ``pulumi state unprotect`` of exactly the resources the change
drops. Which ones they are follows from the stack programs: each runs under the mock engine for the declaration as
deployed and as changed, and every protected resource of the first that the second no longer declares (under its
name or an alias) is released.

A change can also keep a protected resource but change an input its provider cannot change in place (a dataset moved
to another storage pool: its claim's storage class): the provider replaces it, creating a new, empty one. Pulumi
refuses that for a protected resource too, and unprotecting it would not move the data; such resources are named as
replaced, with the inputs that force it, so that the change is made as a data migration instead. A claim asked for
less storage (a dataset's size_gib lowered) is named too: Kubernetes never shrinks a claim, so the update would fail.

The other way round, a change can declare again what an earlier retirement only forgot (a retired dataset's owner
namespace with its quota, limits and default-deny, its claim, a retired system's namespace): the object is still in the
cluster, and since pulumi-kubernetes 4.29 a create no longer takes over an existing object, so ``dizuo up`` fails with
AlreadyExists. Such objects are named as possibly kept, with the ``pulumi import`` that adopts them into the stack.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dizuo.baseline.policies import BUCKET, PVC, QUOTA
from dizuo.synth.engine import Registered, StackRun
from dizuo.synth.synth import StackDir, check_environment, discover, run_program


@dataclass(frozen=True, slots=True)
class Released:
    """A protected resource the changed declaration no longer declares."""

    stack_dir: Path
    """Its stack's folder."""
    urn: str
    """Its URN, as the Pulumi engine and ``pulumi stack --show-urns`` write it."""
    kept: bool
    """``retain_on_delete``: the update forgets it and leaves it where it is (else the update deletes it)."""
    counted: str = ""
    """For a kept claim whose namespace keeps a declared quota (its owner's other datasets there): that namespace, in
    whose quota the claim's storage still counts until it is deleted; "" otherwise."""
    counted_class: str = ""
    """With ``counted``: the claim's storage class, the one key of that quota it counts against (the quota has no
    total: the owner's other classes are not touched by it); "" otherwise."""


@dataclass(frozen=True, slots=True)
class Replaced:
    """A protected resource the changed declaration still declares, with an input its provider cannot change in
    place: the update would replace it with a new, empty one (and Pulumi refuses, the resource being protected)."""

    stack_dir: Path
    """Its stack's folder."""
    urn: str
    """Its URN, as the Pulumi engine writes it."""
    changes: tuple[str, ...]
    """Each input forcing the replacement, with its old and new value: ``spec.storageClassName: 'a' -> 'b'``."""


@dataclass(frozen=True, slots=True)
class Shrunk:
    """A protected claim the changed declaration asks less storage of (a dataset's ``size_gib`` lowered): Kubernetes
    never shrinks a bound claim (the API refuses a smaller request), so ``dizuo up`` would fail on it, after the
    owner's quota had already shrunk below what its claims hold."""

    stack_dir: Path
    """Its stack's folder."""
    urn: str
    """Its URN, as the Pulumi engine writes it."""
    was_gib: int
    """The storage it requests as deployed, in GiB (``211Gi``: 211)."""
    now_gib: int
    """The smaller storage the changed declaration asks, in GiB (``200Gi``: 200)."""


@dataclass(frozen=True, slots=True)
class Redeclared:
    """Kubernetes objects of one stack that the changed declaration declares and the deployed one does not, of a kind
    the stack keeps in the cluster when it forgets them (``retain_on_delete``): if an earlier retirement kept them,
    ``dizuo up`` fails with AlreadyExists until they are imported."""

    stack_dir: Path
    """Their stack's folder."""
    objects: tuple[str, ...]
    """Each as ``kubectl get`` names it in its cluster: ``namespace/dp-gaj --context yl-gov``,
    ``resourcequota/quota -n dp-gaj --context yl-gov``."""
    import_file: dict[str, Any]
    """A ``pulumi import --file`` document adopting them under the URNs the update gives them (with any component
    parent the deployed stack lacks, created empty, as ``pulumi import`` does for ``"component": true``)."""


@dataclass(frozen=True, slots=True)
class Change:
    """What a change of the declaration does to the protected resources of one environment."""

    released: list[Released]
    replaced: list[Replaced]
    redeclared: list[Redeclared] = field(default_factory=list)
    shrunk: list[Shrunk] = field(default_factory=list)


# The inputs whose change makes the provider replace a resource of a kind that holds data, read from the providers:
# pulumi-kubernetes' forceNew table (provider/pkg/provider/diff.go; every kind: metadata.name and .namespace) and the
# OpenStack provider's ForceNew schema fields. A different provider resource (another Kubernetes cluster) replaces
# any resource.
KUBERNETES_REPLACING = ("metadata.name", "metadata.namespace")
REPLACING_INPUTS: dict[str, tuple[str, ...]] = {
    PVC: (
        *KUBERNETES_REPLACING,
        "spec.accessModes",
        "spec.selector",
        "spec.storageClassName",
        "spec.volumeName",
    ),
    BUCKET: ("name", "region", "storagePolicy"),
    "openstack:networking/port:Port": ("networkId", "region"),
}


def replacing_changes(before: Registered, after: Registered) -> tuple[str, ...]:
    """The inputs of ``before`` that ``after`` changes and that its provider cannot change in place."""
    default = KUBERNETES_REPLACING if before.type.startswith("kubernetes:") else ()
    changes = []
    for path in REPLACING_INPUTS.get(before.type, default):
        old, new = _at(before.inputs, path), _at(after.inputs, path)
        if old != new:
            changes.append(f"{path}: {old!r} -> {new!r}")
    old_provider, new_provider = (r.provider.rpartition("::")[0] for r in (before, after))
    if old_provider != new_provider:
        changes.append(f"provider: {old_provider.rpartition('::')[2]!r} -> {new_provider.rpartition('::')[2]!r}")
    return tuple(changes)


CLAIM_SIZE = "spec.resources.requests.storage"


def _gib(quantity: object) -> int | None:
    """A claim's requested storage in GiB, as the data pool writes it (``211Gi``); None for any other form."""
    if isinstance(quantity, str) and quantity.endswith("Gi") and quantity[:-2].isdigit():
        return int(quantity[:-2])
    return None


def shrinking_claim(before: Registered, after: Registered) -> tuple[int, int] | None:
    """(as deployed, as changed) in GiB when ``after`` requests less storage than claim ``before``; None otherwise."""
    if before.type != PVC:
        return None
    old, new = _gib(_at(before.inputs, CLAIM_SIZE)), _gib(_at(after.inputs, CLAIM_SIZE))
    if old is None or new is None or new >= old:
        return None
    return old, new


def _at(inputs: dict[str, Any], path: str) -> Any:
    """The input at a dotted path, None where any part is missing."""
    value: Any = inputs
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def released(
    deployed: Path,
    changed: Path,
    stacks_root: Path,
    stack: str,
    on_stack: Callable[[str, StackDir, StackRun | None], None] | None = None,
) -> Change:
    """The protected resources of environment ``stack`` that declaration ``deployed`` makes and ``changed`` does not,
    and those ``changed`` still makes but would replace or shrink, stack by stack, lowest tier first. Raises
    :class:`dizuo.synth.synth.SynthError` when a stack folder has no ``Pulumi.<stack>.yaml`` or a stack program
    fails. ``on_stack`` is told of each program as it starts (``None``) and once it ran, with which declaration it
    runs for ("deployed" or "changed"), as synth's is."""
    stacks = discover(stacks_root)
    check_environment(stacks, stack)
    runs: list[list[StackRun]] = []
    for label, declaration in (("deployed", deployed), ("changed", changed)):
        upstream: dict[str, dict[str, object]] = {}
        runs.append([])
        for stack_dir in stacks:
            if on_stack is not None:
                on_stack(label, stack_dir, None)
            runs[-1].append(run := run_program(stack_dir, stack, declaration, upstream))
            if on_stack is not None:
                on_stack(label, stack_dir, run)
    found: list[Released] = []
    replaced: list[Replaced] = []
    redeclared: list[Redeclared] = []
    shrunk: list[Shrunk] = []
    for stack_dir, before, after in zip(stacks, *runs, strict=True):
        if (again := _redeclared(stack_dir.path, before, after)) is not None:
            redeclared.append(again)
        declared = {urn: r for r in after.resources for urn in (r.urn, *r.aliases)}
        quotas = _quota_places(after)
        for r in before.resources:
            if not r.protect:
                continue
            if (now := declared.get(r.urn)) is None:
                counted = _quota_still_counting(r, quotas) if r.retain_on_delete else ""
                on = str(_at(r.inputs, "spec.storageClassName") or "") if counted else ""
                found.append(Released(stack_dir.path, r.urn, r.retain_on_delete, counted, on))
            elif changes := replacing_changes(r, now):
                replaced.append(Replaced(stack_dir.path, r.urn, changes))
            elif sizes := shrinking_claim(r, now):
                shrunk.append(Shrunk(stack_dir.path, r.urn, *sizes))
    return Change(found, replaced, redeclared, shrunk)


def _quota_places(run: StackRun) -> set[tuple[Any, str]]:
    """(namespace, cluster provider) of every ResourceQuota ``run`` declares."""
    return {(_at(r.inputs, "metadata.namespace"), r.provider) for r in run.resources if r.type == QUOTA}


def _quota_still_counting(claim: Registered, quotas: set[tuple[Any, str]]) -> str:
    """The namespace of a claim the update forgets, when the changed stack still declares a ResourceQuota there
    (``quotas``, from :func:`_quota_places`), in the same cluster: Kubernetes counts every claim of a namespace against
    its quota, the forgotten one too, while the quota shrinks to the declared claims alone; "" for any other resource,
    or a namespace forgotten with it."""
    if claim.type != PVC:
        return ""
    namespace = _at(claim.inputs, "metadata.namespace")
    return str(namespace) if (namespace, claim.provider) in quotas else ""


def _kubernetes_id(r: Registered) -> str:
    """The ID pulumi-kubernetes imports an object by: ``<namespace>/<name>``, or ``<name>`` when cluster-scoped."""
    namespace, name = _at(r.inputs, "metadata.namespace"), _at(r.inputs, "metadata.name")
    return f"{namespace}/{name}" if namespace else str(name)


def _kubectl_context(provider: Registered | None) -> str:
    """`` --context <name>``: the kubeconfig context the object's cluster provider uses (its cluster's name), so that
    ``kubectl get`` looks in the cluster the stack would create the object in and not in the current context's, where
    a city has several clusters (finding nothing there, one would skip the import and `dizuo up` fail with
    AlreadyExists). Empty for a provider naming no context."""
    context = provider.inputs.get("context") if provider is not None else None
    return f" --context {shlex.quote(context)}" if isinstance(context, str) and context else ""


def _redeclared(stack_dir: Path, before: StackRun, after: StackRun) -> Redeclared | None:
    """The retained Kubernetes objects ``after`` declares that ``before`` does not, with their import document."""
    deployed = {urn for r in before.resources for urn in (r.urn, *r.aliases)}
    new = [
        r
        for r in after.resources
        if r.custom and r.retain_on_delete and r.type.startswith("kubernetes:") and r.urn not in deployed
    ]
    if not new:
        return None
    by_urn = {r.urn: r for r in after.resources}
    name_table: dict[str, str] = {}
    components: list[dict[str, Any]] = []

    def reference(urn: str) -> str | None:
        """How the import document names the resource ``urn`` of ``after``: one the deployed stack holds through the
        name table, a new component as one more (empty) resource of the document; None for the stack itself."""
        r = by_urn.get(urn)
        if r is None or r.type == "pulumi:pulumi:Stack":
            return None
        if urn in deployed:
            name_table[r.name] = r.urn
        elif not any(c["name"] == r.name for c in components):
            component: dict[str, Any] = {"type": r.type, "name": r.name, "component": True}
            if (parent := reference(r.parent)) is not None:
                component["parent"] = parent
            components.append(component)
        return r.name

    resources: list[dict[str, Any]] = []
    for r in new:
        entry: dict[str, Any] = {"type": r.type, "name": r.name, "id": _kubernetes_id(r)}
        if (parent := reference(r.parent)) is not None:
            entry["parent"] = parent
        if r.provider and (provider := reference(r.provider.rpartition("::")[0])) is not None:
            entry["provider"] = provider
        resources.append(entry)
    objects = tuple(
        f"{r.type.rpartition(':')[2].lower()}/{r.inputs['metadata']['name']}"
        + (f" -n {namespace}" if (namespace := r.inputs["metadata"].get("namespace")) else "")
        + _kubectl_context(by_urn.get(r.provider.rpartition("::")[0]))
        for r in new
    )
    return Redeclared(stack_dir, objects, {"nameTable": name_table, "resources": [*components, *resources]})


def unprotect_commands(found: list[Released], stack: str, backend_url: str, cwd: Path | None = None) -> list[str]:
    """A shell script: the backend, then per released resource what the update does with it and the command that
    unprotects it (``pulumi -C <stack folder> state unprotect``), stack folders relative to ``cwd`` when below it."""
    here = (cwd or Path.cwd()).resolve()
    lines = [f"export PULUMI_BACKEND_URL={shlex.quote(backend_url)}"] if found else []
    for r in found:
        folder = r.stack_dir.relative_to(here) if r.stack_dir.is_relative_to(here) else r.stack_dir
        fate = "kept where it is, forgotten by the stack" if r.kept else "DELETED by the next update"
        lines.append(f"# {folder}: {fate}")
        if r.counted:
            lines.append(
                f"# its storage still counts against the quota of {r.counted} on storage class {r.counted_class},"
                f" which no longer grants it: a dataset grown or declared in {r.counted} on {r.counted_class} is"
                " refused (exceeded quota) until this claim is deleted"
            )
        unprotect = ["pulumi", "-C", str(folder), "state", "unprotect", "--stack", stack, "--yes", r.urn]
        lines.append(shlex.join(unprotect))
    return lines


def adopt_commands(found: list[Redeclared], stack: str, cwd: Path | None = None) -> list[str]:
    """Shell comments, per stack: the objects declared again that an earlier retirement may have kept in the cluster,
    and, to run only if ``kubectl get`` finds them, the command that writes the import document and the ``pulumi
    import`` that adopts them. Comments, because a first declaration of the same objects needs no import (and one of
    an object that does not exist fails)."""
    here = (cwd or Path.cwd()).resolve()
    lines = []
    for r in found:
        folder = r.stack_dir.relative_to(here) if r.stack_dir.is_relative_to(here) else r.stack_dir
        document = f"adopt-{stack}-{r.stack_dir.name}.json"
        lines.append(
            f"# {folder}: declared anew; if an earlier retirement kept them in the cluster (kubectl get finds them),"
            " `dizuo up` fails with AlreadyExists until they are imported:"
        )
        lines += [f"#   kubectl get {obj}" for obj in r.objects]
        lines.append(f"# printf '%s\\n' {shlex.quote(json.dumps(r.import_file, sort_keys=True))} > {document}")
        adopt = ["pulumi", "-C", str(folder), "import", "--stack", stack, "--yes", "--generate-code=false"]
        lines.append(f"# {shlex.join([*adopt, '--file', str(here / document)])}")
    return lines
