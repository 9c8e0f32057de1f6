"""`dizuo synth`: every stack program, in tier order, under the mock engine; plain manifests out.

Output (written to a temporary directory and swapped in only when everything is valid):
``DIR/<stack>/<cluster>.yaml`` (Kubernetes manifests, applyable with kubectl or a GitOps tool),
``DIR/<stack>/openstack.json`` (OpenStack resources with their inputs and the options that change
what ``pulumi up`` does to them), ``DIR/dns/<domain>.zone`` (A records of
the hosts the Ingresses serve, for the city's DNS), ``DIR/summary.json`` (counts, what the policy pack checked, and
the files written).
"""

from __future__ import annotations

import json
import shutil
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from dizuo.baseline.catalogue import packaged
from dizuo.baseline.policies import ENFORCEMENT, FRAMEWORK, RULES, STACK_REFERENCE, Declared, Violation, evaluate
from dizuo.cloud.shapes import dns_zone_fragment
from dizuo.contracts import stack_reference_name
from dizuo.declaration.model import Declaration
from dizuo.exit_codes import BAD_INPUT, FAILED
from dizuo.files import ChangedWhileWritingError, make_staging, output_place_problem, resolved_out, swap_in
from dizuo.naming import label
from dizuo.synth.engine import (
    DuplicateUrnError,
    ProjectConfigError,
    Registered,
    StackConfigError,
    StackRun,
    map_keys,
    read_project_file,
    read_stack_config,
    run_stack,
    unwrap,
)
from dizuo.synth.schemas import KUBERNETES_VERSION, manifest_errors, numeric_version

# Apply order inside one file: what others live in or refer to comes first.
KIND_ORDER = [
    "Namespace",
    "StorageClass",
    "ClusterRole",
    "ClusterRoleBinding",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ResourceQuota",
    "LimitRange",
    "Role",
    "RoleBinding",
    "NetworkPolicy",
    "Secret",
    "ConfigMap",
    "PersistentVolumeClaim",
    "Service",
    "Deployment",
]
# The A records of the systems served through an ingress controller, for the city's DNS (dns_zone_fragment).
DNS_FOLDER = "dns"
# What a build wrote (``files``, for the next build to replace) and what it held.
SUMMARY = "summary.json"
WITHHELD = "withheld: secret values are applied by `pulumi up` or the city's secret manager, never written here"
# A GitOps tool deletes what leaves its manifests (Argo CD with auto-prune, Flux with `prune: true`), where the stacks
# keep what they protect or retain on delete: a claim, a namespace holding claims and the quota, limits and
# default-deny fencing it. Each tool's own mark tells it to leave such an object in the cluster when a retirement
# drops it from the build.
ARGOCD_SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
ARGOCD_NO_PRUNE = "Prune=false"
FLUX_PRUNE = "kustomize.toolkit.fluxcd.io/prune"
FLUX_NO_PRUNE = "disabled"


@dataclass(frozen=True, slots=True)
class StackDir:
    """A stack folder: ``stacks/<tier>-<short>``."""

    path: Path
    tier: int
    short: str
    # The folder as the user named it (`--stacks DIR`: DIR/<tier>-<short>), for messages: `stacks/0-network` by default,
    # the copy's own folder when --stacks names another.
    given: Path | None = None

    @property
    def shown(self) -> str:
        """The folder as messages name it: as given, else its full path."""
        return str(self.given or self.path)


def discover(stacks_root: Path) -> list[StackDir]:
    """The stack folders under ``stacks_root``, lowest tier first."""
    found = []
    for path in sorted(stacks_root.iterdir()) if stacks_root.is_dir() else []:
        tier, _, short = path.name.partition("-")
        if path.is_dir() and tier.isdigit() and (path / "Pulumi.yaml").exists():
            found.append(StackDir(path=path.resolve(), tier=int(tier), short=short, given=path))
    if not found:
        # The default, `stacks`, is relative: run from anywhere but the clone, it names a folder that is not there.
        raise SynthError(
            [
                f"{stacks_root}: no stacks found in {stacks_root.resolve()} (expected folders like 0-network with a "
                "Pulumi.yaml): run dizuo in the folder that holds stacks/ (the clone), or pass --stacks DIR"
            ],
            BAD_INPUT,
        )
    # The name after the tier is the stack's everywhere else: its output folder (DIR/<name>), `--only <name>`. Two
    # folders of one name would write one folder, the second's manifests over the first's.
    folders: dict[str, list[str]] = {}
    for s in found:
        folders.setdefault(s.short, []).append(s.path.name)
    if clashes := {short: names for short, names in folders.items() if len(names) > 1}:
        raise SynthError(
            [
                f"{stacks_root}: stack folders {' and '.join(names)} are both named {short!r} after their tier: their "
                f"manifests would go to one folder ({short}/) and --only {short} would name both; rename one"
                for short, names in clashes.items()
            ],
            BAD_INPUT,
        )
    return sorted(found, key=lambda s: (s.tier, s.short))


class SynthError(Exception):
    """Synthesis failed; ``errors`` lists every reason. Nothing was written to the output directory.

    ``code`` is the exit code (:mod:`dizuo.exit_codes`): ``BAD_INPUT`` when synthesis could not start with what it was
    given (no stacks, an unreadable stack config, an ``--out`` it must not replace), ``FAILED`` when it ran and what it
    built is wrong (a stack program failed, a manifest is not schema-valid, a policy is violated).
    """

    def __init__(self, errors: list[str], code: int = FAILED) -> None:
        self.errors = errors
        self.code = code
        super().__init__("\n".join(errors))


@dataclass(slots=True)
class SynthResult:
    """What was written, per stack."""

    out: Path
    runs: dict[str, StackRun] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)
    """The files of the build ``out`` held before that this one no longer has (a cluster renamed or gone, a stack
    removed), relative to ``out``: a GitOps source naming one of them finds nothing there now."""


def _provider_clusters(run: StackRun) -> dict[str, str]:
    """Provider URN -> cluster (the provider's kubeconfig context)."""
    return {r.urn: str(r.inputs.get("context", "default")) for r in run.of_type("pulumi:providers:kubernetes")}


HEAD_KEYS = ("apiVersion", "kind", "metadata")


def _sorted(value: Any) -> Any:
    """``value`` with every mapping's keys in order: the order Pulumi hands inputs back in depends on the protobuf
    runtime installed, and a GitOps repository must not churn between a laptop and CI."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def _manifest(inputs: dict[str, Any], *, kept: bool = False) -> dict[str, Any]:
    """The manifest of a Kubernetes resource from its recorded inputs; ``kept``: the stack protects it or retains it
    on delete, so GitOps tools are told not to prune it either."""
    unwrapped: dict[str, Any] = _sorted(unwrap(inputs))
    # kubectl's order: apiVersion, kind, metadata first; then the rest, each mapping's keys sorted, as kubectl shows.
    manifest = {k: unwrapped[k] for k in HEAD_KEYS if k in unwrapped}
    manifest.update((k, v) for k, v in unwrapped.items() if k not in HEAD_KEYS)
    if manifest.get("kind") == "Secret":
        # A Secret's values never reach disk, secret-marked or not. Its keys are read from the inputs as recorded: a
        # data map that is a secret as a whole (a value from secret config) is a placeholder once unwrapped.
        manifest.pop("data", None)
        manifest.pop("stringData", None)
        had = sorted({key for field in ("data", "stringData") for key in map_keys(inputs.get(field))})
        annotations = manifest.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[label("withheld-keys")] = ",".join(had)
        annotations[label("withheld")] = WITHHELD
    if kept:
        metadata = manifest.setdefault("metadata", {})
        metadata["annotations"] = _no_prune(metadata.get("annotations", {}))
    return manifest


def _no_prune(annotations: dict[str, Any]) -> dict[str, Any]:
    """``annotations`` with Argo CD's and Flux's marks against pruning, beside any sync options the program set."""
    options = [o.strip() for o in str(annotations.get(ARGOCD_SYNC_OPTIONS, "")).split(",") if o.strip()]
    # One Prune option only: the program's own Prune=confirm would otherwise let a confirmed sync delete the data.
    options = [o for o in options if not o.startswith("Prune=")] + [ARGOCD_NO_PRUNE]
    marked = {**annotations, ARGOCD_SYNC_OPTIONS: ",".join(options), FLUX_PRUNE: FLUX_NO_PRUNE}
    return dict(sorted(marked.items()))  # keys in order, as every other mapping of the manifest


def _sort_key(manifest: dict[str, Any]) -> tuple[int, str, str]:
    kind = manifest.get("kind", "")
    order = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
    meta = manifest.get("metadata", {})
    return order, str(meta.get("namespace", "")), str(meta.get("name", ""))


def _kubernetes_files(run: StackRun) -> dict[str, list[dict[str, Any]]]:
    clusters = _provider_clusters(run)
    files: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in run.resources:
        if _is_manifest(r):
            provider_urn = r.provider.rsplit("::", 1)[0]  # a provider reference is "<urn>::<id>"
            files[clusters.get(provider_urn, "default")].append(_manifest(r.inputs, kept=_kept(r)))
    return {cluster: sorted(docs, key=_sort_key) for cluster, docs in files.items()}


def _is_manifest(resource: Registered) -> bool:
    """Whether ``resource`` is written as a Kubernetes manifest (a Kubernetes resource; not its provider)."""
    return resource.custom and resource.type.startswith("kubernetes:")


def _kept(resource: Registered) -> bool:
    """Whether an update or destroy leaves ``resource`` in place: protected, or retained on delete."""
    return resource.protect or resource.retain_on_delete


def _openstack(run: StackRun) -> list[dict[str, Any]]:
    return [
        {
            "type": r.type,
            "name": r.name,
            "protect": r.protect,
            "retain_on_delete": r.retain_on_delete,
            **_replacement_options(r),
            "inputs": _sorted(unwrap({k: v for k, v in r.inputs.items() if not k.startswith("__")})),
        }
        for r in run.resources
        if r.custom and r.type.startswith("openstack:")
    ]


def _replacement_options(resource: Registered) -> dict[str, Any]:
    """The options of ``resource`` that change what ``pulumi up`` does to it beyond its inputs, those set only, in one
    order and each list sorted, so that a reviewer sees them arrive or go in a diff: a rename taken in place
    (``aliases``, as the engine's URNs it looks for in the state), inputs left as made (``ignore_changes``), a
    replacement that deletes first, or one an input forces, or another resource's forces, a delete left to another
    resource, an existing resource adopted, a value whose change replaces it (secrets withheld). URNs are the engine's
    (``pulumi stack --show-urns``)."""
    options: dict[str, Any] = {
        "aliases": sorted(resource.aliases),
        "ignore_changes": sorted(resource.ignore_changes),
        "delete_before_replace": resource.delete_before_replace,
        "replace_on_changes": sorted(resource.replace_on_changes),
        "replace_with": sorted(resource.replace_with),
        "deleted_with": resource.deleted_with,
        "import": resource.import_id,
    }
    chosen = {option: value for option, value in options.items() if value}
    if resource.replacement_trigger is not None:  # a trigger of 0 or "" is set all the same
        chosen["replacement_trigger"] = _sorted(unwrap(resource.replacement_trigger))
    return chosen


def _policy_violations(run: StackRun) -> list[Violation]:
    """The 等保 policy pack, run offline on what the program declared (as `pulumi preview --policy-pack` would)."""
    return evaluate(
        Declared(
            type=r.type,
            name=r.name,
            urn=r.urn,
            props=unwrap(r.inputs),
            protect=r.protect,
            provider=r.provider,
            property_dependencies=r.property_dependencies,
        )
        for r in run.resources
        # StackReferences too: a rule on another stack's security group is known by its group ID's dependency on one.
        if r.custom and (not r.type.startswith("pulumi:") or r.type == STACK_REFERENCE)
    )


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _dump_all(docs: list[dict[str, Any]]) -> str:
    return yaml.dump_all(docs, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False, width=120)


def synth(
    declaration: Declaration,
    declaration_dir: Path,
    out: Path,
    stacks_root: Path,
    stack: str | None = None,
    secrets: dict[str, str] | None = None,
    on_stack: Callable[[StackDir, StackRun | None], None] | None = None,
) -> SynthResult:
    """Synthesise every stack of ``stacks_root`` for ``declaration`` into ``out``.

    ``stack`` is the environment (default ``<city>-<environment>``): its ``Pulumi.<stack>.yaml`` supplies the
    config, with ``dizuo:declaration`` pointed at ``declaration_dir``; a named ``stack`` must have one in every stack
    folder (:func:`check_environment`), the default may lack it (the programs then run on their own defaults).
    ``secrets`` adds secret config values
    (as `pulumi config set --secret` would). Raises :class:`SynthError`; ``out`` is then left untouched.
    """
    named = stack is not None
    stack = stack or f"{declaration.city.code}-{declaration.city.environment}"
    out = resolved_out(out)  # the folder checked is the folder written: `link/../x` is x beside link's target
    check_output_dir(out, declaration_dir, stacks_root, declaration)
    previous = _previous_build(out, declaration)
    stacks = discover(stacks_root)
    if named:
        # The default environment may lack a config (manifests of a city whose stacks are not set up yet); a named
        # one is a claim that it exists, and a typo would otherwise synthesise quietly with the programs' defaults.
        check_environment(stacks, stack)
    upstream: dict[str, dict[str, Any]] = {}
    result = SynthResult(out=out)
    errors: list[str] = []
    staging = _make_staging(out)
    try:
        for stack_dir in stacks:
            if on_stack is not None:
                on_stack(stack_dir, None)
            run = run_program(stack_dir, stack, declaration_dir, upstream, secrets)
            result.runs[stack_dir.short] = run
            errors += _write_manifests(run, staging / stack_dir.short, declaration)
            errors += [f"{stack_dir.shown}: policy {v}" for v in _policy_violations(run)]
            openstack = _openstack(run)
            if openstack:
                _write(
                    staging / stack_dir.short / "openstack.json",
                    json.dumps(openstack, ensure_ascii=False, indent=1),
                )
            if on_stack is not None:
                on_stack(stack_dir, run)
        if errors:
            raise SynthError(errors)
        result.summary = summary(declaration, stack, result.runs)
        _write_dns_records(declaration, result, staging)
        # What this build wrote, so that the next one replaces exactly that, whatever its declaration has become.
        result.summary["files"] = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
        result.dropped = sorted(previous - {SUMMARY, *result.summary["files"]})
        _write(staging / SUMMARY, json.dumps(result.summary, ensure_ascii=False, indent=2) + "\n")
        _swap_in_build(staging, out, declaration)
    except OSError as exc:  # the disk filled, a folder became unwritable: the build could not finish
        raise SynthError([f"--out {out}: cannot write: {exc.strerror or exc}"], FAILED) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return result


def configured_stacks(stack_dir: Path) -> list[str]:
    """The stacks (environments) of a stack folder that have a config: its ``Pulumi.<stack>.yaml`` files."""
    return sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in stack_dir.glob("Pulumi.*.yaml"))


def check_environment(stacks: list[StackDir], stack: str) -> None:
    """SynthError (bad input) unless every stack folder holds ``Pulumi.<stack>.yaml``, naming each folder without one
    and the environments configured there. A folder missing it fails too when the others have it: `dizuo up --stack`
    refuses that environment (it would create the stack, empty, in the backend), so what synth or released would
    say of it is no deployment's."""
    if missing := folders_without_config(stacks, stack):
        raise SynthError([_no_such_config(s, stack) for s in missing], BAD_INPUT)


def folders_without_config(stacks: list[StackDir], stack: str) -> list[StackDir]:
    """The stack folders holding no ``Pulumi.<stack>.yaml``: ``stack`` is no environment of theirs."""
    return [s for s in stacks if not (s.path / f"Pulumi.{stack}.yaml").is_file()]


def _no_such_config(stack_dir: StackDir, stack: str) -> str:
    return (
        f"{stack_dir.path / f'Pulumi.{stack}.yaml'}: no such stack config: --stack {stack} is no environment of "
        f"{stack_dir.shown} (environments with a Pulumi.<env>.yaml there: "
        f"{', '.join(configured_stacks(stack_dir.path)) or 'none'})"
    )


def run_program(
    stack_dir: StackDir,
    stack: str,
    declaration_dir: Path,
    upstream: dict[str, dict[str, Any]],
    secrets: dict[str, str] | None = None,
) -> StackRun:
    """Run one stack program under the mock engine with its ``Pulumi.<stack>.yaml`` config, ``dizuo:declaration``
    pointed at ``declaration_dir``, plus ``secrets``; add its exports to ``upstream``. Raises :class:`SynthError`."""
    config_file = stack_dir.path / f"Pulumi.{stack}.yaml"
    try:
        project_file = read_project_file(stack_dir.path)  # once: for the config and for the engine's project name
        config, secret_keys = read_stack_config(stack_dir.path, stack, project_file)
    except ProjectConfigError as exc:  # its name first, then its config: block, which every stack of the folder reads
        raise SynthError([f"{stack_dir.path / 'Pulumi.yaml'}: not a Pulumi project file: {exc}"], BAD_INPUT) from exc
    except (OSError, yaml.YAMLError, AttributeError, StackConfigError) as exc:
        if not config_file.exists():  # a key the project requires of every stack: the file is what is missing
            raise SynthError([_no_such_config(stack_dir, stack)], BAD_INPUT) from exc
        raise SynthError([f"{config_file}: not a readable stack config: {exc}"], BAD_INPUT) from exc
    config["dizuo:declaration"] = str(declaration_dir.resolve())
    for key, value in (secrets or {}).items():
        config[key] = value
        secret_keys.add(key)
    try:
        run = run_stack(stack_dir.path, stack, config, secret_keys, upstream, project_file=project_file)
    except Exception as exc:  # a failing stack program: report it, write nothing
        if not config_file.exists():
            # Without the stack's config the program could not have run: the --stack given is the problem, and what
            # the program then missed first (a config key) would only hide it.
            raise SynthError([_no_such_config(stack_dir, stack)], BAD_INPUT) from exc
        if isinstance(exc, DuplicateUrnError):  # what the declaration made twice, not a fault of the program's
            raise SynthError([f"{stack_dir.shown}: {exc}"], FAILED) from exc
        raise SynthError([f"{stack_dir.shown}: the program failed: {exc}"], FAILED) from exc
    upstream[stack_reference_name(run.project, stack)] = run.exports
    return run


def _write_manifests(run: StackRun, folder: Path, declaration: Declaration) -> list[str]:
    """Write a stack's manifests, one file per cluster; return their schema errors, each cluster's against the API its
    own server serves."""
    versions = {c.name: c.kubernetes_version for c in declaration.clusters}
    errors = []
    for cluster, docs in _kubernetes_files(run).items():
        for doc in docs:
            meta = doc.get("metadata", {})
            errors += [
                f"{folder.name}/{cluster}.yaml: {doc.get('kind')} {meta.get('namespace', '-')}/{meta.get('name')}: {e}"
                for e in manifest_errors(doc, versions.get(cluster, KUBERNETES_VERSION))
            ]
        _write(folder / f"{cluster}.yaml", _dump_all(docs))
    return errors


def _swap_in_build(staging: Path, out: Path, declaration: Declaration) -> None:
    """The build in place of ``out``, unless ``out`` came to hold what synth did not write while it ran."""
    try:
        swap_in(staging, out, lambda old: _foreign_content(old, declaration))
    except ChangedWhileWritingError as exc:
        raise SynthError([f"--out {out}: {exc} (put there while the build was made)"], BAD_INPUT) from None


def _write_dns_records(declaration: Declaration, result: SynthResult, staging: Path) -> None:
    """dns/<domain>.zone: an A record for each host an Ingress of the manifests serves, at its cluster's ingress."""
    hosts = {
        rule["host"]: cluster
        for run in result.runs.values()
        for cluster, docs in _kubernetes_files(run).items()
        for doc in docs
        if doc.get("kind") == "Ingress"
        for rule in doc.get("spec", {}).get("rules", [])
        if rule.get("host")
    }
    zone = dns_zone_fragment(declaration, hosts)
    if zone is not None:
        zone_file = f"{DNS_FOLDER}/{declaration.city.domain}.zone"
        _write(staging / zone_file, zone)
        result.summary["dns"] = {"zone_file": zone_file, "records": len(hosts)}


def _make_staging(out: Path) -> Path:
    """An empty directory beside ``out`` for the build (dizuo.files.make_staging), or SynthError."""
    try:
        return make_staging(out)
    except OSError as exc:
        raise SynthError([f"--out {out}: cannot write there: {exc.strerror or exc}"], BAD_INPUT) from exc


def check_output_dir(out: Path, declaration_dir: Path, stacks_root: Path, declaration: Declaration) -> None:
    """Refuse an output directory whose replacement would lose anything synth did not write itself.

    ``out`` is replaced as a whole, so it must be new, empty, or a previous build (see
    ``_foreign_content``); not the working directory or one holding it, nor a mount point (neither can be renamed).
    Raises :class:`SynthError`.
    """
    where = f"--out {out}"
    for source, what in ((declaration_dir, "the declaration"), (stacks_root, "the stack programs")):
        kept = source.resolve()
        if out.resolve() == kept or out.resolve() in kept.parents:
            raise SynthError([f"{where}: holds {what} ({kept}); choose a directory of its own"], BAD_INPUT)
    if problem := output_place_problem(out, "the build"):
        raise SynthError([f"{where}: {problem}"], BAD_INPUT)
    if not out.exists():
        return
    if problem := _foreign_content(out, declaration):
        raise SynthError([f"{where}: {problem}"], BAD_INPUT)


def _foreign_content(out: Path, declaration: Declaration) -> str | None:
    """What in ``out`` synth did not write, or None. A previous build names what it wrote in its ``summary.json``
    (``files``, paths relative to ``out``); each of those, a regular file, is replaceable, and so is every folder on
    their way. Anything else (a kustomization.yaml beside the manifests) is a user's, and would be lost."""
    if not any(out.iterdir()):
        return None
    written = _previous_files(out, declaration)
    folders = {parent.as_posix() for path in written for parent in PurePosixPath(path).parents}
    foreign: list[str] = []

    def judge(folder: Path, prefix: str) -> None:
        for path in sorted(folder.iterdir()):
            relative = prefix + path.name
            if path.is_symlink():
                foreign.append(relative)
            elif path.is_dir() and relative in folders:
                judge(path, relative + "/")
            elif not (path.is_file() and relative in written):
                foreign.append(relative)

    judge(out, "")
    if not foreign:
        return None
    shown = ", ".join(foreign[:5]) + (", ..." if len(foreign) > 5 else "")
    return (
        f"is not a previous dizuo synth output (it holds {shown}), and it would be replaced as a whole; choose a new "
        "or empty directory"
    )


def _previous_build(out: Path, declaration: Declaration) -> set[str]:
    """The files of the previous build in ``out`` that are there (none when ``out`` is new or empty)."""
    if not out.is_dir():
        return set()
    return {path for path in _previous_files(out, declaration) if (out / path).is_file()}


def _previous_files(out: Path, declaration: Declaration) -> set[str]:
    """The files a previous build in ``out`` wrote, as its ``summary.json`` lists them. A build from before that list
    was kept (or without a readable summary) is judged by what this declaration would write: each stack folder the
    summary names with its clusters' manifests and ``openstack.json``, and the zone file of its domain."""
    try:
        previous = json.loads((out / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = {}
    previous = previous if isinstance(previous, dict) else {}
    files = previous.get("files")
    if isinstance(files, list) and all(isinstance(f, str) for f in files):
        return {SUMMARY, *files}
    stacks = previous.get("stacks")
    stacks = [s for s in stacks if isinstance(s, str)] if isinstance(stacks, dict | list) else []
    manifests = {f"{c.name}.yaml" for c in declaration.clusters} | {"default.yaml", "openstack.json"}
    zones = {f"{DNS_FOLDER}/{declaration.city.domain}.zone"} if declaration.city.domain else set()
    return {SUMMARY, *zones, *(f"{stack}/{manifest}" for stack in stacks for manifest in manifests)}


def summary(declaration: Declaration, stack: str, runs: dict[str, StackRun]) -> dict[str, Any]:
    """Counts per stack and type, what the declaration held, and what the policy pack checked (:func:`policy_pack`)."""
    stacks = {}
    for short, run in runs.items():
        by_type = Counter(r.type for r in run.resources)
        stacks[short] = {
            "project": run.project,
            "resources": len(run.resources),
            "protected": sum(1 for r in run.resources if r.protect),
            "retained_on_delete": sum(1 for r in run.resources if r.retain_on_delete),
            # The manifests carrying Argo CD's and Flux's marks against pruning (see _manifest).
            "marked_no_prune": sum(1 for r in run.resources if _is_manifest(r) and _kept(r)),
            "by_type": dict(sorted(by_type.items())),
        }
    return {
        "city": declaration.city.code,
        "stack": stack,
        "kubernetes_version": ", ".join(
            sorted({c.kubernetes_version for c in declaration.clusters} or {KUBERNETES_VERSION}, key=numeric_version)
        ),
        "declaration": {
            "zones": len(declaration.zones),
            "clusters": len(declaration.clusters),
            "departments": len(declaration.departments),
            "systems": len(declaration.systems),
            "datasets": len(declaration.datasets),
            "hosts": len(declaration.inventory.hosts),
        },
        "stacks": stacks,
        "total_resources": sum(s["resources"] for s in stacks.values()),
        "policy_pack": policy_pack(list(runs)),
    }


def policy_pack(stacks: list[str]) -> dict[str, Any]:
    """What the 等保 policy pack checked, for an auditor: the stacks it ran on, each policy with the control it checks,
    its enforcement level and the violations it found, and the controls the policies cover (in the catalogue's order,
    the one the host audit names them in when it leaves them to the pack). Every policy is mandatory and any violation
    refuses the build, so a summary is only written with none found."""
    covered = {rule.control for rule in RULES}
    return {
        "framework": FRAMEWORK,
        "stacks": stacks,
        "policies": [
            {
                "name": rule.name,
                "control": rule.control,
                "enforcement": ENFORCEMENT.value,
                "violations": 0,
            }
            for rule in RULES
        ],
        "controls": [control.id for control in packaged().controls if control.id in covered],
        "violations": 0,
    }
