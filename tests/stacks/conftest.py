"""Run the four stack programs once per session under Pulumi's mock engine (no network, no CLI)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dizuo.contracts import stack_reference_name
from dizuo.declaration import Declaration, load
from dizuo.synth.engine import Registered, StackRun, read_stack_config, run_stack
from dizuo.synth.synth import synth

ROOT = Path(__file__).resolve().parents[2]
YULIN = ROOT / "inventories" / "yulin"
TEST_SECRET = "registry-s3cr3t-do-not-leak"  # noqa: S105 - planted to prove it never leaks


def one_file_stack(folder: Path, program: str) -> Path:
    """A stack program of one ``__main__.py`` in ``folder`` (e.g. stacks/1-bad), its project named after it."""
    folder.mkdir(parents=True)
    project = folder.name.split("-", 1)[-1]
    (folder / "Pulumi.yaml").write_text(f"name: dizuo-{project}\nruntime: python\n", encoding="utf-8")
    (folder / "__main__.py").write_text(program, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def yulin() -> Declaration:
    return load(YULIN)


@pytest.fixture(scope="session")
def synthesised(tmp_path_factory: pytest.TempPathFactory, yulin: Declaration) -> tuple[Path, dict[str, StackRun]]:
    """Yulin synthesised with a registry password secret set, as `pulumi config set --secret` would."""
    out = tmp_path_factory.mktemp("synth") / "build"
    result = synth(yulin, YULIN, out, ROOT / "stacks", secrets={"dizuo:registryPassword": TEST_SECRET})
    return out, result.runs


@pytest.fixture(scope="session")
def runs(synthesised: tuple[Path, dict[str, StackRun]]) -> dict[str, StackRun]:
    return synthesised[1]


def run_tiers(
    declaration: Path, *folders: str, upstream: dict[str, dict[str, Any]] | None = None, stack: str = "yulin-prod"
) -> dict[str, StackRun]:
    """The stack programs of ``folders`` (e.g. "0-network"), in order, under the mock engine for ``declaration``, each
    reading the exports of those before it (and ``upstream``); by folder."""
    upstream = dict(upstream or {})
    runs: dict[str, StackRun] = {}
    for folder in folders:
        config, secret_keys = read_stack_config(ROOT / "stacks" / folder, stack)
        config["dizuo:declaration"] = str(declaration)
        run = run_stack(ROOT / "stacks" / folder, stack, config, secret_keys, upstream)
        upstream[stack_reference_name(run.project, stack)] = run.exports
        runs[folder] = run
    return runs


def replaced_rules(
    before: dict[str, Registered], after: dict[str, Registered], ids: frozenset[str] = frozenset()
) -> dict[str, list[str]]:
    """The security-group rules of ``after`` (by name) that an update from ``before`` (both by URN) replaces, each with
    the inputs it is replaced for: Neutron edits no rule, so every changed input replaces it but those the rule ignores
    changes to, and ``ids`` (the mock engine makes IDs from names, which a rename in place keeps). A renamed rule is
    compared with the deployed one its alias names."""
    replaced = {}
    for urn, new in after.items():
        was = before.get(urn) or next((before[a] for a in new.aliases if a in before), None)
        assert was is not None, f"{new.name}: a new rule, neither deployed under its name nor under an alias"
        old = was.inputs
        changed = sorted(k for k in (old.keys() | new.inputs.keys()) - ids if old.get(k) != new.inputs.get(k))
        if forcing := [k for k in changed if k not in new.ignore_changes]:
            replaced[new.name] = forcing
    return replaced
