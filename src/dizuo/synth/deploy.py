"""`dizuo preview` / `dizuo up`: the stacks through Pulumi's Automation API, tier by tier, self-managed backend.

Air-gapped cities keep state on a file:// path or an S3-compatible store of their own; never Pulumi Cloud.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from dizuo.exit_codes import BAD_INPUT, FAILED
from dizuo.synth.synth import StackDir, SynthError, discover

INSTALL_HINT = (
    "the Pulumi CLI is not installed (no `pulumi` on PATH). Install it from your mirror of the Pulumi release "
    "tarballs (pulumi-v3.x-linux-<arch>.tar.gz, unpacked onto PATH), plus the provider plugins "
    "`pulumi plugin install resource kubernetes` and `pulumi plugin install resource openstack` "
    "(or PULUMI_HOME pointing at a pre-populated plugin cache). `dizuo synth` needs none of this."
)


class DeployError(Exception):
    """Preview or update cannot start (``code`` BAD_INPUT) or failed (FAILED); the message says what to do."""

    def __init__(self, message: str, code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, slots=True)
class StackOutcome:
    """What one stack's preview or update did."""

    stack: str
    changes: dict[str, int]


# Pulumi's self-managed ("DIY") backends. Pulumi Cloud (https://) is a public SaaS: never.
SELF_MANAGED_SCHEMES = ("file://", "s3://", "azblob://", "gs://")


def backend_url(explicit: str | None) -> str:
    """The self-managed backend: ``--backend``, else $PULUMI_BACKEND_URL, else ./.pulumi-state (file://).

    A file:// path is made absolute here: Pulumi runs in each stack's folder and would resolve a relative one there,
    giving every stack a state folder of its own, where no StackReference finds the others.
    """
    url = explicit or os.environ.get("PULUMI_BACKEND_URL") or f"file://{Path('.pulumi-state').resolve()}"
    if url.startswith("https://api.pulumi.com") or url.startswith("https://app.pulumi.com"):
        raise DeployError("Pulumi Cloud is not allowed: use a file:// path or an s3:// bucket of the city's own")
    if not url.startswith(SELF_MANAGED_SCHEMES):
        raise DeployError(f"--backend {url!r}: not a self-managed backend; use a file:// path or an s3:// bucket")
    if url.startswith("file://"):
        path, query, options = url.removeprefix("file://").partition("?")
        url = f"file://{Path(path).expanduser().resolve()}{query}{options}"
    return url


def state_folder(url: str) -> Path | None:
    """The folder of a file:// backend, or None for a bucket."""
    return Path(url.removeprefix("file://").partition("?")[0]) if url.startswith("file://") else None


def policy_pack(stacks_root: Path) -> Path:
    """The 等保 policy pack every preview and update runs with (stacks/policy); DeployError when it is missing."""
    pack = (stacks_root / "policy").resolve()
    if not (pack / "PulumiPolicy.yaml").is_file():
        raise DeployError(
            f"{pack}: no policy pack (PulumiPolicy.yaml) here; dizuo never previews or updates without the "
            "等保 policies"
        )
    return pack


def selected_stacks(stacks_root: Path, only: set[str] | None) -> list[StackDir]:
    """The stacks to run, lowest tier first; DeployError for a missing folder or an unknown --only name."""
    try:
        stacks = discover(stacks_root)
    except SynthError as exc:
        raise DeployError(str(exc)) from None
    unknown = sorted((only or set()) - {s.short for s in stacks})
    if unknown:
        known = ", ".join(s.short for s in stacks)
        raise DeployError(f"--only: no stack {', '.join(map(repr, unknown))} in {stacks_root} (stacks: {known})")
    return [s for s in stacks if only is None or s.short in only]


def check_prerequisites() -> None:
    """Fail early, with what to install, when the Pulumi CLI or the secrets passphrase is missing."""
    if shutil.which("pulumi") is None:
        raise DeployError(INSTALL_HINT)
    if "PULUMI_CONFIG_PASSPHRASE" not in os.environ and "PULUMI_CONFIG_PASSPHRASE_FILE" not in os.environ:
        raise DeployError(
            "set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE): self-managed backends encrypt "
            "stack secrets with it"
        )


def run(
    action: str,
    stack: str,
    stacks_root: Path,
    backend: str | None = None,
    only: set[str] | None = None,
    on_output: Callable[[str], None] = print,
    *,
    new_backend: bool = False,
) -> list[StackOutcome]:
    """Preview or update (``action``) environment ``stack`` of every stack, lowest tier first, each with the policy
    pack of ``stacks_root``.

    A tier runs only when the tier below it succeeded: a consumer must never read a half-updated contract. A preview
    or update against a file:// backend that holds no state is refused unless ``new_backend`` (the city's first
    deployment): a backend chosen by mistake would create every network and cluster object a second time (a preview
    creates the stacks there, after which an update would no longer see the mistake).
    """
    if action not in {"preview", "up"}:
        raise ValueError(action)
    # What can be checked here comes first, so a mistake is not hidden behind "install Pulumi".
    selected = selected_stacks(stacks_root, only)
    pack = policy_pack(stacks_root)
    url = backend_url(backend)
    folder = state_folder(url)
    # A preview too: it creates the stacks in the backend it is given, and an update would then find state there.
    if folder is not None and not (folder / ".pulumi").is_dir() and not new_backend:
        raise DeployError(
            f"--backend {url}: holds no Pulumi state. For the city's first deployment pass --new-backend; otherwise "
            "this is not the city's backend (the default is .pulumi-state in the current directory), and an update "
            "would create every resource a second time (a preview would create the stacks there)"
        )
    check_prerequisites()
    from pulumi import automation as auto  # noqa: PLC0415 - only needed when the CLI exists

    if folder is not None:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeployError(f"--backend {url}: cannot create it: {exc.strerror or exc}") from None
    outcomes = []
    for stack_dir in selected:
        workspace = auto.LocalWorkspaceOptions(work_dir=str(stack_dir.path), env_vars={"PULUMI_BACKEND_URL": url})
        try:
            pulumi_stack = auto.create_or_select_stack(stack_name=stack, work_dir=str(stack_dir.path), opts=workspace)
            if action == "preview":
                preview = pulumi_stack.preview(on_output=on_output, policy_packs=[str(pack)])
                changes = {k.value if hasattr(k, "value") else str(k): v for k, v in preview.change_summary.items()}
            else:
                result = pulumi_stack.up(on_output=on_output, policy_packs=[str(pack)])
                changes = {str(k): int(v) for k, v in (result.summary.resource_changes or {}).items()}
        except auto.errors.CommandError as exc:
            raise DeployError(f"stacks/{stack_dir.path.name}: pulumi {action} failed:\n{exc}", FAILED) from exc
        except Exception as exc:  # the Automation API reading an answer of the CLI it did not expect
            raise DeployError(
                f"stacks/{stack_dir.path.name}: pulumi {action}: could not read the CLI's answer: "
                f"{type(exc).__name__}: {exc}",
                FAILED,
            ) from exc
        outcomes.append(StackOutcome(stack=stack_dir.path.name, changes=changes))
    return outcomes
