"""roles/data_migration without a host: its arguments, its playbook's syntax, and the verifier on local trees."""

from __future__ import annotations

import ast
import contextlib
import importlib.machinery
import importlib.util
import json
import mmap
import os
import resource
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import mounted_tmpfs

REPO = Path(__file__).resolve().parents[2]
ROLE = REPO / "roles" / "data_migration"
DIGEST = ROLE / "files" / "dizuo-tree-digest"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(DIGEST), *args], capture_output=True, text=True, timeout=60, check=False)


def _digest(source: Path, destination: Path, manifest: Path) -> subprocess.CompletedProcess[str]:
    return _run("verify", str(source), str(destination), str(manifest))


def _rsync(source: Path, destination: Path, manifest: Path) -> None:
    """rsync as tasks/copy.yml runs it after the guard, logging what it writes into the copy's in-progress marker."""
    subprocess.run(
        ["rsync", "--archive", "--log-file-format=copied %i %n", f"--log-file={manifest}.in-progress",
         f"{source}/", f"{destination}/"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip


def test_argument_specs_declare_every_default() -> None:
    """Every default of the role is declared in meta/argument_specs.yml, so Ansible checks what users pass."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text(encoding="utf-8"))
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
    declared = specs["argument_specs"]["main"]["options"]
    required = {name for name, option in declared.items() if option.get("required")}
    assert set(defaults) == set(declared) - required
    assert required == {"data_migration_copies"}, "only the wave's list has no default"
    assert not any("default" in declared[name] for name in required), "a required option with a default is never asked"
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


def test_the_test_session_installs_what_the_role_installs_on_its_host() -> None:
    """nox's tests session installs the role's packages (rsync) on a fresh machine: the role's tests run rsync here,
    and without it they fail (the checker's) or are skipped (the playbook's) in CI."""
    module = ast.parse((REPO / "noxfile.py").read_text(encoding="utf-8"))
    assigned = next(
        node.value for node in module.body
        if isinstance(node, ast.Assign) and [ast.unparse(target) for target in node.targets] == ["APT_PACKAGES"]
    )  # fmt: skip
    installed = set(ast.literal_eval(assigned).values())
    needed = yaml.safe_load((ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))["data_migration_packages"]
    missing = [name for name in needed if name != "python3" and name not in installed]  # python3 runs the suite
    assert not missing, f"noxfile.py APT_PACKAGES lacks {missing}, which roles/data_migration installs"


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


def test_a_difference_of_the_tree_s_own_root_is_named_as_the_root(tmp_path: Path) -> None:
    """The root itself (its mode, here) is named `.`, as rsync names it, not `''`."""
    source, destination, manifest = tmp_path / "a", tmp_path / "b", tmp_path / "m.sha256"
    for root in (source, destination):
        root.mkdir()
    source.chmod(0o750)
    destination.chmod(0o700)
    done = _digest(source, destination, manifest)
    assert done.returncode == 1
    assert "mode differs: .\n" in done.stdout + "\n", done.stdout
    assert "''" not in done.stdout, done.stdout


def test_verifier_exits_2_when_a_tree_cannot_be_read(tmp_path: Path) -> None:
    """A source that is not there is an error (2), never a match."""
    done = _digest(tmp_path / "absent", tmp_path, tmp_path / "m")
    assert done.returncode == 2
    assert "cannot read" in done.stderr


def test_a_tree_deeper_than_the_recursion_limit_is_verified_like_any_other(tmp_path: Path) -> None:
    """Folders nested 1500 deep (beyond Python's recursion limit) are walked and compared: equal trees verify, and a
    difference at the bottom is named (exit 1), never a crash taken for "the trees differ"."""
    source, destination, manifest = tmp_path / "a", tmp_path / "b", tmp_path / "m"
    for root in (source, destination):
        folder = root
        for _ in range(1500):  # not os.makedirs: it recurses as deep
            folder /= "d"
            folder.mkdir(parents=folder.parent == root)
        (root / "/".join(["d"] * 1500) / "leaf").write_bytes(b"deep")
    try:
        done = _digest(source, destination, manifest)
        assert (done.returncode, done.stdout.strip()) == (0, "written"), done.stderr[-2000:]
        (destination / "/".join(["d"] * 1500) / "leaf").write_bytes(b"DEEP")
        done = _digest(source, destination, manifest)
        assert done.returncode == 1, done.stderr[-2000:]
        assert "content differs: " + "d/" * 1500 + "leaf" in done.stdout
    finally:  # rm, not shutil.rmtree (pytest's cleanup): that recurses as deep too
        subprocess.run(["rm", "-rf", str(source), str(destination)], check=True)


def test_an_unexpected_error_exits_2_with_a_message_not_1(tmp_path: Path) -> None:
    """A bug in the checks (any exception) exits 2 with one line naming it, never 1 (which says the trees differ)."""
    source = tmp_path / "a"
    source.mkdir()
    script = (
        "import importlib.machinery, importlib.util, sys\n"
        f"loader = importlib.machinery.SourceFileLoader('digest', {str(DIGEST)!r})\n"
        "module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))\n"
        "loader.exec_module(module)\n"
        "def broken(*args, **kwargs):\n"
        "    raise KeyError('boom')\n"
        "module.compare = broken\n"
        "sys.exit(module.main(sys.argv))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "verify", str(source), str(source), str(tmp_path / "m")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("the check failed (KeyError: 'boom')"), done.stderr
    assert "Traceback" not in done.stderr


def test_verifier_tells_apart_names_that_print_alike_and_sees_hard_links(tmp_path: Path) -> None:
    """U+0085 and a lone byte 0x85 are different names; a hard link split in the destination is a difference."""
    source, destination, manifest = tmp_path / "a", tmp_path / "b", tmp_path / "m"
    source.mkdir()
    destination.mkdir()
    (source / os.fsdecode(b"\x85")).write_bytes(b"z")
    (destination / os.fsdecode(b"\xc2\x85")).write_bytes(b"z")
    done = _digest(source, destination, manifest)
    assert done.returncode == 1
    assert "missing from the destination: \\x85" in done.stdout, done.stdout
    (destination / os.fsdecode(b"\xc2\x85")).unlink()
    (destination / os.fsdecode(b"\x85")).write_bytes(b"z")
    for root in (source, destination):
        (root / "one").write_bytes(b"same")
    os.link(source / "one", source / "two")
    (destination / "two").write_bytes(b"same")  # same bytes, but no longer the same file
    done = _digest(source, destination, manifest)
    assert done.returncode == 1
    assert "hard link differs: two" in done.stdout, done.stdout


def test_guard_lets_a_copy_continue_only_over_its_own_last_verified_tree(tmp_path: Path) -> None:
    """Empty (lost+found aside) or as last verified: go on; anything written since: stop, naming it and counting all."""
    source, destination, manifest = tmp_path / "a", tmp_path / "b", tmp_path / "m"
    (source / "d").mkdir(parents=True)
    (source / "d" / "f").write_bytes(b"data")
    (source / "lost+found").mkdir()  # the legacy volume's own, never copied nor compared
    (destination / "lost+found").mkdir(parents=True)

    def guard() -> subprocess.CompletedProcess[str]:
        return _run("guard", str(source), str(destination), str(manifest))

    assert guard().stdout.strip() == "empty"
    (destination / "d").mkdir()
    (destination / "d" / "f").write_bytes(b"data")
    assert _digest(source, destination, manifest).returncode == 0
    assert not Path(f"{manifest}.in-progress").exists(), "a verified copy clears the role's own marker"
    assert guard().stdout.strip() == "as last verified"
    assert _digest(source, destination, manifest).returncode == 0, "the copy the guard let go on verifies"
    for k in range(200):
        (destination / "d" / f"e{k:03d}").write_bytes(b"written by the application after the switch")
    refused = guard()
    assert refused.returncode == 1
    assert refused.stdout.startswith("200 difference(s)"), refused.stdout[:200]
    assert refused.stdout.count("added:") == 50, "the first 50 are shown"
    assert "... and 150 more" in refused.stdout


def test_guard_resumes_only_its_own_unfinished_copy_of_the_same_source(tmp_path: Path) -> None:
    """A copy cut short is resumed; a destination last verified from another source is refused."""
    source, other, destination, manifest = tmp_path / "a", tmp_path / "x", tmp_path / "b", tmp_path / "m"
    for root in (source, other, destination):
        root.mkdir()
    (source / "f").write_bytes(b"data")
    (other / "f").write_bytes(b"other")
    assert _run("guard", str(source), str(destination), str(manifest)).stdout.strip() == "empty"
    _rsync(source, destination, manifest)
    (destination / "f").write_bytes(b"da")  # as rsync renames it into place, then killed before the verify
    assert _run("guard", str(source), str(destination), str(manifest)).stdout.strip() == "resuming the unfinished copy"
    refused = _run("guard", str(other), str(destination), str(manifest))
    assert refused.returncode == 1, "another source's copy may not resume into this destination"
    (destination / "f").write_bytes(b"data")
    assert _digest(source, destination, manifest).returncode == 0
    refused = _run("guard", str(other), str(destination), str(manifest))
    assert refused.returncode == 1
    assert "last verified as a copy of something else" in refused.stdout


def test_guard_refuses_a_copy_whose_name_holds_another_copy_s_evidence(tmp_path: Path) -> None:
    """Names are unique within one copy list only: a second list (a copy added to a wave) that reuses a name for
    another volume, into an empty destination, is refused before anything is written, naming the copy the evidence
    records, whether that copy was verified (its manifest) or cut short (its marker); the evidence stays as it was."""
    planned, added = (tmp_path / "old" / "a", tmp_path / "new" / "a"), (tmp_path / "old" / "x", tmp_path / "new" / "x")
    manifest = tmp_path / "evidence" / "sys-a.sha256"
    manifest.parent.mkdir()
    for root in (*planned, *added):
        root.mkdir(parents=True)
    (planned[0] / "f").write_bytes(b"planned")
    (added[0] / "g").write_bytes(b"added")
    assert _run("guard", str(planned[0]), str(planned[1]), str(manifest)).stdout.strip() == "empty"
    marker = Path(f"{manifest}.in-progress")
    cut_short = marker.read_bytes()
    refused = _run("guard", str(added[0]), str(added[1]), str(manifest))
    assert refused.returncode == 1, refused.stdout
    assert f"{marker} records another copy under this copy's name (source={planned[0]} destination={planned[1]})" in (
        refused.stdout
    )
    assert marker.read_bytes() == cut_short, "the planned copy's unfinished copy is still its own"
    _rsync(*planned, manifest)
    assert _digest(*planned, manifest).returncode == 0
    evidence = manifest.read_bytes()
    for extra in ((), ("--check",), ("--repair",)):
        refused = _run("guard", str(added[0]), str(added[1]), str(manifest), *extra)
        assert refused.returncode == 1, f"{extra}: {refused.stdout}"
        assert f"{manifest} records another copy under this copy's name (source={planned[0]} " in refused.stdout
        assert "give this copy a name no other copy of the wave uses" in refused.stdout
    assert manifest.read_bytes() == evidence, "the planned copy's evidence is kept"
    assert not marker.exists(), "no marker of the refused copy"
    assert list(added[1].iterdir()) == []
    assert _run("guard", str(planned[0]), str(planned[1]), str(manifest)).stdout.strip() == "as last verified"


def test_copy_list_refuses_nesting_across_entries_symlinks_and_unmounted_folders(tmp_path: Path) -> None:
    """A destination inside another copy's source, `//` and `/.` tricks, symlinked roots, `/`, a missing source,
    evidence kept inside a source, and plain folders where volumes should be mounted."""
    (tmp_path / "old" / "a").mkdir(parents=True)
    (tmp_path / "old" / "b").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(tmp_path / "old" / "a")
    copies = [
        {"name": "a", "source": f"{tmp_path}/old/a", "destination": f"/{tmp_path}/new/a"},
        {"name": "b", "source": f"{tmp_path}/old/b", "destination": f"{tmp_path}/old/a/../a/inner"},
        {"name": "c", "source": f"{tmp_path}/alias/.", "destination": "/"},
        {"name": "d", "source": f"{tmp_path}/gone", "destination": f"{tmp_path}/new/d"},
    ]
    listed = tmp_path / "copies.json"
    listed.write_text(json.dumps(copies), encoding="utf-8")
    done = _run("copies", str(listed), f"{tmp_path}/old/b/.evidence", "--no-mounts")
    assert done.returncode == 1
    assert "a source" in done.stdout
    assert "b destination" in done.stdout
    assert "inside one another" in done.stdout
    assert "c: source" in done.stdout
    assert "is a symlink" in done.stdout
    assert "is the root folder" in done.stdout
    assert "d: source" in done.stdout
    assert "is not a folder" in done.stdout
    assert "the evidence folder" in done.stdout
    mounted = _run("copies", str(listed), str(tmp_path / "evidence"))
    assert "is not a mount point (is the volume mounted?)" in mounted.stdout


def test_a_copy_s_own_problem_refuses_it_alone_on_a_last_line_no_problem_line_begins_like(tmp_path: Path) -> None:
    """A copy whose source is gone is refused alone (exit 0), named on the last line, which the role reads as the
    failed copies: a copy named `refused` says `refused: source ... is not a folder`, and that is no such line."""
    (tmp_path / "old" / "a").mkdir(parents=True)
    copies = [
        {"name": "refused", "source": f"{tmp_path}/gone", "destination": f"{tmp_path}/new/refused"},
        {"name": "a", "source": f"{tmp_path}/old/a", "destination": f"{tmp_path}/new/a"},
    ]
    listed = tmp_path / "copies.json"
    listed.write_text(json.dumps(copies), encoding="utf-8")
    done = _run("copies", str(listed), str(tmp_path / "evidence"), "--no-mounts")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"refused: source {tmp_path}/gone is not a folder"), lines
    assert [line for line in lines if line.startswith("refused copies: ")] == ["refused copies: refused"], lines
    assert lines[-1] == "refused copies: refused", "the refused copies end the output"


def _digest_module(monkeypatch: pytest.MonkeyPatch, *, settled: bool = True) -> Any:
    """dizuo-tree-digest loaded in this process, to count the files it reads. ``settled``: files written just now
    count as older than the flush before the walk, and small files are kept too (the test trees are small)."""
    loader = importlib.machinery.SourceFileLoader("dizuo_tree_digest", str(DIGEST))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    if settled:
        monkeypatch.setattr(module, "RACY_SECONDS", 0)
        monkeypatch.setattr(module, "CACHE_MIN_SIZE", 0)
    return module


def _counting(module: Any, monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    reads: list[bytes] = []
    original = module.sha256

    def sha256(path: bytes) -> Any:
        reads.append(path)
        return original(path)

    monkeypatch.setattr(module, "sha256", sha256)
    return reads


def _trees(tmp_path: Path, files: int = 5, size: int = 4096) -> tuple[Path, Path, Path]:
    source, destination, manifest = tmp_path / "a", tmp_path / "b", tmp_path / "m.sha256"
    for root in (source, destination):
        (root / "d").mkdir(parents=True)
        for k in range(files):
            (root / "d" / f"f{k}").write_bytes(bytes([k]) * size)
    return source, destination, manifest


def test_a_rerun_reads_only_what_changed_even_under_a_restored_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file whose inode, size, mtime and ctime are unchanged since it was hashed keeps its hash; a byte flipped
    with size and mtime put back (what rsync's quick check misses) moves the ctime: that file is read, and found."""
    module = _digest_module(monkeypatch)
    reads = _counting(module, monkeypatch)
    source, destination, manifest = _trees(tmp_path)
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert len(reads) == 10
    reads.clear()
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert reads == [], "nothing changed: nothing read"
    assert module.guard(str(source), str(destination), str(manifest), check=True) == 0
    assert reads == []
    damaged = destination / "d" / "f3"
    st = damaged.stat()
    damaged.write_bytes(b"\xff" + bytes([3]) * 4095)
    os.utime(damaged, ns=(st.st_atime_ns, st.st_mtime_ns))
    capsys.readouterr()
    assert module.guard(str(source), str(destination), str(manifest)) == 1
    assert reads == [os.fsencode(damaged)]
    assert "d/f3" in capsys.readouterr().out
    reads.clear()
    assert module.verify(str(source), str(destination), str(manifest)) == 1
    assert reads == [os.fsencode(damaged)]
    assert "content differs: d/f3" in capsys.readouterr().out


def test_a_write_through_a_mapping_kept_open_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A process keeps a destination file mapped and writes to it before and after a verify. A write to a page that
    is already dirty does not move the ctime; verify flushes before it walks, so the page was clean when hashed and
    the write after it moves the ctime: the guard reads the file again and finds the change."""
    module = _digest_module(monkeypatch)
    source, destination, manifest = _trees(tmp_path)
    written = destination / "d" / "f3"
    with written.open("r+b") as handle, mmap.mmap(handle.fileno(), 0) as mapped:
        mapped[0] = 3  # dirties the page, content unchanged
        time.sleep(0.05)
        assert module.verify(str(source), str(destination), str(manifest)) == 0
        time.sleep(0.05)
        mapped[1] = 0xFF
        capsys.readouterr()
        assert module.guard(str(source), str(destination), str(manifest)) == 1
    assert "d/f3" in capsys.readouterr().out


def test_a_file_changed_within_the_clock_tick_of_the_flush_and_small_files_are_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write in the same timestamp tick as the flush before the walk would not move the ctime: files changed that
    recently keep no hash; nor do files under CACHE_MIN_SIZE."""
    module = _digest_module(monkeypatch, settled=False)
    reads = _counting(module, monkeypatch)
    source, destination, manifest = _trees(tmp_path, size=module.CACHE_MIN_SIZE)
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    reads.clear()
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert len(reads) == 10, "written less than RACY_SECONDS before the first check: read again"
    monkeypatch.setattr(module, "RACY_SECONDS", 0)
    small = tmp_path / "small"
    small_trees = _trees(small, size=module.CACHE_MIN_SIZE - 1)
    for _ in range(2):
        reads.clear()
        assert module.verify(*(str(x) for x in small_trees)) == 0
        assert len(reads) == 10, "small files are always read"


def test_reread_a_damaged_or_another_copys_cache_read_every_byte(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--reread ignores the kept hashes; so does a cache that is damaged or was kept for another source."""
    module = _digest_module(monkeypatch)
    reads = _counting(module, monkeypatch)
    source, destination, manifest = _trees(tmp_path)
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    caches = [Path(f"{manifest}.{tree}.stat") for tree in ("source", "destination")]
    kept = [cache.read_text(encoding="utf-8") for cache in caches]
    reads.clear()
    assert module.verify(str(source), str(destination), str(manifest), reread=True) == 0
    assert len(reads) == 10
    for cache, text in zip(caches, kept, strict=True):
        cache.write_text(text.replace(" ", "  x ", 3), encoding="utf-8")
    reads.clear()
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert len(reads) == 10, "a damaged cache only costs a full read"
    for cache, text in zip(caches, kept, strict=True):
        cache.write_text(text.replace(str(source), str(tmp_path / "other"), 1), encoding="utf-8")
    reads.clear()
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert len(reads) == 10, "kept for another copy"


def test_a_cache_that_cannot_be_written_fails_nothing_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The evidence folder full when the hashes are kept: the manifest is written, verify succeeds, no partial file
    stays, and stderr says the hashes were not kept."""
    module = _digest_module(monkeypatch)
    source, destination, manifest = _trees(tmp_path)
    original = module.show

    def full(raw: bytes) -> str:
        if raw.endswith(b"f2"):
            raise OSError(28, "No space left on device")
        return original(raw)

    monkeypatch.setattr(module, "show", full)
    monkeypatch.setattr(
        module, "line", lambda parts, d: "  ".join([d[0], " ".join(d[1:]), original(b"/".join(parts)) or "."])
    )
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "written"
    assert "the file hashes are not kept for the next run: [Errno 28] No space left on device" in captured.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "m.sha256"]


def test_the_checks_take_reread_and_refuse_other_options(tmp_path: Path) -> None:
    """`verify ... --reread` and `guard ... --reread` run; anything else after the paths is a usage error (2)."""
    source, destination, manifest = _trees(tmp_path, files=1)
    assert _run("verify", str(source), str(destination), str(manifest), "--reread").stdout.strip() == "written"
    assert _run("guard", str(source), str(destination), str(manifest), "--reread").stdout.strip() == "as last verified"
    assert _run("verify", str(source), str(destination), str(manifest), "--rereed").returncode == 2


def test_files_on_tmpfs_are_always_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """On tmpfs a write through a mapping never moves the ctime: its files keep no hash, however settled."""
    shm = Path("/dev/shm")  # noqa: S108 - a tmpfs is what this test needs; its folder is made by mkdtemp
    if not shm.is_dir() or os.statvfs(shm).f_fsid == os.statvfs("/").f_fsid:
        pytest.skip("no tmpfs at /dev/shm")
    module = _digest_module(monkeypatch)
    reads = _counting(module, monkeypatch)
    work = Path(tempfile.mkdtemp(dir=shm))
    try:
        source, destination, manifest = _trees(work)
        for _ in range(2):
            reads.clear()
            assert module.verify(str(source), str(destination), str(manifest)) == 0
            assert len(reads) == 10
    finally:
        shutil.rmtree(work)


def test_only_the_trees_file_systems_are_flushed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stalled device elsewhere cannot hang the check: no global sync; one flush per file system the walk keeps
    hashes on, and none when there is nothing to keep."""
    module = _digest_module(monkeypatch)
    monkeypatch.setattr(module.os, "sync", lambda: pytest.fail("a sync of every file system"))
    flushed: list[str] = []
    original = module.flush_file_system
    monkeypatch.setattr(module, "flush_file_system", lambda path: flushed.append(path) or original(path))
    source, destination, manifest = _trees(tmp_path)
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert len(flushed) == 1, "both trees are on one file system here"
    flushed.clear()
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert flushed == [], "every hash kept: nothing read, nothing to flush"


def test_an_evidence_folder_too_full_for_the_hashes_still_gets_its_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The manifest could not be written beside the growing hashes: the check runs again without keeping them, and
    says so; a tree that cannot be read is not walked twice; a buffer that cannot be written when closed is dropped,
    not raised."""
    module = _digest_module(monkeypatch)
    source, destination, manifest = _trees(tmp_path)
    once = module.verify_once
    calls: list[bool] = []
    failure: list[OSError] = [module.EvidenceWriteError(28, "No space left on device")]

    def full_while_keeping(*args: Any, keep: bool) -> int:
        calls.append(keep)
        if keep:
            raise failure[0]
        return once(*args, keep=keep)

    monkeypatch.setattr(module, "verify_once", full_while_keeping)
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert calls == [True, False]
    assert manifest.exists()
    assert "the manifest did not fit beside the file hashes (No space left on device)" in capsys.readouterr().err
    calls.clear()
    failure[0] = PermissionError(13, "Permission denied", "zz")
    with pytest.raises(PermissionError):
        module.verify(str(source), str(destination), str(manifest))
    assert calls == [True], "a tree read error is said after one walk"
    hashes = module.Hashes(str(manifest), str(source), str(destination), False, True)

    class Full:
        def close(self) -> None:
            raise OSError(28, "No space left on device")

    partials = list(hashes.partial.values())
    hashes.out = {"source": Full(), "destination": Full()}
    hashes.stop_keeping()
    assert not any(Path(p).exists() for p in partials)


def test_kept_hashes_hold_within_one_boot_and_one_mount(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a reboot (a crash can leave synced bytes under the old times) or a remount (a snapshot attached at the
    same device number), every file is read again; so is every file where ctypes or syncfs is missing."""
    module = _digest_module(monkeypatch)
    reads = _counting(module, monkeypatch)
    source, destination, manifest = _trees(tmp_path)
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    reads.clear()
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert reads == []
    devices = module.cacheable_devices()
    monkeypatch.setattr(module, "cacheable_devices", lambda: {dev: mount + 1000 for dev, mount in devices.items()})
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert len(reads) == 10, "mounted again"
    reads.clear()
    monkeypatch.setattr(module, "boot_id", lambda: "another-boot")
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert len(reads) == 10, "booted again"
    monkeypatch.setitem(sys.modules, "ctypes", None)  # a Python built without libffi
    for _ in range(2):
        reads.clear()
        assert module.verify(str(source), str(destination), str(manifest), reread=True) == 0
        assert module.verify(str(source), str(destination), str(manifest)) == 0
        assert len(reads) == 20, "nothing can be flushed: nothing kept"


def test_a_manifest_whose_last_buffer_does_not_fit_is_retried_and_leaves_nothing(tmp_path: Path) -> None:
    """A manifest smaller than Python's write buffer is written only when its file is flushed: a file-size limit
    there is the evidence folder's failure too (retried without hashes, said on stderr), and nothing is left."""
    source, destination, manifest = _trees(tmp_path, files=20)

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))

    done = subprocess.run(
        [sys.executable, str(DIGEST), "verify", str(source), str(destination), str(manifest)],
        capture_output=True, text=True, timeout=60, check=False, preexec_fn=limited,
    )  # fmt: skip
    assert done.returncode == 2, done.stdout + done.stderr
    assert "the manifest did not fit beside the file hashes (File too large)" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


def test_a_resync_that_did_not_verify_is_resumed_not_blamed_on_an_application(tmp_path: Path) -> None:
    """The guard lets a copy continue over its last verified tree and marks it in progress: when that copy does not
    verify (the source was written while rsync ran), the next run resumes it instead of refusing it as foreign."""
    source, destination, manifest = _trees(tmp_path, files=2)
    assert _digest(source, destination, manifest).returncode == 0
    assert _run("guard", str(source), str(destination), str(manifest)).stdout.strip() == "as last verified"
    (source / "d" / "f0").write_bytes(b"what rsync sent")
    _rsync(source, destination, manifest)
    (source / "d" / "f0").write_bytes(b"what the source holds now")  # written again since rsync read it
    assert _digest(source, destination, manifest).returncode == 1
    again = _run("guard", str(source), str(destination), str(manifest))
    assert (again.returncode, again.stdout.strip()) == (0, "resuming the unfinished copy"), again.stdout


def test_the_guard_removes_only_what_the_verified_copy_recorded_and_the_source_lost(tmp_path: Path) -> None:
    """Continuing a verified copy, the guard removes from the destination the files and folders its manifest records
    that the source no longer has; --check says so and removes nothing; a file no manifest records is never removed,
    nor anything when the source is empty (an unmounted volume)."""
    source, destination, manifest = _trees(tmp_path, files=3)
    for root in (source, destination):
        (root / "gone" / "deep").mkdir(parents=True)
        (root / "gone" / "deep" / "x.log").write_bytes(b"log")
        (root / "d" / "link").symlink_to("f0")
    assert _digest(source, destination, manifest).returncode == 0
    shutil.rmtree(source / "gone")
    (source / "d" / "f1").unlink()
    (source / "d" / "link").unlink()
    checked = _run("guard", str(source), str(destination), str(manifest), "--check")
    assert checked.returncode == 0, checked.stdout
    assert "would remove (the source no longer has it): gone/deep/x.log" in checked.stdout
    assert (destination / "gone" / "deep" / "x.log").exists(), "--check removed a file"
    assert not Path(f"{manifest}.in-progress").exists(), "--check wrote the in-progress marker"
    done = _run("guard", str(source), str(destination), str(manifest))
    assert done.returncode == 0, done.stdout
    assert done.stdout.splitlines()[0] == "as last verified"
    assert not (destination / "gone").exists()
    assert not (destination / "d" / "f1").exists()
    assert not (destination / "d" / "link").is_symlink()
    assert sorted(p.name for p in (destination / "d").iterdir()) == ["f0", "f2"]
    assert _digest(source, destination, manifest).returncode == 0
    assert _run("guard", str(source), str(destination), str(manifest)).stdout.strip() == "as last verified"
    (source / "d" / "f8").write_bytes(b"copied by rsync, then deleted from the source")
    _rsync(source, destination, manifest)
    (source / "d" / "f8").unlink()
    (destination / "d" / "f9").write_bytes(b"written by someone else")  # recorded by no manifest, logged by no rsync
    refused = _run("guard", str(source), str(destination), str(manifest))
    assert refused.returncode == 1, refused.stdout
    assert "d/f9" in refused.stdout, refused.stdout
    assert (destination / "d" / "f9").exists(), "a file the role did not copy was removed"
    assert (destination / "d" / "f8").exists(), "a refused guard removed something"
    (destination / "d" / "f9").unlink()
    resumed = _run("guard", str(source), str(destination), str(manifest))
    assert resumed.stdout.splitlines()[0] == "resuming the unfinished copy", resumed.stdout
    assert not (destination / "d" / "f8").exists(), "what the unfinished copy's rsync wrote and the source lost stays"
    assert _digest(source, destination, manifest).returncode == 0
    shutil.rmtree(source / "d")
    refused = _run("guard", str(source), str(destination), str(manifest))
    assert refused.returncode == 1
    assert "is empty and is not a mount point (is its volume mounted?)" in refused.stdout, refused.stdout
    assert not Path(f"{manifest}.in-progress").exists(), "a refused guard marked the copy in progress"
    assert sorted(p.name for p in (destination / "d").iterdir()) == ["f0", "f2"]


def test_a_refusing_guard_names_the_source_s_lost_found_too_in_check_mode_and_out(
    tmp_path: Path,
) -> None:
    """A guard refusing a destination as someone else's still says that the source's lost+found holds what fsck
    recovered (the verify that would say it does not run): one run names every reason the copy fails, not the first;
    so does --check, which writes nothing."""
    source, destination, manifest = _trees(tmp_path, files=1)
    (source / "lost+found").mkdir()
    (source / "lost+found" / "#131074").write_bytes(b"recovered by fsck")
    (destination / "d" / "f0").write_bytes(b"written by the application")
    checked = _run("guard", str(source), str(destination), str(manifest), "--check")
    assert checked.returncode == 1, checked.stdout
    assert "holds data and no verified copy was made into it" in checked.stdout, checked.stdout
    assert "check mode: this copy would fail: " in checked.stdout, checked.stdout
    assert "lost+found holds 1 entry fsck recovered" in checked.stdout, checked.stdout
    assert not Path(f"{manifest}.in-progress").exists(), "--check wrote the in-progress marker"
    refused = _run("guard", str(source), str(destination), str(manifest))
    assert refused.returncode == 1, refused.stdout
    assert "holds data and no verified copy was made into it" in refused.stdout, refused.stdout
    assert "lost+found holds 1 entry fsck recovered" in refused.stdout, refused.stdout
    assert "check mode" not in refused.stdout, refused.stdout
    assert not Path(f"{manifest}.in-progress").exists(), "a refused guard marked the copy in progress"


def test_a_copy_s_run_record_lets_only_its_run_through_and_takes_over_only_a_run_found_gone(tmp_path: Path) -> None:
    """The guard (--begin) records its run beside the copy's lock; another run's guard is refused while the record
    stands, unless that run was found gone (--stale naming exactly it); the rsync and the verify run only for the
    recorded run; check mode records nothing; unlock clears the record of its own run only."""
    lock = tmp_path / "sys-a.sha256.lock"
    record = tmp_path / "sys-a.sha256.lock.run"
    one, two = (
        "pid=101 host=ctl-a at=2026-12-06T20:00:00Z nonce=1",
        "pid=202 host=ctl-b at=2026-12-06T21:00:00Z nonce=2",
    )

    def step(*flags: str) -> subprocess.CompletedProcess[str]:
        return _run("locked", str(lock), *flags, "echo", "the step ran")

    assert step("--check", "--run", one, "--begin").stdout.strip() == "the step ran"
    assert not record.exists(), "check mode recorded the run"
    assert step("--run", one, "--begin").stdout.strip() == "the step ran"
    assert record.read_text(encoding="utf-8") == one + "\n"
    refused = step("--run", two, "--begin")
    assert refused.returncode == 75, refused.stdout
    assert "held by another run of this copy, between two of its steps: ansible-playbook pid 101 on ctl-a" in (
        refused.stdout
    ), refused.stdout
    assert "the step ran" not in refused.stdout
    assert step("--check", "--run", two, "--begin").returncode == 75, "check mode said a held copy would go on"
    slipped = step("--run", two)
    assert (slipped.returncode, "was taken since this run's guard" in slipped.stdout) == (75, True), slipped.stdout
    assert step("--run", one).stdout.strip() == "the step ran"
    assert step("--run", two, "--begin", "--stale", "pid=101 nonce=0").returncode == 75, "took over another record"
    checked = step("--check", "--run", two, "--begin", "--stale", one)
    assert checked.stdout.startswith(f"check mode: would take over {lock} from ansible-playbook pid 101"), (
        checked.stdout
    )
    assert record.read_text(encoding="utf-8") == one + "\n", "check mode took the copy over"
    taken = step("--run", two, "--begin", "--stale", one)
    assert taken.returncode == 0, taken.stdout
    assert taken.stdout.splitlines() == [
        f"taking over {lock} from ansible-playbook pid 101 on ctl-a, started 2026-12-06T20:00:00Z: that run is gone "
        "(its ansible-playbook no longer runs), killed between two steps of this copy",
        "the step ran",
    ]
    assert step("--run", one).returncode == 75, "the run taken over went on"
    _run("unlock", str(lock), one)
    assert record.read_text(encoding="utf-8") == two + "\n", "unlock cleared another run's record"
    _run("unlock", str(lock), two)
    assert not record.exists()


def test_the_controller_tells_a_run_that_ended_from_a_running_one_and_from_another_controller_s() -> None:
    """run-gone: a run of this controller whose ansible-playbook ended (or whose pid now names a later process) is
    gone, a running one is alive; a run of another machine is unknown (never taken over), one of an earlier boot of
    this machine is gone."""
    module = _digest_module(pytest.MonkeyPatch())
    here = module.controller()
    if "?" in here.values():
        pytest.skip(f"this machine does not tell its controller identity: {here}")

    def record(pid: int, start: str, **fields: str) -> str:
        names = {**here, **fields}
        return f"pid={pid} start={start} machine={names['machine']} boot={names['boot']} pidns={names['pidns']}"

    with subprocess.Popen(["sleep", "60"]) as running:
        start = module.process(running.pid)[1]
        assert _run("run-gone", record(running.pid, start)).stdout.strip() == "alive"
        assert _run("run-gone", record(running.pid, str(int(start) - 1))).stdout.strip() == "gone", "a reused pid"
        assert _run("run-gone", record(running.pid, start, machine="0" * 32)).stdout.strip() == "unknown"
        assert _run("run-gone", record(running.pid, start, boot="an-earlier-boot")).stdout.strip() == "gone"
        running.kill()
    assert _run("run-gone", record(running.pid, start)).stdout.strip() == "gone"


@contextlib.contextmanager
def _mounted_tmpfs(at: Path) -> Iterator[Path]:
    """A fresh tmpfs mounted at `at` for the block that the kernel tells apart from another (its f_fsid)."""
    with mounted_tmpfs(at):
        if not os.statvfs(at).f_fsid:
            pytest.skip("this kernel gives tmpfs no f_fsid: two tmpfs mounts cannot be told apart")
        yield at


def test_an_unfinished_copy_is_not_resumed_into_another_volume_mounted_in_its_place(tmp_path: Path) -> None:
    """A copy marked in progress is resumed only on the file system it went into: another volume mounted at the
    destination since (after a crash, a remount of the wrong disk) holding data is refused and keeps its data; an
    empty one is a fresh start."""
    source, destination, manifest = _trees(tmp_path, files=2)
    shutil.rmtree(destination)
    destination.mkdir()
    with _mounted_tmpfs(destination):
        assert _run("guard", str(source), str(destination), str(manifest)).stdout.strip() == "empty"
        assert Path(f"{manifest}.in-progress").read_text().splitlines()[1].startswith("filesystem fsid=")
        _rsync(source, destination, manifest)  # then killed before the verify
        resumed = _run("guard", str(source), str(destination), str(manifest))
        assert resumed.stdout.strip() == "resuming the unfinished copy", resumed.stdout
    with _mounted_tmpfs(destination):
        (destination / "ledger.db").write_bytes(b"another system's data")
        refused = _run("guard", str(source), str(destination), str(manifest))
        assert refused.returncode == 1, refused.stdout
        assert "was into another file system" in refused.stdout, refused.stdout
        assert "holds data and no verified copy was made into it" in refused.stdout, refused.stdout
        assert (destination / "ledger.db").read_bytes() == b"another system's data"
        (destination / "ledger.db").unlink()
        fresh = _run("guard", str(source), str(destination), str(manifest))
        assert fresh.stdout.splitlines()[-1] == "empty", fresh.stdout


def test_file_system_identities_are_compared_by_the_names_both_records_hold() -> None:
    """Two records of a file system's identity name the same one when their UUIDs agree, else their f_fsid; a record
    of another form (udev's UUID link there once, not the other time) is never taken for another file system."""
    module = _digest_module(pytest.MonkeyPatch())
    assert module.same_filesystem("uuid=a1", "uuid=a1 fsid=7") is True
    assert module.same_filesystem("fsid=7", "uuid=a1 fsid=7") is True
    assert module.same_filesystem("uuid=a1 fsid=7", "uuid=b2 fsid=7") is False, "two volumes, one device number"
    assert module.same_filesystem("uuid=a1 fsid=7", "uuid=a1 fsid=8") is True, "a device renumbered after a reboot"
    assert module.same_filesystem("fsid=7", "uuid=a1 fsid=8") is False
    assert module.same_filesystem("uuid=a1", "fsid=7") is None
    assert module.same_filesystem("", "uuid=a1 fsid=7") is None


def test_udev_s_uuid_link_appearing_or_going_does_not_make_a_copy_s_volumes_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy verified while /dev/disk/by-uuid had no link for its volumes (udev not settled, a container) is
    continued once the link is there, and an unfinished copy marked with the link is resumed once it is gone: the
    form of the volume's name changed, the volume did not (neither is refused as "another file system")."""
    module = _digest_module(monkeypatch)
    source, destination, manifest = _trees(tmp_path / "trees", files=1)
    if not os.statvfs(source).f_fsid:
        pytest.skip("this file system has no f_fsid: the record without udev's link would be empty")
    links = tmp_path / "by-uuid"
    links.mkdir()
    monkeypatch.setattr(module, "BY_UUID", str(links))
    assert module.verify(str(source), str(destination), str(manifest)) == 0
    assert manifest.read_text(encoding="utf-8").splitlines()[1].startswith("# source filesystem fsid=")
    os.mknod(links / "0b3c1f52-7e4a-4d7e-9a51-2f3e8c1d6a90", stat.S_IFBLK | 0o600, source.stat().st_dev)
    (source / "d" / "late").write_bytes(b"written after the first pass")
    assert module.guard(str(source), str(destination), str(manifest)) == 0, "the source taken for another volume"
    marker = Path(f"{manifest}.in-progress").read_text(encoding="utf-8")
    assert "filesystem uuid=0b3c1f52-7e4a-4d7e-9a51-2f3e8c1d6a90 fsid=" in marker, marker
    (links / "0b3c1f52-7e4a-4d7e-9a51-2f3e8c1d6a90").unlink()
    _rsync(source, destination, manifest)  # then killed before the verify
    assert module.guard(str(source), str(destination), str(manifest)) == 0, "the unfinished copy was not resumed"
    assert module.verify(str(source), str(destination), str(manifest)) == 0


@contextlib.contextmanager
def _verified_from_a_mounted_source(tmp_path: Path) -> Iterator[tuple[Path, Path, Path]]:
    """A copy verified from a source that is a mounted volume (a tmpfs, unmounted on the way out)."""
    source, destination, manifest = _trees(tmp_path, files=2)
    shutil.rmtree(source)
    source.mkdir()
    with _mounted_tmpfs(source):
        shutil.copytree(destination / "d", source / "d")
        destination.chmod(source.stat().st_mode & 0o7777)  # a tmpfs root's 1777, as rsync gives it
        assert _digest(source, destination, manifest).returncode == 0
        yield source, destination, manifest


def test_a_mounted_source_that_was_emptied_is_copied_as_empty_not_refused(tmp_path: Path) -> None:
    """A drained spool: the source is a mounted volume that now holds nothing. The guard takes it as is (an empty
    folder that is not a mount point is what an unmounted volume looks like, a mount point is not), removes the
    verified copy's files and the copy verifies."""
    with _verified_from_a_mounted_source(tmp_path) as (source, destination, manifest):
        shutil.rmtree(source / "d")
        done = _run("guard", str(source), str(destination), str(manifest))
        assert done.returncode == 0, done.stdout
        assert "removed (the source no longer has it): d/f0" in done.stdout, done.stdout
        assert _digest(source, destination, manifest).returncode == 0
        assert not any(destination.iterdir())


def test_another_volume_mounted_at_the_source_is_neither_pruned_against_nor_copied(tmp_path: Path) -> None:
    """Two legacy mounts swapped: the volume now at a copy's source is not the one its verified copy was made from.
    The guard refuses, naming both file systems, and removes nothing of the verified copy; the marker is not written."""
    with _verified_from_a_mounted_source(tmp_path) as (source, destination, manifest):
        pass
    with _mounted_tmpfs(source):
        (source / "other-system.db").write_bytes(b"another system's data")
        refused = _run("guard", str(source), str(destination), str(manifest))
        assert refused.returncode == 1, refused.stdout
        assert "is on another file system" in refused.stdout, refused.stdout
        assert "two mounts swapped?" in refused.stdout, refused.stdout
        assert sorted(p.name for p in (destination / "d").iterdir()) == ["f0", "f1"], "the verified copy was pruned"
        assert not Path(f"{manifest}.in-progress").exists()
