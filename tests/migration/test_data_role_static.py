"""roles/data_migration without a host: its arguments, its playbook's syntax, and the verifier on local trees."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "data_migration"
DIGEST = ROLE / "files" / "dizuo-tree-digest"


def _digest(source: Path, destination: Path, manifest: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(DIGEST), str(source), str(destination), str(manifest)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_argument_specs_declare_every_default() -> None:
    """Every default of the role is declared in meta/argument_specs.yml, so Ansible checks what users pass."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    declared = specs["argument_specs"]["main"]["options"]
    assert set(defaults) == set(declared)
    for name, value in defaults.items():
        assert declared[name]["default"] == value, f"{name}: default differs between defaults/ and argument_specs"


def test_playbook_passes_syntax_check() -> None:
    """ansible-playbook --syntax-check accepts roles/data_migration.yml."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check", "-i", "localhost,",
         str(REPO / "roles" / "data_migration.yml")],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "ANSIBLE_ROLES_PATH": str(REPO / "roles")},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_verifier_writes_the_manifest_once_trees_match(tmp_path: Path) -> None:
    """Equal trees: exit 0, the manifest written, then left unchanged on the next run."""
    source, destination, manifest = tmp_path / "a", tmp_path / "b", tmp_path / "m.sha256"
    for root in (source, destination):
        (root / "d").mkdir(parents=True)
        (root / "d" / "f").write_bytes(b"abc")
        (root / "l").symlink_to("d/f")
    first = _digest(source, destination, manifest)
    assert (first.returncode, first.stdout.strip()) == (0, "written"), first.stderr
    assert "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad  file" in manifest.read_text()
    again = _digest(source, destination, manifest)
    assert (again.returncode, again.stdout.strip()) == (0, "unchanged")


def test_verifier_names_every_difference_and_writes_nothing(tmp_path: Path) -> None:
    """A flipped byte, a missing file, an extra file, a changed mode: exit 1, each named, no manifest."""
    source, destination, manifest = tmp_path / "a", tmp_path / "b", tmp_path / "m.sha256"
    for root in (source, destination):
        root.mkdir()
        (root / "same").write_bytes(b"x")
        (root / "mode").write_bytes(b"y")
    (source / "flipped").write_bytes(b"abc")
    (destination / "flipped").write_bytes(b"abd")
    (source / "missing").write_bytes(b"")
    (destination / "extra").write_bytes(b"")
    (destination / "mode").chmod(0o600)
    done = _digest(source, destination, manifest)
    assert done.returncode == 1
    assert "content differs: flipped" in done.stdout
    assert "missing from the destination: missing" in done.stdout
    assert "only in the destination (kept, not deleted): extra" in done.stdout
    assert "mode differs: mode" in done.stdout
    assert "same" not in done.stdout
    assert not manifest.exists()


def test_verifier_exits_2_when_a_tree_cannot_be_read(tmp_path: Path) -> None:
    """A source that is not there is an error (2), never a match."""
    done = _digest(tmp_path / "absent", tmp_path, tmp_path / "m")
    assert done.returncode == 2
    assert "cannot read" in done.stderr
