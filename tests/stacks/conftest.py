"""Run the four stack programs once per session under Pulumi's mock engine (no network, no CLI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dizuo.declaration import Declaration, load
from dizuo.synth.engine import StackRun
from dizuo.synth.synth import synth

ROOT = Path(__file__).resolve().parents[2]
YULIN = ROOT / "inventories" / "yulin"
TEST_SECRET = "registry-s3cr3t-do-not-leak"  # noqa: S105 - planted to prove it never leaks


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
