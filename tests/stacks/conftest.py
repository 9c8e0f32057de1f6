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
